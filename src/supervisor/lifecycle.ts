/**
 * The lifecycle of one service as a pure step: `step(life, event, config)`
 * returns the next {@linkcode Life} and the effects that `Service` carries
 * out (launch the process, run or abort the `pre_start` hook, signal, arm a
 * timer, publish a transition). It reads no clock and touches no process:
 * times and the jitter draw come in with the events. Which transitions are
 * allowed at all is `state_machine.ts`; every one taken here is checked
 * against it.
 *
 * @module
 */
import type { ServiceState } from "../types.ts";
import {
  decideAfterExit,
  describeExit,
  type ExitStatus,
  FRESH_HISTORY,
  isFailure,
  type RestartConfig,
  type RestartHistory,
} from "./policy.ts";
import { assertTransition, LIVE_STATES, WAITING_STATES } from "./state_machine.ts";

/**
 * Where the process of a service is: `idle` (none: stopped, exited, failed,
 * backoff, cooldown), `pre_start` (`starting`, its hook running), `spawning`
 * (`starting`, the launch under way), `live` (it runs), `ended` (it ended;
 * its exit is being handled, the state not yet taken).
 */
export type Phase = "idle" | "pre_start" | "spawning" | "live" | "ended";

/** What the lifecycle of one service remembers. */
export interface Life {
  /** Lifecycle state. */
  readonly state: ServiceState;
  /** Why it is in that state (or what it waits for), or null. */
  readonly reason: string | null;
  /** What the restart policy remembers between runs. */
  readonly history: RestartHistory;
  /** Restarts so far (automatic and requested). */
  readonly restarts: number;
  /** Exits counted as failures so far. */
  readonly crashCount: number;
  /** When it was last restarted (epoch ms), or null. */
  readonly lastRestartMs: number | null;
  /** When backoff or cooldown ends (epoch ms), or null. */
  readonly nextStartMs: number | null;
  /** Stopped by an operator: not started again by `autostart` after an unclean restart. */
  readonly held: boolean;
  /** Where its process is: see {@linkcode Phase}. */
  readonly phase: Phase;
  /** Closed for good: exits are final, no timer starts it again. */
  readonly closed: boolean;
}

/** A service that never ran. */
export const NEW_LIFE: Life = {
  state: "stopped",
  reason: null,
  history: FRESH_HISTORY,
  restarts: 0,
  crashCount: 0,
  lastRestartMs: null,
  nextStartMs: null,
  held: false,
  phase: "idle",
  closed: false,
};

/** What of a service's definition the lifecycle needs. */
export interface LifeConfig {
  /** The service's name, for messages. */
  readonly name: string;
  /** Restart policy, backoff and crash loop. */
  readonly restart: RestartConfig;
  /** It has a `pre_start` hook. */
  readonly preStart: boolean;
  /** It has a readiness check: `running` once it passes. */
  readonly readiness: boolean;
  /** Without a readiness check, `starting` lasts this long (`start_grace`). */
  readonly graceMs: number;
  /** The signal a stop sends (an exit on it, after the supervisor ended the run, is a failure). */
  readonly stopSignal: string;
  /** `on_exit: "shutdown_everything"`. */
  readonly shutdownEverything: boolean;
}

/** What can happen to a service. */
export type LifeEvent =
  /** An operator's start (`restart`: the second half of a restart), or the start at boot. */
  | { type: "start"; kind: "request" | "autostart"; restart?: boolean; atMs: number }
  /** The backoff or cooldown timer went off. */
  | { type: "retry"; atMs: number }
  /** The `pre_start` hook ended. */
  | { type: "pre_start_done"; ok: boolean; summary: string }
  /** The process was spawned (and its pid recorded). */
  | { type: "spawned" }
  /** The process could not be spawned or recorded. */
  | { type: "spawn_failed"; message: string }
  /** The `start_grace` timer went off. */
  | { type: "grace_elapsed" }
  /** The readiness check passed. */
  | { type: "ready"; message: string }
  /** The main process ended (its exit is handled next). */
  | { type: "ended" }
  /** An operator's stop. */
  | { type: "stop"; force: boolean }
  /**
   * The process and what it left are gone (after `ended`): `stopped` after a
   * requested stop, else as the restart policy decides. `killReason`: why
   * the supervisor ended it itself; `random`: a draw in [0, 1) for the
   * backoff jitter.
   */
  | {
    type: "exited";
    exit: ExitStatus;
    killReason?: string;
    startedAtMs: number;
    endedAtMs: number;
    atMs: number;
    random: number;
  }
  /** Why it waits to be started (dependencies), or null to clear it. */
  | { type: "waiting"; reason: string | null }
  /** Closed for good. */
  | { type: "close" };

