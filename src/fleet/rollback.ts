/**
 * The health gate of a fleet configuration. Once a revision is applied, the
 * services it changed or added are watched for the rollback window: one
 * that fails or goes to cooldown at any time, or is unhealthy when the
 * window ends, sends the device back to the configuration it ran before.
 *
 * {@linkcode decideRollback} is the decision, pure; {@linkcode RollbackWindow}
 * asks it after every event of a watched service and once the window ends.
 *
 * @module
 */
import type { ServiceStatus } from "../types.ts";

/** What the watched services say about the revision. */
export type RollbackDecision =
  | { decision: "wait" }
  | { decision: "keep" }
  | { decision: "roll_back"; service: string; reason: string };

/** Input of {@linkcode decideRollback}. */
export interface RollbackInput {
  /** Statuses of the watched services (those the revision changed or added). */
  services: readonly Pick<ServiceStatus, "name" | "status" | "reason" | "health">[];
  /** Now, milliseconds since the epoch. */
  nowMs: number;
  /** When the window ends, milliseconds since the epoch. */
  endsAtMs: number;
}

/**
 * `roll_back` as soon as a watched service is `failed` or in `cooldown`;
 * before the end of the window, `wait` (`keep` at once when nothing is
 * watched); at its end, `roll_back` when a watched service is unhealthy,
 * else `keep`.
 *
 * @example
 * ```ts
 * decideRollback({ services: [fakeStatus("web", { status: "cooldown" })], nowMs: 0, endsAtMs: 60_000 });
 * // { decision: "roll_back", service: "web", reason: 'service "web" went to cooldown' }
 * ```
 */
export function decideRollback(input: RollbackInput): RollbackDecision {
  for (const s of input.services) {
    if (s.status === "failed" || s.status === "cooldown") {
      const what = s.status === "failed" ? "failed" : "went to cooldown";
      return {
        decision: "roll_back",
        service: s.name,
        reason: `service ${JSON.stringify(s.name)} ${what}${s.reason ? `: ${s.reason}` : ""}`,
      };
    }
  }
  if (input.services.length === 0) return { decision: "keep" };
  if (input.nowMs < input.endsAtMs) return { decision: "wait" };
  for (const s of input.services) {
    if (s.health.healthy === false) {
      return {
        decision: "roll_back",
        service: s.name,
        reason: `service ${
          JSON.stringify(s.name)
        } was unhealthy at the end of the rollback window: ${s.health.message}`,
      };
    }
  }
  return { decision: "keep" };
}

/** A decision that ends a window. */
export type FinalDecision = Exclude<RollbackDecision, { decision: "wait" }>;

/** Options of a {@linkcode RollbackWindow}. */
export interface RollbackWindowOptions {
  /** Names of the services to watch. */
  services: readonly string[];
  /** Length of the window, milliseconds. */
  windowMs: number;
  /** Status of every service now. */
  statuses(): readonly ServiceStatus[];
  /** Calls its listener with the service of every event; returns the unsubscribe function. */
  subscribe(listener: (service: string) => void): () => void;
  /** Called once, with the decision that ends the window. */
  onDecision(decision: FinalDecision): void;
}

/** Watches services for one window (timers and clock: the global ones). */
export class RollbackWindow {
  /** When the window ends, milliseconds since the epoch. */
  readonly endsAtMs: number;
  #options: RollbackWindowOptions;
  #watched: Set<string>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;
  #done = false;

  /** Start watching: the services are looked at now, after each of their events, and at the end. */
  constructor(options: RollbackWindowOptions) {
    this.#options = options;
    this.#watched = new Set(options.services);
    this.endsAtMs = Date.now() + options.windowMs;
    this.#unsubscribe = options.subscribe((service) => {
      if (this.#watched.has(service)) this.#check();
    });
    // At the end whatever the clock says: a timer may fire a little early.
    this.#timer = setTimeout(() => this.#check(this.endsAtMs), options.windowMs);
    this.#check();
  }

  /** Whether a decision was made (or the window was stopped). */
  get done(): boolean {
    return this.#done;
  }

  /** Stop watching without a decision. */
  stop(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
  }

  #check(atLeastMs = 0): void {
    if (this.#done) return;
    const decision = decideRollback({
      services: this.#options.statuses().filter((s) => this.#watched.has(s.name)),
      nowMs: Math.max(Date.now(), atLeastMs),
      endsAtMs: this.endsAtMs,
    });
    if (decision.decision === "wait") return;
    this.stop();
    this.#options.onDecision(decision);
  }
}
