/**
 * A counting semaphore: at most `size` holders at once, the others wait in
 * the order they came.
 *
 * @module
 */

/**
 * Limits how many tasks run at once.
 *
 * @example
 * ```ts
 * const slots = new Semaphore(4);
 * const result = await slots.run(() => fetch("http://127.0.0.1:8080/"));
 * ```
 */
export class Semaphore {
  readonly #size: number;
  #held = 0;
  readonly #waiting: (() => void)[] = [];

  /**
   * Create a semaphore with `size` slots.
   *
   * @throws {RangeError} If `size` is not a positive integer.
   */
  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`Cannot create a semaphore of size ${size}: expected an integer >= 1`);
    }
    this.#size = size;
  }

  /** Slots taken now. */
  get held(): number {
    return this.#held;
  }

  /** Tasks waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `task` once a slot is free, and free the slot when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#held < this.#size) this.#held++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#held--;
    }
  }
}
