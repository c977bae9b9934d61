import assert from "node:assert/strict";
import { editDistance, formatPath, preview, suggest } from "./problems.ts";

Deno.test("formatPath() uses dots for keys and brackets for indices and odd keys", () => {
  assert.equal(formatPath([]), "");
  assert.equal(formatPath(["services", 2, "restart_policy"]), "services[2].restart_policy");
  assert.equal(formatPath(["defaults", "backoff", "initial"]), "defaults.backoff.initial");
  assert.equal(formatPath(["services", 0, "env", "my var"]), 'services[0].env["my var"]');
  assert.equal(formatPath(["health_checks", "a.b"]), 'health_checks["a.b"]');
});

Deno.test("preview() quotes values as JSON and cuts them to about 60 characters", () => {
  assert.equal(preview("sometimes"), '"sometimes"');
  assert.equal(preview(42), "42");
  assert.equal(preview(null), "null");
  assert.equal(preview(Infinity), "Infinity");
  assert.equal(preview({ a: [1, "x"] }), '{"a":[1,"x"]}');
  assert.equal(preview("x".repeat(100)), `"${"x".repeat(59)}…`);
  assert.equal(preview(new Set([1])), "Set");
  const cycle: unknown[] = [];
  cycle.push(cycle);
  assert.equal(preview(cycle).length, 61);
});

Deno.test("suggest() finds the nearest key only when it is close", () => {
  const keys = ["name", "cmd", "args", "restart_policy", "working_dir"];
  assert.equal(suggest("restart_polcy", keys), "restart_policy");
  assert.equal(suggest("restart-policy", keys), "restart_policy");
  assert.equal(suggest("Name", keys), "name");
  assert.equal(suggest("workdir", keys), undefined);
  assert.equal(suggest("zzzz", keys), undefined);
});

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("same", "same"), 0);
});
