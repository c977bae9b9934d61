/**
 * The lifecycle state machine of one service: which transitions are allowed.
 *
 * @module
 */
import type { ServiceState } from "../types.ts";

/**
 * Allowed transitions. Every spawn goes through `starting`; every stop
 * through `stopping`, except from the waiting states, which have no process.
 */
export const TRANSITIONS: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  stopped: ["starting"],
  starting: ["running", "stopping", "backoff", "cooldown", "exited", "failed"],
  running: ["stopping", "backoff", "cooldown", "exited", "failed"],
  backoff: ["starting", "stopped"],
  cooldown: ["starting", "stopped"],
  stopping: ["stopped"],
  exited: ["starting"],
  failed: ["starting"],
};

/** States in which a process of the service exists. */
export const LIVE_STATES: ReadonlySet<ServiceState> = new Set(["starting", "running", "stopping"]);

/** States that wait for a timer to start the service again. */
export const WAITING_STATES: ReadonlySet<ServiceState> = new Set(["backoff", "cooldown"]);

/** Whether `from → to` is an allowed transition. */
export function canTransition(from: ServiceState, to: ServiceState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws `RangeError` unless `from → to` is allowed. */
export function assertTransition(service: string, from: ServiceState, to: ServiceState): void {
  if (!canTransition(from, to)) {
    throw new RangeError(`Service "${service}" cannot go from "${from}" to "${to}"`);
  }
}
