/**
 * A bounded first-in first-out queue of messages waiting for a connection.
 * When full, the oldest message is dropped and counted. Pure: no I/O.
 *
 * @module
 */

/** A message waiting to be published. */
export interface OutboxMessage {
  /** Subject to publish on. */
  subject: string;
  /** Encoded body. */
  data: string;
  /** Sent as `Nats-Msg-Id`, so JetStream stores a message sent twice once. */
  id?: string;
}

/** Bounded FIFO; `push` drops the oldest entry when full. */
export class Outbox<T = OutboxMessage> {
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #dropped = 0;

  /** Create an outbox holding at most `capacity` items (an integer ≥ 1). */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Invalid outbox capacity ${capacity}: expected an integer >= 1`);
    }
    this.#items = new Array(capacity);
  }

  /** Items waiting. */
  get size(): number {
    return this.#size;
  }

  /** Items dropped since the last `takeDropped()`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Append `item`; when full, drop the oldest first. Returns whether one was dropped. */
  push(item: T): boolean {
    let dropped = false;
    if (this.#size === this.capacity) {
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
      this.#dropped++;
      dropped = true;
    }
    this.#items[(this.#head + this.#size) % this.capacity] = item;
    this.#size++;
    return dropped;
  }

  /**
   * Put `items` (oldest first) before everything waiting, as the oldest; when
   * that overflows, the oldest are dropped and counted, as by `push`.
   */
  prepend(items: readonly T[]): void {
    if (items.length === 0) return;
    const waiting: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) waiting.push(item);
    for (const item of items) this.push(item);
    for (const item of waiting) this.push(item);
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** Remove and return the oldest item. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  /** Return the count of dropped items and reset it to 0. */
  takeDropped(): number {
    const count = this.#dropped;
    this.#dropped = 0;
    return count;
  }
}
