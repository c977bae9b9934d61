/**
 * The health checks of one service: one prober per distinct check of the
 * roles `resolveChecks` (in `src/registry/checks.ts`) gives, and the health
 * shown by the API. Readiness passing and liveness failing are reported to
 * the service through callbacks; this file decides nothing about processes.
 *
 * @module
 */
import {
  type Check,
  type CheckResult,
  checkTiming,
  createCheck,
  type HealthState,
  type Launcher,
  LogWatch,
  Prober,
} from "../../health/mod.ts";
import { sessionLaunch } from "./guards.ts";
import type { LogSink } from "../logs/capture.ts";
import type { ResolvedChecks } from "../registry/checks.ts";
import type { HealthCheckSpec } from "../registry/schema.ts";
import type { HealthInfo } from "../types.ts";

// The resolver of a service's checks lives in the registry layer; re-exported
// for the modules that take it from here.
export { IMPLIED_INTERVAL, resolveChecks, type ResolvedChecks } from "../registry/checks.ts";

/** What a {@linkcode ServiceHealth} tells its service. */
export interface HealthCallbacks {
  /** The readiness check passed for the first time in the current run. */
  ready(message: string): void;
  /** The liveness check failed `failure_threshold` times in a row. */
  unhealthy(reason: string): void;
  /**
   * The health shown changed: `role` is the check's (`readiness`,
   * `liveness`, or `health` for one check in both roles).
   */
  changed?(role: string, from: HealthState, to: HealthState, message: string): void;
}

/** Message of a service without any check. */
export const NO_CHECK = "no check";
/** Message after a requested stop. */
export const NOT_RUNNING = "service is not running";
/** Message before the first check. */
export const NOT_CHECKED = "not checked yet";

/** The health shown, across the runs of the service. */
interface Shown {
  state: HealthState;
  message: string;
  lastCheckedMs: number | null;
  failures: number;
  /** Role of the check that gave it. */
  role: string;
}

/**
 * Probers and health state of one service, across its runs.
 *
 * The health shown is the verdict of the last checks, whatever run they
 * checked: a verdict holds through the end of a process, backoff and
 * cooldown, until checks of a new process reach another (a failing service
 * stays `unhealthy`, with the message of its last failed check, until a
 * check of a new process passes `success_threshold` times in a row). It is
 * `unknown` only before any check has run, or after a requested stop
 * ({@linkcode ServiceHealth.clear}).
 */
export class ServiceHealth {
  #readiness: Prober | undefined;
  #liveness: Prober | undefined;
  #watches: { watch: LogWatch; prober?: Prober }[] = [];
  #callbacks: HealthCallbacks;
  #ready = false;
  #live = false;
  #shown: Shown = {
    state: "unknown",
    message: NOT_CHECKED,
    lastCheckedMs: null,
    failures: 0,
    role: "health",
  };

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

  /** A new run began: forget the output seen so far and start checking (the health shown holds). */
  begin(): void {
    this.#live = true;
    this.#ready = false;
    if (this.#shown.state === "unknown") this.#shown.message = NOT_CHECKED;
    for (const { watch } of this.#watches) watch.reset();
    this.#readiness?.start();
    if (this.#liveness !== this.#readiness) this.#liveness?.start();
  }

  /** The run ended: stop checking; the health shown holds until checks of a new run. */
  end(): void {
    this.#live = false;
    this.#readiness?.stop(NOT_RUNNING);
    this.#liveness?.stop(NOT_RUNNING);
  }

  /** A stop was requested: stop checking; the health becomes `unknown`. */
  clear(): void {
    this.end();
    if (!this.#readiness && !this.#liveness) return;
    const from = this.#shown.state;
    // Nothing of the last verdict stays, its time included.
    this.#shown = {
      ...this.#shown,
      state: "unknown",
      message: NOT_RUNNING,
      failures: 0,
      lastCheckedMs: null,
    };
    if (from !== "unknown") {
      this.#callbacks.changed?.(this.#shown.role, from, "unknown", NOT_RUNNING);
    }
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
    if (!this.#readiness && !this.#liveness) {
      return {
        healthy: null,
        message: NO_CHECK,
        state: "unknown",
        last_checked: null,
        consecutive_failures: 0,
      };
    }
    const { state, message, lastCheckedMs, failures } = this.#shown;
    return {
      healthy: state === "unknown" ? null : state === "healthy",
      message,
      state,
      last_checked: lastCheckedMs === null ? null : new Date(lastCheckedMs).toISOString(),
      consecutive_failures: failures,
    };
  }

  /** Health with its history; with `now`, one check runs first (and is recorded while the service runs). */
  async detail(now = false): Promise<HealthInfo> {
    const prober = this.#current();
    if (now && prober && this.#live) await prober.checkNow();
    return { ...this.info(), history: prober ? [...prober.history] : [] };
  }

  /** Stop every prober for good. */
  close(): void {
    this.end();
  }

  /** The prober whose history is shown: readiness until the service is ready, then liveness. */
  #current(): Prober | undefined {
    if (this.#liveness && (this.#ready || !this.#readiness?.running)) return this.#liveness;
    return this.#readiness ?? this.#liveness;
  }

  /**
   * Take a result of a check of the current run (`state`: its prober's state
   * after it): a prober's verdict replaces the one shown; below its
   * thresholds, the verdict shown holds, with the message of the last result
   * that agrees with it.
   */
  #result(role: string, result: CheckResult, state: HealthState): void {
    const shown = this.#shown;
    const from = shown.state;
    const to = state === "unknown" ? from : state;
    const agrees = to === "unknown" || (to === "unhealthy") === !result.ok;
    this.#shown = {
      state: to,
      message: agrees ? result.message : shown.message,
      lastCheckedMs: Date.now(),
      failures: result.ok ? 0 : shown.failures + 1,
      role: to === from ? shown.role : role,
    };
    if (to !== from) this.#callbacks.changed?.(role, from, to, result.message);
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
      onResult: (result, state) => {
        if (this.#live) this.#result(role, result, state);
      },
      onChange: (to, _from, result) => onChange(to, result.message),
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
