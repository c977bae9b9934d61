/**
 * Shared types: service states, the status shape of the API, and the narrow
 * interface through which the API and the CLI see the supervisor.
 *
 * @module
 */
import type { HealthCheckSpec } from "./registry/schema.ts";

/** Lifecycle state of one service. Health is a separate field. */
export type ServiceState =
  | "stopped"
  | "starting"
  | "running"
  | "backoff"
  | "cooldown"
  | "stopping"
  | "exited"
  | "failed";

/** Every lifecycle state, in a stable order (used for counts). */
export const SERVICE_STATES: readonly ServiceState[] = [
  "stopped",
  "starting",
  "running",
  "backoff",
  "cooldown",
  "stopping",
  "exited",
  "failed",
];

/** Which captured stream to read. */
export type LogStream = "stdout" | "stderr" | "both";

/** How a process ended. */
export interface ExitInfo {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  /** Signal name such as `SIGKILL`, or null. */
  signal: string | null;
  /** When it ended, ISO 8601. */
  at: string;
}

/** Health as shown by the API; `healthy` is null until a check has run. */
export interface HealthInfo {
  /** true, false, or null for unknown. */
  healthy: boolean | null;
  /** Last message of the check, or `no check`. */
  message: string;
}

/** Status of one service as the API returns it (OmegaOS names). */
export interface ServiceStatus {
  name: string;
  display_name: string;
  description: string | null;
  type: string | null;
  /** Lifecycle state. */
  status: ServiceState;
  pid: number | null;
  /** When the current process started, ISO 8601, or null. */
  started_at: string | null;
  /** Seconds since the current process started, 0 when not running. */
  uptime: number;
  /** Restarts done so far (automatic and requested). */
  restarts: number;
  /** Unrequested exits with a non-zero code or a signal. */
  crash_count: number;
  last_exit: ExitInfo | null;
  /** When the last restart happened, ISO 8601, or null. */
  last_restart: string | null;
  /** When the next automatic start is due (backoff, cooldown), ISO 8601, or null. */
  next_restart_at: string | null;
  /** Why the service is failed, exited, stopped or waiting; null when nothing to say. */
  reason: string | null;
  autostart: boolean;
  restart_policy: "never" | "on-failure" | "always";
  port: number | null;
  /** The configured check: a name from `health_checks`, an inline check, or null. */
  health_check: string | HealthCheckSpec | null;
  health: HealthInfo;
}

/** Tail of a service's logs. */
export interface LogTail {
  name: string;
  stdout?: string[];
  stderr?: string[];
}

/** Orchestrator-wide health and counts. */
export interface OrchestratorInfo {
  version: string;
  /** Seconds since the orchestrator started. */
  uptime: number;
  pid: number;
  /** Number of services by state, plus `total`. */
  services: Record<ServiceState | "total", number>;
}

/** Options of a stop request. */
export interface StopOptions {
  /** SIGKILL the process group at once instead of the graceful stop. */
  force?: boolean;
}

/**
 * What the API and other front ends need from the supervisor. Every method
 * that names a service throws `NotFoundError` for an unknown name and
 * `ConflictError` when the request does not fit the current state.
 */
export interface ServiceControl {
  /** Status of every service, in registry order. */
  list(): ServiceStatus[];
  /** Status of one service. */
  status(name: string): ServiceStatus;
  /** Start a service that is not running; resolves once it has been spawned. */
  start(name: string): Promise<ServiceStatus>;
  /** Stop a live service; resolves once its whole process group is gone. */
  stop(name: string, options?: StopOptions): Promise<ServiceStatus>;
  /** Stop (if live) and start again. */
  restart(name: string): Promise<ServiceStatus>;
  /** Last `lines` lines of the chosen stream(s). */
  logs(name: string, lines: number, stream: LogStream): Promise<LogTail>;
  /** Health of one service. */
  health(name: string): HealthInfo;
  /** Orchestrator-wide information. */
  info(): OrchestratorInfo;
}
