/**
 * Restart policy, backoff and crash-loop cooldown: pure decisions taken when
 * a service's process ends. Times are milliseconds.
 *
 * The crash-loop guard works like a circuit breaker: closed while crashes are
 * rare; open (`cooldown`) after `maxCrashes` within `windowMs`; then one trial
 * start (half-open). A trial that crashes before `resetAfterMs` opens it again;
 * one that stays up closes it.
 *
 * @module
 */
import type { RestartPolicy, ServiceSpec } from "../registry/schema.ts";

/** Restart timing of one service, in milliseconds. */
export interface RestartConfig {
  /** Restart policy. */
  policy: RestartPolicy;
  /** Consecutive restarts allowed by `on-failure`. */
  maxRestarts: number;
  /** First restart delay. */
  initialMs: number;
  /** Growth of the delay per consecutive restart. */
  factor: number;
  /** Largest delay. */
  maxMs: number;
  /** A run this long resets the consecutive count and the crash history. */
  resetAfterMs: number;
  /** Exits within `windowMs` that open the breaker. */
  maxCrashes: number;
  /** Width of the crash window. */
  windowMs: number;
  /** Length of the cooldown. */
  cooldownMs: number;
}

/** Restart timing of a service definition, converted to milliseconds. */
export function restartConfig(spec: ServiceSpec): RestartConfig {
  return {
    policy: spec.restart_policy,
    maxRestarts: spec.max_restarts,
    initialMs: spec.backoff.initial * 1000,
    factor: spec.backoff.factor,
    maxMs: spec.backoff.max * 1000,
    resetAfterMs: spec.backoff.reset_after * 1000,
    maxCrashes: spec.crash_loop.max_crashes,
    windowMs: spec.crash_loop.window * 1000,
    cooldownMs: spec.crash_loop.cooldown * 1000,
  };
}

/** What the supervisor remembers between runs to take the next decision. */
export interface RestartHistory {
  /** Automatic restarts since the last run that stayed up `resetAfterMs`. */
  consecutive: number;
  /** Times of unrequested exits inside the crash window, oldest first. */
  exitTimes: readonly number[];
  /** The current run is the single trial after a cooldown. */
  trial: boolean;
}

/** History of a service that has not crashed yet. */
export const FRESH_HISTORY: RestartHistory = { consecutive: 0, exitTimes: [], trial: false };

/** How a process ended. */
export interface ExitStatus {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** Signal name, or null. */
  signal: string | null;
}

/** What to do after an unrequested exit. */
export type ExitDecision =
  | { action: "restart"; delayMs: number; reason: string }
  | { action: "cooldown"; delayMs: number; reason: string }
  | { action: "fail"; reason: string }
  | { action: "exit"; reason: string };

/** Whether an exit counts as a failure: a non-zero code or a signal. */
export function isFailure(exit: ExitStatus): boolean {
  return exit.signal !== null || exit.code !== 0;
}

/** `exited with code 1`, `killed by SIGKILL`. */
export function describeExit(exit: ExitStatus): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** `0.5s`, `30s`, `1.25s`. */
export function formatSeconds(ms: number): string {
  return `${Math.round(ms) / 1000}s`;
}

/**
 * Delay before restart number `attempt` (0-based): min(max, initial × factor^attempt),
 * then ±10% jitter from `random` (a number in [0, 1)).
 */
export function restartDelayMs(
  config: Pick<RestartConfig, "initialMs" | "factor" | "maxMs">,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(config.maxMs, config.initialMs * config.factor ** attempt);
  const jitter = base * 0.1 * (2 * random() - 1);
  return Math.max(0, Math.round(base + jitter));
}

/** Input of {@linkcode decideAfterExit}. */
export interface ExitInput {
  /** The service's restart timing. */
  config: RestartConfig;
  /** History before this exit. */
  history: RestartHistory;
  /** How the process ended. */
  exit: ExitStatus;
  /** When the process started. */
  startedAtMs: number;
  /** When it ended. */
  nowMs: number;
  /** Source of jitter. @default Math.random */
  random?: () => number;
}

/**
 * Decide what follows an exit nobody asked for, and the history to keep.
 *
 * @example
 * ```ts
 * const config: RestartConfig = {
 *   policy: "always", maxRestarts: 5, initialMs: 1000, factor: 2, maxMs: 30_000,
 *   resetAfterMs: 60_000, maxCrashes: 5, windowMs: 60_000, cooldownMs: 300_000,
 * };
 * const { decision } = decideAfterExit({ config, history: FRESH_HISTORY,
 *   exit: { code: 1, signal: null }, startedAtMs: 0, nowMs: 100 });
 * // decision.action === "restart"
 * ```
 */
export function decideAfterExit(input: ExitInput): {
  decision: ExitDecision;
  history: RestartHistory;
} {
  const { config, exit, nowMs } = input;
  const stayedUp = nowMs - input.startedAtMs >= config.resetAfterMs;
  const history = stayedUp ? FRESH_HISTORY : input.history;
  const what = describeExit(exit);

  if (config.policy === "never" || (config.policy === "on-failure" && !isFailure(exit))) {
    return { decision: { action: "exit", reason: what }, history: { ...history, trial: false } };
  }
  if (config.policy === "on-failure" && history.consecutive >= config.maxRestarts) {
    return {
      decision: {
        action: "fail",
        reason:
          `${what}; gave up after ${history.consecutive} restarts (max_restarts ${config.maxRestarts})`,
      },
      history: { ...history, trial: false },
    };
  }
  const exitTimes = [...history.exitTimes.filter((t) => nowMs - t < config.windowMs), nowMs];
  const next: RestartHistory = { consecutive: history.consecutive + 1, exitTimes, trial: false };
  if (history.trial || exitTimes.length >= config.maxCrashes) {
    const why = history.trial
      ? "crashed again after cooldown"
      : `${exitTimes.length} exits within ${formatSeconds(config.windowMs)}`;
    return {
      decision: {
        action: "cooldown",
        delayMs: config.cooldownMs,
        reason: `${what}; ${why}; cooling down for ${formatSeconds(config.cooldownMs)}`,
      },
      history: next,
    };
  }
  const delayMs = restartDelayMs(config, history.consecutive, input.random);
  return {
    decision: {
      action: "restart",
      delayMs,
      reason: `${what}; restarting in ${formatSeconds(delayMs)}`,
    },
    history: next,
  };
}
