/**
 * What the supervisor remembers of its services across an unclean end of the
 * orchestrator (SIGKILL, power cut): restart and crash counters, the last
 * exit, and which services an operator stopped. The file exists while the
 * orchestrator runs and is removed by a clean shutdown, so it is read back
 * only after an unclean one; a clean restart starts afresh, as at boot.
 *
 * @module
 */
import type { ExitInfo } from "../types.ts";

/** What is remembered of one service. */
export interface RememberedService {
  /** Restarts so far. */
  restarts: number;
  /** Crashes so far. */
  crash_count: number;
  /** The last exit, if any. */
  last_exit: ExitInfo | null;
  /** An operator stopped it: it is not started again by `autostart`. */
  held: boolean;
}

/** The file `{stateDir}/services.json`, written atomically and at most every `delayMs`. */
export class ServiceMemory {
  #path: string;
  #delayMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #snapshot: () => Record<string, RememberedService>;
  #onError: (err: Error) => void;
  #closed = false;

  /** Remember what `snapshot()` returns, in `stateDir`. */
  constructor(
    stateDir: string,
    snapshot: () => Record<string, RememberedService>,
    options: { delayMs?: number; onError?: (err: Error) => void } = {},
  ) {
    this.#path = `${stateDir}/services.json`;
    this.#snapshot = snapshot;
    this.#delayMs = options.delayMs ?? 250;
    this.#onError = options.onError ?? (() => {});
  }

  /** What an unclean end left behind; undefined after a clean shutdown or on a first run. */
  load(): Record<string, RememberedService> | undefined {
    try {
      const data = JSON.parse(Deno.readTextFileSync(this.#path)) as {
        services?: Record<string, RememberedService>;
      };
      return data.services && typeof data.services === "object" ? data.services : undefined;
    } catch {
      return undefined;
    }
  }

  /** Write soon (changes within `delayMs` are written together). */
  schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.write();
    }, this.#delayMs);
  }

  /** Write now. */
  write(): void {
    if (this.#closed) return;
    try {
      const tmp = `${this.#path}.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify({ services: this.#snapshot() }) + "\n");
      Deno.renameSync(tmp, this.#path);
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A clean shutdown: forget everything and write no more. */
  clear(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      Deno.removeSync(this.#path);
    } catch {
      // never written
    }
  }
}
