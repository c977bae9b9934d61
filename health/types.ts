/**
 * Shapes shared by the check kinds and the prober. The health module is a
 * leaf: it imports nothing from the rest of edgevisor, so these mirror the
 * registry's health-check fields (durations in seconds, as written).
 *
 * @module
 */

/** Timing of a check, in seconds, as written in a registry. */
export interface CheckTimingSpec {
  /** Seconds to wait after start before the first check. @default 0 */
  initial_delay?: number;
  /** Seconds between the end of one check and the start of the next. @default 10 */
  interval?: number;
  /** Seconds one check may take before it is aborted and counted as failed. @default 2 */
  timeout?: number;
  /** Consecutive successes to become healthy. @default 1 */
  success_threshold?: number;
  /** Consecutive failures to become unhealthy. @default 3 */
  failure_threshold?: number;
}

/** Connect to `host:port`. */
export interface TcpCheckSpec extends CheckTimingSpec {
  /** Discriminant. */
  type: "tcp";
  /** @default "127.0.0.1" */
  host?: string;
  /** TCP port. */
  port: number;
}

/** An HTTP request whose status falls in `expected_status`. */
export interface HttpCheckSpec extends CheckTimingSpec {
  /** Discriminant. */
  type: "http";
  /** Full URL; when absent, built from `host`, `port` and `path`. */
  url?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** Port, when `url` is absent. */
  port?: number;
  /** @default "/" */
  path?: string;
  /** @default "GET" */
  method?: "GET" | "HEAD" | "POST";
  /** Inclusive range of healthy statuses. @default [200, 399] */
  expected_status?: [number, number];
  /** A substring the body must contain. */
  body_contains?: string;
}

/** A command whose exit code 0 means healthy. */
export interface ExecCheckSpec extends CheckTimingSpec {
  /** Discriminant. */
  type: "exec";
  /** Program to run (looked up in `PATH`). */
  command: string;
  /** Its arguments. @default [] */
  args?: string[];
}

/** A file that exists (and was modified within `max_age` seconds). */
export interface FileCheckSpec extends CheckTimingSpec {
  /** Discriminant. */
  type: "file";
  /** Path of the file. */
  path: string;
  /** Largest age in seconds of its last modification. */
  max_age?: number;
}

/** A regular expression seen in the output of the service's current run. */
export interface LogCheckSpec extends CheckTimingSpec {
  /** Discriminant. */
  type: "log";
  /** Regular expression, matched line by line. */
  pattern: string;
  /** Which output to watch. @default "both" */
  stream?: "stdout" | "stderr" | "both";
}

/** Any check, discriminated on `type`. */
export type CheckSpec =
  | TcpCheckSpec
  | HttpCheckSpec
  | ExecCheckSpec
  | FileCheckSpec
  | LogCheckSpec;

/** The outcome of one check. */
export interface CheckResult {
  /** Whether the check passed. */
  ok: boolean;
  /** What was seen, for people: `HTTP 200`, `connection refused`, `timed out after 2s`. */
  message: string;
}

/** One check, run with a signal that aborts it at its timeout. Never rejects. */
export type Check = (signal: AbortSignal) => Promise<CheckResult>;

/** Health state derived from consecutive results. */
export type HealthState = "healthy" | "unhealthy" | "unknown";

/** One entry of a prober's history. */
export interface CheckRecord {
  /** When the check started, ISO 8601. */
  at: string;
  /** Whether it passed. */
  ok: boolean;
  /** Its message. */
  message: string;
  /** How long it took, in milliseconds. */
  duration_ms: number;
}

/** Timing in milliseconds, with every default applied. */
export interface CheckTiming {
  /** Delay before the first check. */
  initialDelayMs: number;
  /** Pause between two checks. */
  intervalMs: number;
  /** Time one check may take. */
  timeoutMs: number;
  /** Consecutive successes to become healthy. */
  successThreshold: number;
  /** Consecutive failures to become unhealthy. */
  failureThreshold: number;
}

/** Apply the defaults (0, 10, 2, 1, 3) to the timing of `spec` and convert to milliseconds. */
export function checkTiming(spec: CheckTimingSpec): CheckTiming {
  return {
    initialDelayMs: (spec.initial_delay ?? 0) * 1000,
    intervalMs: (spec.interval ?? 10) * 1000,
    timeoutMs: (spec.timeout ?? 2) * 1000,
    successThreshold: spec.success_threshold ?? 1,
    failureThreshold: spec.failure_threshold ?? 3,
  };
}