/** What `Service` does for the lifecycle, in order. */
export type Effect =
  /** Publish and log a transition (`nextStartMs` as it is after it). */
  | {
    type: "transition";
    from: ServiceState;
    to: ServiceState;
    reason: string | null;
    exit?: ExitStatus;
    nextStartMs: number | null;
  }
  /** Run the `pre_start` hook, then send `pre_start_done`. */
  | { type: "run_pre_start" }
  /** Abort the running `pre_start` hook. */
  | { type: "abort_pre_start" }
  /** Spawn the process (the last effect of its step), then send `spawned` or `spawn_failed`. */
  | { type: "launch" }
  /** Arm the service's one timer (replacing any); `grace_elapsed` or `retry` when it goes off. */
  | { type: "arm_timer"; purpose: "grace" | "retry"; delayMs: number }
  /** Disarm the timer. */
  | { type: "clear_timer" }
  /** The stop signal (SIGKILL with `force`) to every process of the run. */
  | { type: "signal"; force: boolean }
  /** SIGKILL every process of the run now (a forced stop during a graceful one). */
  | { type: "kill" }
  /** The health verdict goes back to unknown. */
  | { type: "clear_health" }
  /** Run the `post_start` hook. */
  | { type: "post_start" }
  /** `on_exit: "shutdown_everything"`: stop the orchestrator. */
  | { type: "shutdown_everything"; reason: string };

/** The reason of a service whose `pre_start` hook failed (`summary`: how it ended). */
export function preStartFailure(summary: string): string {
  return `pre_start hook failed (${summary})`;
}

/** The result of one {@linkcode step}. */
export interface Step {
  /** The lifecycle after the event. */
  life: Life;
  /** What to do, in order. */
  effects: Effect[];
  /** Why a request was refused (the end of "Cannot start service "x": …"); the effects are then empty. */
  refused?: string;
}

/**
 * The next lifecycle of a service after `event`, and what to do.
 *
 * @example
 * ```ts
 * import { NEW_LIFE, step } from "./lifecycle.ts";
 * const config = {
 *   restart: { policy: "always", maxRestarts: 5, initialMs: 1000, factor: 2, maxMs: 30_000,
 *     resetAfterMs: 60_000, maxCrashes: 5, windowMs: 60_000, cooldownMs: 300_000 },
 *   name: "web", preStart: false, readiness: false, graceMs: 0, stopSignal: "SIGTERM",
 *   shutdownEverything: false,
 * } as const;
 * const { life, effects } = step(NEW_LIFE, { type: "start", kind: "request", atMs: 0 }, config);
 * // life.state === "starting"; effects end with { type: "launch" }
 * ```
 */
export function step(life: Life, event: LifeEvent, config: LifeConfig): Step {
  const out = new Stepper(life, config);
  out.apply(event);
  return out.result();
}

/** Builds one step: the lifecycle as it changes, and the effects. */
class Stepper {
  life: Life;
  effects: Effect[] = [];
  refused: string | undefined;
  #config: LifeConfig;

  constructor(life: Life, config: LifeConfig) {
    this.life = life;
    this.#config = config;
  }

  result(): Step {
    return this.refused === undefined
      ? { life: this.life, effects: this.effects }
      : { life: this.life, effects: [], refused: this.refused };
  }

  set(change: Partial<Life>): void {
    this.life = { ...this.life, ...change };
  }

