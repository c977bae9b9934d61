import assert from "node:assert/strict";
import type { ServiceState } from "../types.ts";
import {
  type Effect,
  type Life,
  type LifeConfig,
  type LifeEvent,
  NEW_LIFE,
  type Phase,
  step,
} from "./lifecycle.ts";
import type { RestartConfig } from "./policy.ts";
import { canTransition } from "./state_machine.ts";

const RESTART: RestartConfig = {
  policy: "always",
  maxRestarts: 5,
  initialMs: 1000,
  factor: 2,
  maxMs: 30_000,
  resetAfterMs: 60_000,
  maxCrashes: 3,
  windowMs: 60_000,
  cooldownMs: 300_000,
};

const CONFIG: LifeConfig = {
  name: "web",
  restart: RESTART,
  preStart: false,
  readiness: false,
  graceMs: 1000,
  stopSignal: "SIGTERM",
  shutdownEverything: false,
};

/** Every state with every phase it can have. */
const LIVES: Record<string, Life> = Object.fromEntries(
  ([
    ["stopped", "idle"],
    ["exited", "idle"],
    ["failed", "idle"],
    ["backoff", "idle"],
    ["cooldown", "idle"],
    ["starting", "pre_start"],
    ["starting", "spawning"],
    ["starting", "live"],
    ["starting", "ended"],
    ["running", "live"],
    ["running", "ended"],
    ["stopping", "live"],
    ["stopping", "ended"],
  ] as [ServiceState, Phase][]).map(([state, phase]) => [
    `${state}/${phase}`,
    { ...NEW_LIFE, state, phase, nextStartMs: state === "backoff" ? 5000 : null },
  ]),
);

const T = 100_000;
const EXIT_1 = { code: 1, signal: null };

/** One of each event. */
const EVENTS: Record<string, LifeEvent> = {
  "start": { type: "start", kind: "request", atMs: T },
  "autostart": { type: "start", kind: "autostart", atMs: T },
  "restart": { type: "start", kind: "request", restart: true, atMs: T },
  "retry": { type: "retry", atMs: T },
  "pre_start ok": { type: "pre_start_done", ok: true, summary: "exit 0" },
  "pre_start failed": { type: "pre_start_done", ok: false, summary: "exit 1" },
  "spawned": { type: "spawned" },
  "spawn_failed": { type: "spawn_failed", message: "command not found" },
  "grace_elapsed": { type: "grace_elapsed" },
  "ready": { type: "ready", message: "tcp ok" },
  "ended": { type: "ended" },
  "stop": { type: "stop", force: false },
  "stop force": { type: "stop", force: true },
  "exited": {
    type: "exited",
    exit: EXIT_1,
    startedAtMs: T - 500,
    endedAtMs: T,
    atMs: T,
    random: 0.5,
  },
  "waiting": { type: "waiting", reason: "waiting for db" },
  "close": { type: "close" },
};

/** Every kind of start, from a state that has no process, and from one that has. */
const STARTS = { start: "starting", autostart: "starting", restart: "starting" };
const REFUSED_STARTS = { start: "refused", autostart: "refused", restart: "refused" };

/**
 * The state after each event, from each state/phase: a state, `refused`, or
 * `=` (no transition). Written out in full, so that a change of the
 * lifecycle shows here.
 */
const EXPECTED: Record<string, Record<string, string>> = {
  "stopped/idle": {
    ...STARTS,
    stop: "refused",
    "stop force": "refused",
  },
  "exited/idle": {
    ...STARTS,
    stop: "refused",
    "stop force": "refused",
  },
  "failed/idle": {
    ...STARTS,
    stop: "refused",
    "stop force": "refused",
  },
  "backoff/idle": {
    ...STARTS,
    retry: "starting",
    stop: "stopped",
    "stop force": "stopped",
  },
  "cooldown/idle": {
    ...STARTS,
    retry: "starting",
    stop: "stopped",
    "stop force": "stopped",
  },
  "starting/pre_start": {
    ...REFUSED_STARTS,
    "pre_start failed": "failed",
    stop: "stopped",
    "stop force": "stopped",
  },
  "starting/spawning": {
    ...REFUSED_STARTS,
    spawn_failed: "failed",
    stop: "refused",
    "stop force": "refused",
  },
  "starting/live": {
    ...REFUSED_STARTS,
    grace_elapsed: "running",
    ready: "running",
    stop: "stopping",
    "stop force": "stopping",
    exited: "backoff",
  },
  "starting/ended": {
    ...REFUSED_STARTS,
    stop: "stopping",
    "stop force": "stopping",
    exited: "backoff",
  },
  "running/live": {
    ...REFUSED_STARTS,
    stop: "stopping",
    "stop force": "stopping",
    exited: "backoff",
  },
  "running/ended": {
    ...REFUSED_STARTS,
    stop: "stopping",
    "stop force": "stopping",
    exited: "backoff",
  },
  "stopping/live": {
    ...REFUSED_STARTS,
    exited: "stopped",
  },
  "stopping/ended": {
    ...REFUSED_STARTS,
    exited: "stopped",
  },
};

