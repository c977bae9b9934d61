/**
 * The health checks of one service: which check plays which role
 * (readiness, liveness), one prober per distinct check, and the health
 * shown by the API. Readiness passing and liveness failing are reported to
 * the service through callbacks; this file decides nothing about processes.
 *
 * @module
 */
import {
  type Check,
  checkTiming,
  createCheck,
  type Launcher,
  LogWatch,
  Prober,
} from "../../health/mod.ts";
import { sessionLaunch } from "./guards.ts";
import type { LogSink } from "../logs/capture.ts";
import type { HealthCheckSpec, ServiceSpec } from "../registry/schema.ts";
import type { HealthInfo } from "../types.ts";

/** The checks of a service by role; the same object when one check plays both. */
export interface ResolvedChecks {
  /** Gates `starting → running`. */
  readiness?: HealthCheckSpec;
  /** Restarts the service after `failure_threshold` failures in a row. */
  liveness?: HealthCheckSpec;
}

/** Seconds between two checks of the `tcp` check implied by `port`. */
export const IMPLIED_INTERVAL = 1;

/**
 * Which check plays which role: `readiness` and `liveness` when set, else
 * `health_check` for both, else (with none of the three) a `tcp` check on
 * `port` for both (every second). Names refer to `named` (the registry's `health_checks`).
 */
export function resolveChecks(
  spec: Pick<ServiceSpec, "health_check" | "readiness" | "liveness" | "port">,
  named: Record<string, HealthCheckSpec>,
): ResolvedChecks {
  const lookup = (check: string | HealthCheckSpec | undefined) =>
    typeof check === "string" ? (Object.hasOwn(named, check) ? named[check] : undefined) : check;
  const both = lookup(spec.health_check);
  let readiness = lookup(spec.readiness) ?? both;
  let liveness = lookup(spec.liveness) ?? both;
  if (
    spec.health_check === undefined && spec.readiness === undefined &&
    spec.liveness === undefined && spec.port !== undefined
  ) {
    readiness = liveness = { type: "tcp", port: spec.port, interval: IMPLIED_INTERVAL };
  }
  return { readiness, liveness };
}

/** What a {@linkcode ServiceHealth} tells its service. */
export interface HealthCallbacks {
  /** The readiness check passed for the first time in the current run. */
  ready(message: string): void;
  /** The liveness check failed `failure_threshold` times in a row. */
  unhealthy(reason: string): void;
  /** A check's state changed (for the orchestrator log). */
  changed?(role: string, from: string, to: string, message: string): void;
}

/** Message of a service without any check. */
export const NO_CHECK = "no check";
/** Message while the service has no process. */
export const NOT_RUNNING = "service is not running";

/** Probers and health state of one service, across its runs. */
export class ServiceHealth {
  #readiness: Prober | undefined;
  #liveness: Prober | undefined;
  #watches: { watch: LogWatch; prober?: Prober }[] = [];
  #callbacks: HealthCallbacks;
  #ready = false;
  #live = false;

