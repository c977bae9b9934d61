/**
 * The event bus: every lifecycle transition of every service, delivered to
 * subscribers synchronously, with a snapshot taken under the same turn so
 * that nothing slips between the snapshot and the live events.
 *
 * @module
 */
import type { ExitInfo, ServiceState } from "./types.ts";

/** A service changed lifecycle state. */
export interface StateEvent {
  /** Discriminant. */
  type: "state";
  /** Service name. */
  service: string;
  /** State before. */
  from: ServiceState;
  /** State after. */
  to: ServiceState;
  /** Why, for people; null when there is nothing to add. */
  reason: string | null;
  /** When, ISO 8601. */
  at: string;
  /** Pid of the process concerned, when there is one. */
  pid: number | null;
  /** How the process ended, on transitions caused by an exit. */
  exit?: ExitInfo;
  /** When the next start is due, in `backoff` and `cooldown`. */
  next_restart_at?: string;
}

/** A health check of a service changed its verdict. */
export interface HealthEvent {
  /** Discriminant. */
  type: "health";
  /** Service name. */
  service: string;
  /** Which check: `readiness`, `liveness`, or `health` for one check in both roles. */
  role: string;
  /** Verdict before: `unknown`, `healthy` or `unhealthy`. */
  from: string;
  /** Verdict after. */
  to: string;
  /** The check's last message. */
  message: string;
  /** When, ISO 8601. */
  at: string;
}

/** Every event the bus carries (a discriminated union on `type`). */
export type SupervisorEvent = StateEvent | HealthEvent;

/** Receives events. */
export type Listener<E> = (event: E) => void;

/** A synchronous publish/subscribe bus. */
export class EventBus<E = SupervisorEvent> {
  #listeners = new Set<Listener<E>>();
  #count = 0;

  /** Events emitted so far. */
  get count(): number {
    return this.#count;
  }

  /** Deliver `event` to every listener; a throwing listener does not stop the others. */
  emit(event: E): void {
    this.#count++;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        console.error(`edgevisor: event listener failed: ${err}`);
      }
    }
  }

  /** Listen to every later event; returns the unsubscribe function. */
  subscribe(listener: Listener<E>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Take `snapshot()` and subscribe in the same synchronous turn: no event
   * can be emitted between the two.
   */
  subscribeWithSnapshot<S>(
    snapshot: () => S,
    listener: Listener<E>,
  ): { snapshot: S; unsubscribe: () => void } {
    const value = snapshot();
    return { snapshot: value, unsubscribe: this.subscribe(listener) };
  }
}