function transitions(effects: Effect[]): Extract<Effect, { type: "transition" }>[] {
  return effects.filter((e): e is Extract<Effect, { type: "transition" }> =>
    e.type === "transition"
  );
}

Deno.test("step(): every state and phase × every event, as the table says, through allowed transitions only", () => {
  let pairs = 0;
  for (const [lifeName, life] of Object.entries(LIVES)) {
    for (const [eventName, event] of Object.entries(EVENTS)) {
      const where = `${lifeName} + ${eventName}`;
      const expected = EXPECTED[lifeName]?.[eventName] ?? "=";
      const result = step(life, event, CONFIG);
      const taken = transitions(result.effects);
      if (expected === "refused") {
        assert.ok(result.refused, `${where}: refused`);
        assert.deepEqual(result.effects, [], `${where}: a refusal does nothing`);
        assert.equal(result.life.state, life.state, where);
      } else {
        assert.equal(result.refused, undefined, `${where}: not refused`);
        assert.equal(result.life.state, expected === "=" ? life.state : expected, where);
        assert.equal(taken.length > 0, expected !== "=", `${where}: a transition is published`);
      }
      // The published transitions chain from the old state to the new one, each allowed.
      let at = life.state;
      for (const t of taken) {
        assert.equal(t.from, at, where);
        assert.ok(canTransition(t.from, t.to), `${where}: ${t.from} -> ${t.to}`);
        at = t.to;
      }
      assert.equal(at, result.life.state, where);
      // A process is only launched last, and only from `starting`.
      const launch = result.effects.findIndex((e) => e.type === "launch");
      if (launch >= 0) {
        assert.equal(launch, result.effects.length - 1, `${where}: launch last`);
        assert.equal(result.life.state, "starting");
        assert.equal(result.life.phase, "spawning");
      }
      // Outside a live state there is no process phase, and the reverse.
      const live = ["starting", "running", "stopping"].includes(result.life.state);
      assert.equal(result.life.phase === "idle", !live, `${where}: phase ${result.life.phase}`);
      pairs++;
    }
  }
  assert.equal(pairs, 13 * 16);
});

Deno.test("step(): a start clears the timer and the next start, counts restarts, and launches", () => {
  const backoff: Life = { ...LIVES["backoff/idle"]!, held: true, restarts: 2 };
  const retry = step(backoff, { type: "retry", atMs: T }, CONFIG);
  assert.deepEqual(retry.effects.map((e) => e.type), ["clear_timer", "transition", "launch"]);
  assert.equal(retry.life.nextStartMs, null);
  assert.equal(retry.life.restarts, 3, "an automatic restart counts");
  assert.equal(retry.life.lastRestartMs, T);
  assert.equal(retry.life.held, true, "an automatic restart leaves the operator's hold");

  const request = step(backoff, EVENTS.start!, CONFIG);
  assert.equal(request.life.restarts, 2, "a plain start is not a restart");
  assert.equal(request.life.held, false);
  assert.deepEqual(request.life.history, NEW_LIFE.history, "the crash history starts over");

  const restart = step(LIVES["stopped/idle"]!, EVENTS.restart!, CONFIG);
  assert.equal(restart.life.restarts, 1);
  assert.equal(restart.life.lastRestartMs, T);
});

Deno.test("step(): spawned waits out start_grace, or the readiness check, or runs at once", () => {
  const spawning = LIVES["starting/spawning"]!;
  assert.deepEqual(step(spawning, EVENTS.spawned!, CONFIG).effects, [
    { type: "arm_timer", purpose: "grace", delayMs: 1000 },
  ]);
  const ready = step(spawning, EVENTS.spawned!, { ...CONFIG, readiness: true });
  assert.deepEqual(ready.effects, []);
  assert.equal(ready.life.reason, "waiting for the readiness check");
  assert.equal(
    step(ready.life, EVENTS.grace_elapsed!, { ...CONFIG, readiness: true }).life.state,
    "starting",
    "no grace with a readiness check",
  );
  const now = step(spawning, EVENTS.spawned!, { ...CONFIG, graceMs: 0 });
  assert.equal(now.life.state, "running");
  assert.deepEqual(now.effects.map((e) => e.type), ["transition", "post_start"]);
});

