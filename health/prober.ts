/**
 * The prober: runs one check again and again (after `initial_delay`, then
 * `interval` after the end of each check, never two at once), aborts each
 * at its `timeout`, and turns consecutive results into a health state with
 * the success and failure thresholds.
 *
 * @module
 */
import { runCheck } from "./checks.ts";
import type { Check, CheckRecord, CheckResult, CheckTiming, HealthState } from "./types.ts";

/** Options of a {@linkcode Prober}. */
export interface ProberOptions {
  /** The check to run. */
  check: Check;
  /** Timing and thresholds, in milliseconds. */
  timing: CheckTiming;
  /** Entries kept in {@linkcode Prober.history}. @default 10 */
  historySize?: number;
  /** Called after every result, with the state it led to. */
  onResult?: (result: CheckResult, state: HealthState) => void;
  /** Called when the state changes. */
  onChange?: (to: HealthState, from: HealthState, result: CheckResult) => void;
}

/** Runs one check periodically and keeps its health state. */
export class Prober {
  #options: ProberOptions;
  #state: HealthState = "unknown";
  #message = "not checked yet";
  #lastCheckedMs: number | null = null;
  #successes = 0;
  #failures = 0;
  #history: CheckRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #generation = 0;
  #inFlight: Promise<CheckResult> | undefined;

  /** Create an idle prober in state `unknown`. */
  constructor(options: ProberOptions) {
    this.#options = options;
  }

  /** Current state. */
  get state(): HealthState {
    return this.#state;
  }

  /** Message of the last result. */
  get message(): string {
    return this.#message;
  }

  /** When the last check ended (epoch ms), or null. */
  get lastCheckedMs(): number | null {
    return this.#lastCheckedMs;
  }

  /** Failures in a row, up to now. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Successes in a row, up to now. */
  get consecutiveSuccesses(): number {
    return this.#successes;
  }

  /** The last results, newest first. */
  get history(): readonly CheckRecord[] {
    return this.#history;
  }

  /** Whether periodic checking is on. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Begin periodic checks from a clean slate: state `unknown`, counters at
   * zero (the history is kept). The first check runs after `initialDelayMs`.
   */
  start(): void {
    this.stop();
    this.#running = true;
    this.#state = "unknown";
    this.#message = "not checked yet";
    this.#successes = 0;
    this.#failures = 0;
    this.#schedule(this.#options.timing.initialDelayMs);
  }

  /**
   * End periodic checks; a check in flight is aborted by its own timeout and
   * its result ignored. The state becomes `unknown` with `message`.
   */
  stop(message?: string): void {
    this.#running = false;
    this.#generation++;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight = undefined;
    if (message !== undefined) {
      this.#state = "unknown";
      this.#message = message;
      this.#successes = 0;
      this.#failures = 0;
    }
  }

  /**
   * Run one check now and record it (a check already in flight is awaited
   * instead of starting a second one). Periodic checks continue after it.
   */
  checkNow(): Promise<CheckResult> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#runOnce();
  }

  #schedule(ms: number): void {
    const generation = this.#generation;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (generation === this.#generation && this.#running) void this.#runOnce();
    }, ms);
  }

  #runOnce(): Promise<CheckResult> {
    const generation = this.#generation;
    const startedMs = Date.now();
    const promise = runCheck(this.#options.check, this.#options.timing.timeoutMs).then(
      (result) => {
        if (generation !== this.#generation) return result;
        this.#inFlight = undefined;
        this.#record(result, startedMs);
        if (this.#running && this.#timer === undefined) {
          this.#schedule(this.#options.timing.intervalMs);
        }
        return result;
      },
    );
    this.#inFlight = promise;
    return promise;
  }

  #record(result: CheckResult, startedMs: number): void {
    const nowMs = Date.now();
    const { successThreshold, failureThreshold } = this.#options.timing;
    this.#lastCheckedMs = nowMs;
    this.#message = result.message;
    this.#history.unshift({
      at: new Date(startedMs).toISOString(),
      ok: result.ok,
      message: result.message,
      duration_ms: nowMs - startedMs,
    });
    this.#history.length = Math.min(this.#history.length, this.#options.historySize ?? 10);
    const from = this.#state;
    if (result.ok) {
      this.#successes++;
      this.#failures = 0;
      if (this.#successes >= successThreshold) this.#state = "healthy";
    } else {
      this.#failures++;
      this.#successes = 0;
      if (this.#failures >= failureThreshold) this.#state = "unhealthy";
    }
    this.#options.onResult?.(result, this.#state);
    if (this.#state !== from) this.#options.onChange?.(this.#state, from, result);
  }
}