  /** Take the transition to `to`, with what comes with it. */
  go(to: ServiceState, reason: string | null, exit?: ExitStatus): void {
    const from = this.life.state;
    assertTransition(this.#config.name, from, to);
    const waiting = to === "backoff" || to === "cooldown";
    this.set({ state: to, reason, nextStartMs: waiting ? this.life.nextStartMs : null });
    this.effects.push({
      type: "transition",
      from,
      to,
      reason,
      ...(exit ? { exit } : {}),
      nextStartMs: this.life.nextStartMs,
    });
    if (to === "stopped") this.effects.push({ type: "clear_health" });
    if (to === "running") this.effects.push({ type: "post_start" });
    if (
      (to === "exited" || to === "failed") && !this.life.closed && this.#config.shutdownEverything
    ) this.effects.push({ type: "shutdown_everything", reason: reason ?? to });
  }

  /** Spawn: through `pre_start` when there is one. */
  spawn(kind: "request" | "autostart" | "retry" | "trial", atMs: number): void {
    this.effects.push({ type: "clear_timer" });
    this.set({ nextStartMs: null });
    if (kind === "retry" || kind === "trial") {
      this.set({ restarts: this.life.restarts + 1, lastRestartMs: atMs });
    }
    if (kind === "trial") this.set({ history: { ...this.life.history, trial: true } });
    this.go("starting", kind === "trial" ? "trial start after cooldown" : null);
    if (this.#config.preStart) {
      this.set({ phase: "pre_start", reason: "running the pre_start hook" });
      this.effects.push({ type: "run_pre_start" });
    } else {
      this.launch();
    }
  }

  launch(): void {
    this.set({ phase: "spawning" });
    this.effects.push({ type: "launch" });
  }

  /** `starting`, its process running. */
  get launched(): boolean {
    return this.life.state === "starting" && this.life.phase === "live";
  }

  apply(event: LifeEvent): void {
    const { life } = this;
    const config = this.#config;
    switch (event.type) {
      case "start": {
        // Closed meanwhile: a start at boot that waited for its turn is dropped.
        if (life.closed && event.kind === "autostart") return;
        if (LIVE_STATES.has(life.state)) {
          this.refused = `it is already ${life.state}`;
          return;
        }
        if (event.kind === "request") this.set({ held: false, history: FRESH_HISTORY });
        if (event.restart) {
          this.set({ restarts: life.restarts + 1, lastRestartMs: event.atMs });
        }
        this.spawn(event.kind, event.atMs);
        return;
      }
      case "retry":
        if (life.closed || !WAITING_STATES.has(life.state)) return;
        this.spawn(life.state === "backoff" ? "retry" : "trial", event.atMs);
        return;
      case "pre_start_done":
        if (life.phase !== "pre_start") return; // aborted meanwhile
        if (event.ok) return this.launch();
        this.set({ phase: "idle" });
        this.go("failed", preStartFailure(event.summary));
        return;
      case "spawned":
        if (life.phase !== "spawning") return;
        this.set({ phase: "live", reason: null });
        if (config.readiness) this.set({ reason: "waiting for the readiness check" });
        else if (config.graceMs === 0) this.go("running", null);
        else this.effects.push({ type: "arm_timer", purpose: "grace", delayMs: config.graceMs });
        return;
      case "spawn_failed":
        if (life.phase !== "spawning") return;
        this.set({ phase: "idle" });
        this.go("failed", event.message);
        return;
      case "grace_elapsed":
        if (this.launched && !config.readiness) this.go("running", null);
        return;
      case "ready":
        if (this.launched) this.go("running", `readiness check passed (${event.message})`);
        return;
      case "ended":
        if (life.phase !== "live") return;
        this.set({ phase: "ended" });
        this.effects.push({ type: "clear_timer" });
        return;
      case "stop":
        // Even a refused stop says what the operator wants after an unclean restart.
        if (!life.closed) this.set({ held: true });
        if (WAITING_STATES.has(life.state)) {
          this.effects.push({ type: "clear_timer" });
          this.go("stopped", "stopped by request");
        } else if (life.phase === "pre_start") {
          this.set({ phase: "idle" });
          this.effects.push({ type: "abort_pre_start" });
          this.go("stopping", "stop requested");
          this.go("stopped", "stopped by request (during the pre_start hook)");
        } else if (life.phase === "spawning") {
          this.refused = "it is being spawned";
        } else if (life.state === "starting" || life.state === "running") {
          this.effects.push({ type: "clear_timer" });
          this.go("stopping", event.force ? "stop requested (force)" : "stop requested");
          this.effects.push({ type: "signal", force: event.force });
        } else if (life.state === "stopping") {
          if (event.force) this.effects.push({ type: "kill" });
        } else {
          this.refused = `it is not running (${life.state})`;
        }
        return;
      case "exited":
        this.exited(event);
        return;
      case "waiting":
        if (LIVE_STATES.has(life.state) || WAITING_STATES.has(life.state)) return;
        if (event.reason !== null || life.reason?.startsWith("waiting for ")) {
          this.set({ reason: event.reason });
        }
        return;
      case "close":
        this.set({ closed: true });
        return;
    }
  }

  exited(event: Extract<LifeEvent, { type: "exited" }>): void {
    const { exit } = event;
    if (this.life.phase !== "live" && this.life.phase !== "ended") return;
    this.effects.push({ type: "clear_timer" });
    this.set({ phase: "idle" });
    if (this.life.state === "stopping") {
      this.go("stopped", `stopped by request (${describeExit(exit)})`, exit);
      return;
    }
    // Ended by the supervisor: a failure even if the process exited 0 on the signal.
    const judged: ExitStatus = event.killReason !== undefined && !isFailure(exit)
      ? { code: null, signal: this.#config.stopSignal }
      : exit;
    if (isFailure(judged)) this.set({ crashCount: this.life.crashCount + 1 });
    const { decision, history } = decideAfterExit({
      config: this.#config.restart,
      history: this.life.history,
      exit: judged,
      startedAtMs: event.startedAtMs,
      nowMs: event.endedAtMs,
      random: () => event.random,
    });
    this.set({ history });
    const reason = event.killReason !== undefined
      ? `${event.killReason}; ${decision.reason}`
      : decision.reason;
    if (this.life.closed) {
      this.go("exited", describeExit(exit), exit);
      return;
    }
    switch (decision.action) {
      case "restart":
      case "cooldown":
        this.set({ nextStartMs: event.atMs + decision.delayMs });
        this.go(decision.action === "restart" ? "backoff" : "cooldown", reason, exit);
        this.effects.push({ type: "arm_timer", purpose: "retry", delayMs: decision.delayMs });
        return;
      case "fail":
        this.go("failed", reason, exit);
        return;
      case "exit":
        this.go("exited", reason, exit);
        return;
    }
  }
}
