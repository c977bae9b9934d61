import assert from "node:assert/strict";
import { waitFor } from "../../tests/harness.ts";
import {
  NO_CHECK,
  NOT_CHECKED,
  NOT_RUNNING,
  resolveChecks,
  ServiceHealth,
} from "./health_runner.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("ServiceHealth reports ready as soon as a log line is seen, and no check without one", async () => {
  const ready: string[] = [];
  const health = new ServiceHealth(
    resolveChecks({ readiness: { type: "log", pattern: "up", interval: 60 } }, {}),
    { ready: (m) => ready.push(m), unhealthy: () => assert.fail("no liveness check") },
  );
  assert.equal(health.hasReadiness, true);
  assert.equal(health.info().message, NOT_CHECKED);
  health.begin();
  const sink = health.tap("stdout", { write: () => Promise.resolve() });
  await sink.write(encode("server up\n"));
  await waitFor(() => ready.length > 0, { timeoutMs: 2000, message: "ready" });
  assert.deepEqual(ready, ['seen "server up"']);
  assert.equal(health.info().healthy, true);
  // The end of the process leaves the last verdict; a requested stop makes it unknown.
  health.end();
  assert.equal(health.info().state, "healthy");
  health.clear();
  assert.equal(health.info().state, "unknown");
  assert.equal(health.info().message, NOT_RUNNING);
  const none = new ServiceHealth({}, { ready() {}, unhealthy() {} });
  assert.equal(none.info().message, NO_CHECK);
  none.clear();
  assert.equal(none.info().message, NO_CHECK);
  assert.deepEqual((await none.detail(true)).history, []);
});

Deno.test("ServiceHealth stays unhealthy across runs until a check of a new run passes", async () => {
  const changes: string[] = [];
  const failures: string[] = [];
  // A log check fails until its pattern is seen in the run.
  const health = new ServiceHealth(
    resolveChecks({
      liveness: { type: "log", pattern: "alive", interval: 0.02, failure_threshold: 2 },
    }, {}),
    {
      ready: () => {},
      unhealthy: (reason) => failures.push(reason),
      changed: (role, from, to, message) => changes.push(`${role} ${from}->${to} ${message}`),
    },
  );
  try {
    health.begin();
    await waitFor(() => failures.length > 0, { message: "the liveness check to fail" });
    const failed = health.info();
    assert.equal(failed.state, "unhealthy");
    assert.equal(failed.healthy, false);
    assert.equal(failed.consecutive_failures, 2);
    const message = failed.message;
    // The process ends and a new one begins: still unhealthy, with the failed check's message.
    health.end();
    assert.deepEqual(health.info(), failed);
    health.begin();
    assert.equal(health.info().state, "unhealthy");
    // The first check of the new run fails too (below its threshold): unhealthy all the same.
    await waitFor(() => health.info().consecutive_failures! >= 3, { message: "a third failure" });
    assert.equal(health.info().state, "unhealthy");
    assert.equal(health.info().message, message);
    // A check of the new run passes: healthy.
    const sink = health.tap("stdout", { write: () => Promise.resolve() });
    await sink.write(encode("alive\n"));
    await waitFor(() => health.info().state === "healthy", { message: "healthy" });
    assert.equal(health.info().consecutive_failures, 0);
    assert.deepEqual(changes, [
      `liveness unknown->unhealthy ${message}`,
      'liveness unhealthy->healthy seen "alive"',
    ]);
  } finally {
    health.close();
  }
});
