import assert from "node:assert/strict";
import { posix } from "node:path";
import { basename, dirname, isAbsolute, join, normalize, resolve } from "./path.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "a//b",
  "/a/b/",
  "/a/./b/../c",
  "a/../..",
  "../a/./b",
  "/../a",
  "./logs",
  "logs/web.stdout.log",
  "/var/log/edgevisor/",
  "/etc/edgevisor/registry.json",
  "registry/example.json",
  "a/b/../../..",
  "/a//b///c",
];

Deno.test("normalize, dirname, basename and isAbsolute agree with node:path's posix ones", () => {
  for (const path of PATHS) {
    assert.equal(normalize(path), posix.normalize(path), `normalize(${JSON.stringify(path)})`);
    assert.equal(dirname(path), posix.dirname(path), `dirname(${JSON.stringify(path)})`);
    assert.equal(basename(path), posix.basename(path), `basename(${JSON.stringify(path)})`);
    assert.equal(isAbsolute(path), posix.isAbsolute(path), `isAbsolute(${JSON.stringify(path)})`);
  }
});

Deno.test("join and resolve agree with node:path's posix ones", () => {
  for (const a of PATHS) {
    for (const b of ["", "x", "../y", "/abs", "z/"]) {
      assert.equal(
        join(a, b),
        posix.join(a, b),
        `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
      );
      assert.equal(
        resolve(a, b),
        posix.resolve(a, b),
        `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
      );
    }
  }
  assert.equal(join(), posix.join());
  assert.equal(resolve(), posix.resolve());
});