Deno.test("step(): pre_start runs before the launch; a stop during it aborts it; a failure fails", () => {
  const config = { ...CONFIG, preStart: true };
  const started = step(NEW_LIFE, EVENTS.start!, config);
  assert.equal(started.life.phase, "pre_start");
  assert.equal(started.life.reason, "running the pre_start hook");
  assert.equal(started.effects.at(-1)?.type, "run_pre_start");

  const ok = step(started.life, EVENTS["pre_start ok"]!, config);
  assert.deepEqual(ok.effects, [{ type: "launch" }]);

  const failed = step(started.life, EVENTS["pre_start failed"]!, config);
  assert.equal(failed.life.reason, "pre_start hook failed (exit 1)");

  const stopped = step(started.life, EVENTS.stop!, config);
  assert.deepEqual(stopped.effects.map((e) => e.type), [
    "abort_pre_start",
    "transition",
    "transition",
    "clear_health",
  ]);
  assert.equal(stopped.life.reason, "stopped by request (during the pre_start hook)");
  // The hook's end after the stop changes nothing.
  assert.deepEqual(step(stopped.life, EVENTS["pre_start ok"]!, config).effects, []);
});

Deno.test("step(): a stop signals once; a forced one during it kills; a refused stop still holds the service", () => {
  const stopping = step(LIVES["running/live"]!, EVENTS.stop!, CONFIG);
  assert.deepEqual(stopping.effects.map((e) => e.type), ["clear_timer", "transition", "signal"]);
  assert.equal(stopping.life.held, true);
  assert.deepEqual(step(stopping.life, EVENTS.stop!, CONFIG).effects, []);
  assert.deepEqual(step(stopping.life, EVENTS["stop force"]!, CONFIG).effects, [{ type: "kill" }]);

  const refused = step(LIVES["failed/idle"]!, EVENTS.stop!, CONFIG);
  assert.equal(refused.refused, "it is not running (failed)");
  assert.equal(refused.life.held, true, "kept stopped after an unclean restart");
  const closed = step({ ...LIVES["running/live"]!, closed: true }, EVENTS.stop!, CONFIG);
  assert.equal(closed.life.held, false, "closing is not an operator's stop");
});

Deno.test("step(): crashes back off with growing delays, then cool down; the trial after it cools down again if it crashes", () => {
  let life: Life = { ...NEW_LIFE, state: "running", phase: "live" };
  const crash = (atMs: number, random = 0.5) => {
    const ended = step(life, EVENTS.ended!, CONFIG);
    return step(ended.life, {
      type: "exited",
      exit: EXIT_1,
      startedAtMs: atMs - 100,
      endedAtMs: atMs,
      atMs,
      random,
    }, CONFIG);
  };
  const relaunch = (from: Life, atMs: number) => {
    const started = step(from, { type: "retry", atMs }, CONFIG).life;
    return step(started, EVENTS.spawned!, CONFIG).life;
  };

  let result = crash(T);
  assert.equal(result.life.state, "backoff");
  assert.equal(result.life.nextStartMs, T + 1000);
  assert.equal(result.life.reason, "exited with code 1; restarting in 1s");
  assert.deepEqual(result.effects.at(-1), { type: "arm_timer", purpose: "retry", delayMs: 1000 });
  assert.equal(result.life.crashCount, 1);
  life = relaunch(result.life, T + 1000);

  result = crash(T + 2000, 1);
  assert.equal(result.life.state, "backoff");
  assert.equal(result.life.nextStartMs, T + 2000 + 2200, "2 s, +10% jitter at random 1");
  life = relaunch(result.life, T + 4200);

  result = crash(T + 5000);
  assert.equal(result.life.state, "cooldown");
  assert.equal(result.life.reason, "exited with code 1; 3 exits within 60s; cooling down for 300s");
  assert.equal(result.life.nextStartMs, T + 5000 + 300_000);
  life = result.life;

  const trial = step(life, { type: "retry", atMs: T + 305_000 }, CONFIG);
  assert.equal(trial.life.reason, "trial start after cooldown");
  assert.equal(trial.life.history.trial, true);
  life = step(trial.life, EVENTS.spawned!, CONFIG).life;
  result = crash(T + 305_500);
  assert.equal(result.life.state, "cooldown");
  assert.match(result.life.reason!, /crashed again after cooldown/);
  assert.equal(result.life.crashCount, 4);
  assert.equal(result.life.restarts, 3);
});

