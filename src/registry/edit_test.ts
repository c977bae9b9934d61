import assert from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { editRegistryFile, editRegistryText } from "./edit.ts";

const TEXT = JSON.stringify({
  $schema: "./schema.json",
  defaults: { stop_timeout: 3 },
  services: [{ name: "a", cmd: "${BIN:-/bin/a}" }, { name: "b", cmd: "b" }],
});
const options = { source: "registry.json", env: {} };

Deno.test("editRegistryText() adds a service with the registry's defaults, keeping the rest as written", () => {
  const { text, registry } = editRegistryText(TEXT, {
    kind: "add",
    service: { name: "c", cmd: "c" },
  }, options);
  const doc = JSON.parse(text);
  assert.equal(doc.$schema, "./schema.json");
  assert.deepEqual(doc.services[0], { name: "a", cmd: "${BIN:-/bin/a}" });
  assert.deepEqual(doc.services[2], { name: "c", cmd: "c" });
  assert.equal(registry.services[2]?.stop_timeout, 3);
  assert.equal(registry.services[0]?.cmd, "/bin/a");
});

Deno.test("editRegistryText() replaces in place and removes", () => {
  const replaced = editRegistryText(TEXT, {
    kind: "replace",
    name: "a",
    service: { name: "a", cmd: "new" },
  }, options);
  assert.deepEqual(replaced.registry.services.map((s) => [s.name, s.cmd]), [["a", "new"], [
    "b",
    "b",
  ]]);
  const removed = editRegistryText(TEXT, { kind: "remove", name: "a" }, options);
  assert.deepEqual(removed.registry.services.map((s) => s.name), ["b"]);
});

Deno.test("editRegistryText() reports every problem of the new service relative to it", () => {
  try {
    editRegistryText(TEXT, {
      kind: "add",
      service: { name: "b", cmd: "", restart_policy: "sometimes" },
    }, options);
    assert.fail("expected a RegistryError");
  } catch (error) {
    assert.ok(error instanceof RegistryError);
    assert.deepEqual(error.problems.map((p) => p.path), ["cmd", "restart_policy", "name"]);
    assert.match(error.problems[2]!.message, /duplicate name "b", first at services\[1\]/);
  }
});

Deno.test("editRegistryFile() writes atomically with a .bak; writes nothing when invalid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/registry.json`;
    await Deno.writeTextFile(path, TEXT);
    await assert.rejects(
      editRegistryFile(path, { kind: "add", service: { name: "x" } }, { env: {} }),
      RegistryError,
    );
    assert.equal(await Deno.readTextFile(path), TEXT);
    const registry = await editRegistryFile(path, { kind: "remove", name: "b" }, { env: {} });
    assert.deepEqual(registry.services.map((s) => s.name), ["a"]);
    assert.equal(await Deno.readTextFile(`${path}.bak`), TEXT);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)).services, [
      { name: "a", cmd: "${BIN:-/bin/a}" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("editRegistryFile() keeps YAML registries in YAML", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/registry.yaml`;
    await Deno.writeTextFile(path, "services:\n  - name: a\n    cmd: a\n");
    await editRegistryFile(path, { kind: "add", service: { name: "b", cmd: "b" } }, { env: {} });
    const text = await Deno.readTextFile(path);
    assert.match(text, /^services:\n {2}- name: a\n/);
    assert.match(text, /- name: b\n {4}cmd: b\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