  /**
   * @throws {SyntaxError} when a `log` check's pattern is not a valid regular expression.
   */
  constructor(checks: ResolvedChecks, callbacks: HealthCallbacks) {
    this.#callbacks = callbacks;
    const { readiness, liveness } = checks;
    if (readiness) {
      const role = readiness === liveness ? "health" : "readiness";
      this.#readiness = this.#prober(readiness, role, (to, message) => {
        if (to === "healthy" && this.#live && !this.#ready) {
          this.#ready = true;
          callbacks.ready(message);
          // A separate liveness check takes over from here.
          if (this.#liveness && this.#liveness !== this.#readiness) this.#readiness?.stop();
        }
        if (to === "unhealthy" && liveness === readiness) this.#failed(message);
      });
    }
    if (liveness && liveness === readiness) this.#liveness = this.#readiness;
    else if (liveness) {
      this.#liveness = this.#prober(liveness, "liveness", (to, message) => {
        if (to === "unhealthy") this.#failed(message);
      });
    }
  }

  /** Whether a readiness check gates `starting → running`. */
  get hasReadiness(): boolean {
    return this.#readiness !== undefined;
  }

  /** A new run began: forget the output seen so far and start checking. */
  begin(): void {
    this.#live = true;
    this.#ready = false;
    for (const { watch } of this.#watches) watch.reset();
    this.#readiness?.start();
    if (this.#liveness !== this.#readiness) this.#liveness?.start();
  }

  /** The run ended: stop checking; the state becomes `unknown`. */
  end(): void {
    this.#live = false;
    this.#readiness?.stop(NOT_RUNNING);
    this.#liveness?.stop(NOT_RUNNING);
  }

  /**
   * Look at a chunk of the service's output (for `log` checks). A pattern
   * seen for the first time in the run is checked at once, without waiting
   * for the next interval.
   */
  feed(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    for (const { watch, prober } of this.#watches) {
      if (watch.seen) continue;
      watch.feed(stream, chunk);
      if (watch.seen && this.#live && prober?.running) void prober.checkNow();
    }
  }

  /** A log sink that feeds `stream` to the `log` checks, then writes to `sink`. */
  tap(stream: "stdout" | "stderr", sink: LogSink): LogSink {
    if (this.#watches.length === 0) return sink;
    return {
      write: (chunk) => {
        this.feed(stream, chunk);
        return sink.write(chunk);
      },
    };
  }

  /** Health as `list` and `status` show it. */
  info(): HealthInfo {
    const prober = this.#shown();
    if (!prober) {
      return {
        healthy: null,
        message: NO_CHECK,
        state: "unknown",
        last_checked: null,
        consecutive_failures: 0,
      };
    }
    return {
      healthy: prober.state === "unknown" ? null : prober.state === "healthy",
      message: prober.message,
      state: prober.state,
      last_checked: prober.lastCheckedMs === null
        ? null
        : new Date(prober.lastCheckedMs).toISOString(),
      consecutive_failures: prober.consecutiveFailures,
    };
  }

  /** Health with its history; with `now`, one check runs first (and is recorded while the service runs). */
  async detail(now = false): Promise<HealthInfo> {
    const prober = this.#shown();
    if (now && prober && this.#live) await prober.checkNow();
    return { ...this.info(), history: prober ? [...prober.history] : [] };
  }

  /** Stop every prober for good. */
  close(): void {
    this.end();
  }

  #shown(): Prober | undefined {
    if (this.#liveness && (this.#ready || !this.#readiness?.running)) return this.#liveness;
    return this.#readiness ?? this.#liveness;
  }

  #failed(message: string): void {
    const prober = this.#liveness;
    if (!this.#live || !prober) return;
    // The run is doomed: no more checks until the next one.
    prober.stop();
    this.#callbacks.unhealthy(
      `liveness check failed ${prober.consecutiveFailures} times in a row (${message})`,
    );
  }

  #prober(
    spec: HealthCheckSpec,
    role: string,
    onChange: (to: "healthy" | "unhealthy" | "unknown", message: string) => void,
  ): Prober {
    let check: Check;
    let entry: { watch: LogWatch; prober?: Prober } | undefined;
    if (spec.type === "log") {
      entry = { watch: new LogWatch(spec) };
      this.#watches.push(entry);
      check = createCheck(spec, { logWatch: entry.watch });
    } else check = createCheck(spec, { launch: launchCheck });
    const prober = new Prober({
      check,
      timing: checkTiming(spec),
      onChange: (to, from, result) => {
        this.#callbacks.changed?.(role, from, to, result.message);
        onChange(to, result.message);
      },
    });
    if (entry) entry.prober = prober;
    return prober;
  }
}

/**
 * Exec checks run in a session of their own through `setsid` when there is
 * one (a vfork instead of a fork of the orchestrator); a command that cannot
 * be found is reported as such, not as the wrapper's exit code.
 */
const launchCheck: Launcher = (cmd, args) => sessionLaunch(cmd, args, { cmd });