Deno.test("step(): an exit the supervisor caused is a failure on its stop signal even with code 0, and says why", () => {
  const ended = step(LIVES["running/live"]!, EVENTS.ended!, CONFIG).life;
  const result = step(ended, {
    type: "exited",
    exit: { code: 0, signal: null },
    killReason: "liveness check failed 3 times",
    startedAtMs: T - 500,
    endedAtMs: T,
    atMs: T,
    random: 0.5,
  }, CONFIG);
  assert.equal(result.life.crashCount, 1);
  assert.equal(result.life.state, "backoff");
  assert.match(
    result.life.reason!,
    /^liveness check failed 3 times; killed by SIGTERM; restarting/,
  );
});

Deno.test("step(): closed, an exit is final; otherwise on_exit shutdown_everything follows exited and failed", () => {
  const closed = step({ ...LIVES["running/live"]!, closed: true }, EVENTS.exited!, {
    ...CONFIG,
    shutdownEverything: true,
  });
  assert.equal(closed.life.state, "exited");
  assert.ok(
    !closed.effects.some((e) => e.type === "arm_timer" || e.type === "shutdown_everything"),
  );
  assert.equal(step(closed.life, EVENTS.retry!, CONFIG).life.state, "exited");

  const config: LifeConfig = {
    ...CONFIG,
    restart: { ...RESTART, policy: "never" },
    shutdownEverything: true,
  };
  const exited = step(LIVES["running/live"]!, EVENTS.exited!, config);
  assert.equal(exited.life.state, "exited");
  assert.deepEqual(exited.effects.at(-1), {
    type: "shutdown_everything",
    reason: "exited with code 1",
  });
  const failed = step(LIVES["starting/spawning"]!, EVENTS.spawn_failed!, config);
  assert.deepEqual(failed.effects.at(-1), {
    type: "shutdown_everything",
    reason: "command not found",
  });
});

Deno.test("step(): a waiting reason shows only while nothing runs, and only its own is cleared", () => {
  const waiting = step(NEW_LIFE, EVENTS.waiting!, CONFIG).life;
  assert.equal(waiting.reason, "waiting for db");
  assert.equal(step(waiting, { type: "waiting", reason: null }, CONFIG).life.reason, null);
  const failed = { ...LIVES["failed/idle"]!, reason: "exited with code 1" };
  assert.equal(step(failed, { type: "waiting", reason: null }, CONFIG).life.reason, failed.reason);
  assert.equal(step(LIVES["running/live"]!, EVENTS.waiting!, CONFIG).life.reason, null);
});

Deno.test("step(): once closed, no timer and no start at boot starts it again; an operator's start still does", () => {
  const closedBackoff = { ...LIVES["backoff/idle"]!, closed: true };
  assert.deepEqual(step(closedBackoff, EVENTS.retry!, CONFIG), {
    life: closedBackoff,
    effects: [],
  });
  const closedStopped = { ...NEW_LIFE, closed: true };
  assert.deepEqual(step(closedStopped, EVENTS.autostart!, CONFIG), {
    life: closedStopped,
    effects: [],
  });
  assert.equal(step(closedStopped, EVENTS.start!, CONFIG).life.state, "starting");
  // Not closed: the same events start it.
  assert.equal(step(LIVES["backoff/idle"]!, EVENTS.retry!, CONFIG).life.state, "starting");
  assert.equal(step(NEW_LIFE, EVENTS.autostart!, CONFIG).life.state, "starting");
});

Deno.test("step(): a start at boot leaves the operator's hold and the crash history; a request clears both", () => {
  const life: Life = {
    ...LIVES["failed/idle"]!,
    held: true,
    history: { consecutive: 3, exitTimes: [1, 2, 3], trial: false },
  };
  const auto = step(life, EVENTS.autostart!, CONFIG).life;
  assert.equal(auto.held, true);
  assert.deepEqual(auto.history.exitTimes, [1, 2, 3]);
  const request = step(life, EVENTS.start!, CONFIG).life;
  assert.equal(request.held, false);
  assert.deepEqual(request.history, NEW_LIFE.history);
});

Deno.test("step(): an exit disarms the timer first", () => {
  const result = step(LIVES["running/ended"]!, EVENTS.exited!, CONFIG);
  assert.equal(result.effects[0]?.type, "clear_timer");
});
