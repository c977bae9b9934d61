import assert from "node:assert/strict";
import { waitFor } from "../../tests/harness.ts";
import { IMPLIED_INTERVAL, NO_CHECK, resolveChecks, ServiceHealth } from "./health_runner.ts";

const named = { web: { type: "http" as const, port: 80 } };

Deno.test("resolveChecks() gives roles: health_check for both, overrides, implied tcp on port", () => {
  const both = resolveChecks({ health_check: "web" }, named);
  assert.equal(both.readiness, named.web);
  assert.equal(both.liveness, both.readiness, "one check plays both roles");
  const file = { type: "file" as const, path: "/tmp/ready" };
  const split = resolveChecks({ health_check: "web", readiness: file }, named);
  assert.equal(split.readiness, file);
  assert.equal(split.liveness, named.web);
  assert.deepEqual(resolveChecks({ port: 8080 }, named), {
    readiness: { type: "tcp", port: 8080, interval: IMPLIED_INTERVAL },
    liveness: { type: "tcp", port: 8080, interval: IMPLIED_INTERVAL },
  });
  assert.deepEqual(resolveChecks({ port: 8080, liveness: file }, named), {
    readiness: undefined,
    liveness: file,
  });
  assert.deepEqual(resolveChecks({}, named), { readiness: undefined, liveness: undefined });
});

Deno.test("ServiceHealth reports ready as soon as a log line is seen, and no check without one", async () => {
  const ready: string[] = [];
  const health = new ServiceHealth(
    resolveChecks({ readiness: { type: "log", pattern: "up", interval: 60 } }, {}),
    { ready: (m) => ready.push(m), unhealthy: () => assert.fail("no liveness check") },
  );
  assert.equal(health.hasReadiness, true);
  health.begin();
  const sink = health.tap("stdout", { write: () => Promise.resolve() });
  await sink.write(new TextEncoder().encode("server up\n"));
  await waitFor(() => ready.length > 0, { timeoutMs: 2000, message: "ready" });
  assert.deepEqual(ready, ['seen "server up"']);
  assert.equal(health.info().healthy, true);
  health.end();
  assert.equal(health.info().state, "unknown");
  assert.equal(health.info().message, "service is not running");
  const none = new ServiceHealth({}, { ready() {}, unhealthy() {} });
  assert.equal(none.info().message, NO_CHECK);
  assert.deepEqual((await none.detail(true)).history, []);
});
