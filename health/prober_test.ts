import * as assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { Prober } from "./prober.ts";
import { type CheckResult, checkTiming, type HealthState } from "./types.ts";

function setup(results: boolean[], timing = {}) {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "Date"],
  });
  let calls = 0;
  const changes: [HealthState, HealthState][] = [];
  const prober = new Prober({
    check: () => {
      const ok = results[calls] ?? results.at(-1) ?? true;
      calls++;
      return Promise.resolve({ ok, message: ok ? "fine" : `bad ${calls}` });
    },
    timing: checkTiming({ interval: 1, ...timing }),
    historySize: 3,
    onChange: (to, from) => changes.push([from, to]),
  });
  return { clock, prober, changes, calls: () => calls };
}

Deno.test("Prober counts thresholds exactly", async () => {
  const { clock, prober, changes, calls } = setup(
    [true, false, false, true, false, false, false, true, true],
    { success_threshold: 2, failure_threshold: 3, initial_delay: 5 },
  );
  try {
    prober.start();
    await clock.tickAsync(4999);
    assert.equal(calls(), 0, "nothing before initial_delay");
    await clock.tickAsync(1);
    assert.equal(calls(), 1);
    assert.equal(prober.state, "unknown", "one success of two");
    await clock.tickAsync(2000); // false, false
    assert.equal(prober.consecutiveFailures, 2);
    assert.equal(prober.state, "unknown", "two failures of three");
    await clock.tickAsync(1000); // true
    assert.equal(prober.consecutiveFailures, 0);
    await clock.tickAsync(2000); // false, false
    assert.equal(prober.state, "unknown");
    await clock.tickAsync(1000); // third false
    assert.equal(prober.state, "unhealthy");
    assert.equal(prober.consecutiveFailures, 3);
    assert.equal(prober.message, "bad 7");
    await clock.tickAsync(1000); // true
    assert.equal(prober.state, "unhealthy", "one success of two");
    await clock.tickAsync(1000); // true
    assert.equal(prober.state, "healthy");
    assert.deepEqual(changes, [["unknown", "unhealthy"], ["unhealthy", "healthy"]]);
    assert.deepEqual(prober.history.map((h) => h.ok), [true, true, false], "newest first, 3 kept");
    assert.equal(prober.lastCheckedMs, Date.now());
  } finally {
    prober.stop();
    clock.uninstall();
  }
});

Deno.test("Prober never overlaps checks and aborts one at its timeout", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "Date"],
  });
  let active = 0;
  let most = 0;
  let aborted = 0;
  const prober = new Prober({
    check: (signal) =>
      new Promise<CheckResult>((resolve) => {
        active++;
        most = Math.max(most, active);
        signal.addEventListener("abort", () => {
          aborted++;
          active--;
          resolve({ ok: true, message: "too late" });
        });
      }),
    timing: checkTiming({ interval: 1, timeout: 3, failure_threshold: 2 }),
  });
  try {
    prober.start();
    await clock.tickAsync(0);
    assert.equal(active, 1);
    await clock.tickAsync(2999);
    assert.equal(prober.consecutiveFailures, 0);
    await clock.tickAsync(1);
    assert.equal(aborted, 1);
    assert.equal(prober.message, "timed out after 3s");
    assert.equal(prober.consecutiveFailures, 1);
    await clock.tickAsync(4000);
    assert.equal(prober.state, "unhealthy");
    assert.equal(most, 1);
  } finally {
    prober.stop();
    clock.uninstall();
  }
});

Deno.test("Prober.stop() ignores a late result; start() resets the counters", async () => {
  const { clock, prober, calls } = setup([false], { failure_threshold: 1 });
  try {
    prober.start();
    await clock.tickAsync(0);
    assert.equal(prober.state, "unhealthy");
    prober.stop("service is not running");
    assert.equal(prober.state, "unknown");
    assert.equal(prober.message, "service is not running");
    await clock.tickAsync(10_000);
    assert.equal(calls(), 1);
    prober.start();
    assert.equal(prober.consecutiveFailures, 0);
    await clock.tickAsync(0);
    assert.equal(calls(), 2);
    const now = await prober.checkNow();
    assert.equal(now.ok, false);
    assert.equal(calls(), 3);
  } finally {
    prober.stop();
    clock.uninstall();
  }
});
