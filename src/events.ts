/**
 * The event bus: every lifecycle transition of every service, delivered to
 * subscribers synchronously, with a snapshot taken under the same turn so
 * that nothing slips between the snapshot and the live events.
 *
 * @module
 */
import type { SupervisorEvent } from "./types.ts";

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
