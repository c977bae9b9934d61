import assert from "node:assert/strict";
import { parseRegistry } from "../registry/load.ts";
import { deepEqual, describeDiff, diffRegistries } from "./reload.ts";

const load = (doc: unknown) => parseRegistry(JSON.stringify(doc), { env: {} });

Deno.test("diffRegistries() sorts services into added, removed, changed and untouched", () => {
  const before = load({
    services: [
      { name: "a", cmd: "a" },
      { name: "b", cmd: "b" },
      { name: "c", cmd: "c" },
    ],
  });
  const after = load({
    services: [
      { name: "d", cmd: "d" },
      { name: "b", cmd: "b", args: ["--new"] },
      { name: "a", cmd: "a", autostart: true, args: [] },
    ],
  });
  assert.deepEqual(diffRegistries(before, after), {
    added: ["d"],
    removed: ["c"],
    changed: ["b"],
    untouched: ["a"],
  });
});

Deno.test("diffRegistries() compares after defaults: a changed default changes the service", () => {
  const before = load({ defaults: { stop_timeout: 5 }, services: [{ name: "a", cmd: "a" }] });
  const same = load({ services: [{ name: "a", cmd: "a", stop_timeout: 5 }] });
  const other = load({ defaults: { stop_timeout: 6 }, services: [{ name: "a", cmd: "a" }] });
  assert.deepEqual(diffRegistries(before, same).untouched, ["a"]);
  assert.deepEqual(diffRegistries(before, other).changed, ["a"]);
});

Deno.test("diffRegistries() sees a change of a named health check", () => {
  const doc = (port: number) => ({
    health_checks: { h: { type: "tcp", port } },
    services: [{ name: "a", cmd: "a", health_check: "h" }, { name: "b", cmd: "b" }],
  });
  const diff = diffRegistries(load(doc(1)), load(doc(2)));
  assert.deepEqual(diff.changed, ["a"]);
  assert.deepEqual(diff.untouched, ["b"]);
});

Deno.test("diffRegistries() sees a change of a named check used through readiness or liveness", () => {
  const doc = (ready: number, live: number) => ({
    health_checks: {
      ready: { type: "tcp", port: ready },
      live: { type: "http", port: live, path: "/health" },
    },
    services: [
      { name: "web", cmd: "web", readiness: "ready" },
      { name: "api", cmd: "api", liveness: "live" },
      { name: "other", cmd: "other" },
    ],
  });
  assert.deepEqual(diffRegistries(load(doc(1, 2)), load(doc(1, 2))).untouched, [
    "web",
    "api",
    "other",
  ]);
  assert.deepEqual(diffRegistries(load(doc(1, 2)), load(doc(3, 2))), {
    added: [],
    removed: [],
    changed: ["web"],
    untouched: ["api", "other"],
  });
  assert.deepEqual(diffRegistries(load(doc(1, 2)), load(doc(1, 4))).changed, ["api"]);
});

Deno.test("diffRegistries() sees a new definition of a check that was checked as the port", () => {
  const omegaos = load({
    services: [{ name: "m", cmd: "m", port: 8081, health_check: "m_check" }],
  });
  const defined = load({
    health_checks: { m_check: { type: "http", port: 8081 } },
    services: [{ name: "m", cmd: "m", port: 8081, health_check: "m_check" }],
  });
  assert.deepEqual(diffRegistries(omegaos, omegaos).untouched, ["m"]);
  assert.deepEqual(diffRegistries(omegaos, defined).changed, ["m"]);
});

Deno.test("deepEqual() ignores key order and undefined keys", () => {
  assert.ok(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(deepEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!deepEqual([1, 2], [2, 1]));
  assert.ok(!deepEqual({ a: 1 }, { a: "1" }));
  assert.ok(!deepEqual([], {}));
  assert.ok(!deepEqual(null, {}));
});

Deno.test("describeDiff() gives one line", () => {
  assert.equal(
    describeDiff({ added: ["d"], removed: ["c"], changed: ["a", "b"], untouched: ["e"] }),
    "added d; removed c; changed a, b; 1 untouched",
  );
  assert.equal(describeDiff({ added: [], removed: [], changed: [], untouched: [] }), "0 untouched");
});
