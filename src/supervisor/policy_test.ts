import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import {
  decideAfterExit,
  type ExitDecision,
  type ExitStatus,
  FRESH_HISTORY,
  type RestartConfig,
  restartDelayMs,
  type RestartHistory,
} from "./policy.ts";
import { delay } from "./process.ts";

const base: RestartConfig = {
  policy: "always",
  maxRestarts: 3,
  initialMs: 500,
  factor: 2,
  maxMs: 30_000,
  resetAfterMs: 60_000,
  maxCrashes: 5,
  windowMs: 60_000,
  cooldownMs: 30_000,
};
const crash: ExitStatus = { code: 1, signal: null };
const clean: ExitStatus = { code: 0, signal: null };
const killed: ExitStatus = { code: null, signal: "SIGKILL" };
const noJitter = () => 0.5;

/** Feed a sequence of runs (start, end) through decideAfterExit. */
function simulate(
  config: RestartConfig,
  runs: { start: number; end: number; exit?: ExitStatus }[],
): ExitDecision[] {
  let history: RestartHistory = FRESH_HISTORY;
  const out: ExitDecision[] = [];
  for (const run of runs) {
    const r = decideAfterExit({
      config,
      history,
      exit: run.exit ?? crash,
      startedAtMs: run.start,
      nowMs: run.end,
      random: noJitter,
    });
    history = r.decision.action === "cooldown" ? { ...r.history, trial: true } : r.history;
    out.push(r.decision);
  }
  return out;
}

Deno.test("restartDelayMs() doubles up to the cap", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => restartDelayMs(base, n, noJitter));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

Deno.test("restartDelayMs() jitters by at most 10 percent", () => {
  assert.equal(restartDelayMs(base, 1, () => 0), 900);
  assert.equal(restartDelayMs(base, 1, () => 0.999999), 1100);
  for (let i = 0; i < 200; i++) {
    const d = restartDelayMs(base, 2);
    assert.ok(d >= 1800 && d <= 2200, `delay ${d} outside 2000 ± 10%`);
  }
});

Deno.test("restartDelayMs() is 0 with initial 0", () => {
  assert.equal(restartDelayMs({ ...base, initialMs: 0 }, 5, Math.random), 0);
});

Deno.test("decideAfterExit() never restarts under policy never", () => {
  for (const exit of [crash, clean, killed]) {
    const [d] = simulate({ ...base, policy: "never" }, [{ start: 0, end: 10, exit }]);
    assert.equal(d?.action, "exit");
  }
});

Deno.test("decideAfterExit() does not restart a clean exit under on-failure", () => {
  const [d] = simulate({ ...base, policy: "on-failure" }, [{ start: 0, end: 10, exit: clean }]);
  assert.deepEqual(d, { action: "exit", reason: "exited with code 0" });
});

Deno.test("decideAfterExit() restarts on-failure max_restarts times in a row, then fails", () => {
  const config = { ...base, policy: "on-failure" as const, maxCrashes: 100 };
  const runs = [0, 1, 2, 3].map((i) => ({ start: i * 1000, end: i * 1000 + 100, exit: killed }));
  const decisions = simulate(config, runs);
  assert.deepEqual(decisions.map((d) => d.action), ["restart", "restart", "restart", "fail"]);
  assert.equal(
    decisions[3]?.reason,
    "killed by SIGKILL; gave up after 3 restarts (max_restarts 3)",
  );
  assert.deepEqual(
    decisions.slice(0, 3).map((d) => "delayMs" in d && d.delayMs),
    [500, 1000, 2000],
  );
});

Deno.test("decideAfterExit() restarts a clean exit under always", () => {
  const [d] = simulate(base, [{ start: 0, end: 10, exit: clean }]);
  assert.equal(d?.action, "restart");
});

Deno.test("decideAfterExit() opens the breaker after max_crashes within the window", () => {
  const runs = [0, 1, 2, 3, 4].map((i) => ({ start: i * 100, end: i * 100 + 50 }));
  const decisions = simulate(base, runs);
  assert.deepEqual(decisions.map((d) => d.action), [
    "restart",
    "restart",
    "restart",
    "restart",
    "cooldown",
  ]);
  assert.deepEqual(decisions[4], {
    action: "cooldown",
    delayMs: 30_000,
    reason: "exited with code 1; 5 exits within 60s; cooling down for 30s",
  });
});

Deno.test("decideAfterExit() forgets crashes older than the window", () => {
  // One crash every 20 s: never more than 3 inside a 60 s window.
  const runs = Array.from({ length: 10 }, (_, i) => ({ start: i * 20_000, end: i * 20_000 + 10 }));
  const decisions = simulate({ ...base, maxMs: 1000 }, runs);
  assert.ok(decisions.every((d) => d.action === "restart"));
});

Deno.test("decideAfterExit() sends a crashing trial straight back to cooldown", () => {
  const runs = [0, 1, 2, 3, 4].map((i) => ({ start: i * 100, end: i * 100 + 50 }));
  // The trial after the cooldown crashes too.
  runs.push({ start: 31_000, end: 31_100 });
  const decisions = simulate(base, runs);
  assert.equal(decisions[5]?.action, "cooldown");
  assert.match(decisions[5]!.reason, /crashed again after cooldown/);
});

Deno.test("decideAfterExit() closes the breaker after a trial that stays up", () => {
  const runs = [0, 1, 2, 3, 4].map((i) => ({ start: i * 100, end: i * 100 + 50 }));
  runs.push({ start: 31_000, end: 31_000 + 60_000 }); // stayed up reset_after
  const decisions = simulate(base, runs);
  assert.deepEqual(decisions[5], {
    action: "restart",
    delayMs: 500,
    reason: "exited with code 1; restarting in 0.5s",
  });
});

Deno.test("decideAfterExit() resets the backoff after a run of reset_after", () => {
  const config = { ...base, policy: "on-failure" as const, maxCrashes: 100 };
  const decisions = simulate(config, [
    { start: 0, end: 10 },
    { start: 1000, end: 1010 },
    { start: 2000, end: 2000 + 60_000 },
    { start: 70_000, end: 70_010 },
  ]);
  assert.deepEqual(decisions.map((d) => "delayMs" in d && d.delayMs), [500, 1000, 500, 1000]);
});

Deno.test("delay() resolves on time and early on abort, with fake time", async () => {
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout"],
  });
  try {
    let done = false;
    const p = delay(1000).then(() => (done = true));
    await clock.tickAsync(999);
    assert.equal(done, false);
    await clock.tickAsync(1);
    await p;
    assert.equal(done, true);

    const abort = new AbortController();
    let early = false;
    const q = delay(60_000, abort.signal).then(() => (early = true));
    abort.abort();
    await q;
    assert.equal(early, true);
    assert.equal(clock.countTimers(), 0);
  } finally {
    clock.uninstall();
  }
});
