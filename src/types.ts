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
  /** `healthy`, `unhealthy` or `unknown` (the supervisor always sets it). */
  state?: "healthy" | "unhealthy" | "unknown";
  /** When the last check ended, ISO 8601, or null. */
  last_checked?: string | null;
  /** Failed checks in a row. */
  consecutive_failures?: number;
  /** The last results, newest first (in `GET /api/services/health/{name}` only). */
  history?: HealthRecord[];
}

/** One result in a health history. */
export interface HealthRecord {
  /** When the check started, ISO 8601. */
  at: string;
  /** Whether it passed. */
  ok: boolean;
  /** What it saw. */
  message: string;
  /** How long it took. */
  duration_ms: number;
}

/** Options of {@linkcode ServiceControl.health}. */
export interface HealthOptions {
  /** Run one check now and answer with its outcome. */
  now?: boolean;
}

/** Status of one service as the API returns it (OmegaOS names). */
export interface ServiceStatus {
  /** Name, as in the registry. */
  name: string;
  /** Human-readable name (the name when the registry gives none). */
  display_name: string;
  /** What the service does, or null. */
  description: string | null;
  /** Informational type (`python`, `node`, …), or null. */
  type: string | null;
  /** Lifecycle state. */
  status: ServiceState;
  /** Pid of the current process (the leader of its process group), or null. */
  pid: number | null;
  /** When the current process started, ISO 8601, or null. */
  started_at: string | null;
  /** Seconds since the current process started, 0 when not running. */
  uptime: number;
  /** Restarts done so far (automatic and requested). */
  restarts: number;
  /** Unrequested exits with a non-zero code or a signal. */
  crash_count: number;
  /** How the last process ended, or null before the first exit. */
  last_exit: ExitInfo | null;
  /** When the last restart happened, ISO 8601, or null. */
  last_restart: string | null;
  /** When the next automatic start is due (backoff, cooldown), ISO 8601, or null. */
  next_restart_at: string | null;
  /** Why the service is failed, exited, stopped or waiting; null when nothing to say. */
  reason: string | null;
  /** Whether it starts with edgevisor. */
  autostart: boolean;
  /** When it is restarted after an exit. */
  restart_policy: "never" | "on-failure" | "always";
  /** Port it listens on, as the registry says, or null. */
  port: number | null;
  /** The configured check: a name from `health_checks`, an inline check, or null. */
  health_check: string | HealthCheckSpec | null;
  /** Its health (lifecycle state and health are separate). */
  health: HealthInfo;
  /** CPU use of the whole process group at the last sample, % of one CPU; null without one. */
  cpu_percent: number | null;
  /** Resident memory of the whole process group at the last sample, bytes; null without one. */
  memory_rss_bytes: number | null;
  /** Threads of the whole process group at the last sample; null without one. */
  threads: number | null;
  /** CPU seconds used by the service's processes since the orchestrator started. */
  cpu_seconds: number;
  /** `service`, or `job` for a service that runs to completion. */
  kind: "service" | "job";
  /** Jobs only: the last runs, newest first. */
  runs?: JobRun[];
  /** Jobs with a `schedule` only: when the next run is due, ISO 8601, or null. */
  next_run_at?: string | null;
}

/** One run of a job, as the API shows it. */
export interface JobRun {
  /** Run id: 1 for the first run since edgevisor started, then 2, 3… */
  id: number;
  /** ISO 8601. */
  started_at: string;
  /** ISO 8601, or null while it runs. */
  ended_at: string | null;
  /** Exit code, or null (running, or ended by a signal). */
  exit_code: number | null;
  /** Signal that ended it, or null. */
  signal: string | null;
  /** Duration so far or in total, ms. */
  duration_ms: number;
  /** Last lines of its output (both streams, in order of arrival). */
  output_tail: string[];
}

/** One entry of {@linkcode LogTail.merged}: a line of output, or a start or exit marker. */
export type MergedLogEntry =
  | {
    /** When the line arrived, ISO 8601; null for a line of a file written without times. */
    at: string | null;
    /** Stream the line was written to. */
    stream: "stdout" | "stderr";
    /** The line, without its time prefix and line ending. */
    line: string;
  }
  | {
    /** When the process started or ended, ISO 8601. */
    at: string;
    /** `start` or `exit` of a process of the service. */
    marker: "start" | "exit";
    /** What happened, such as `started (pid 1234)` or `exited with code 1 (pid 1234)`. */
    text: string;
  };

/** Tail of a service's logs. */
export interface LogTail {
  /** Service name. */
  name: string;
  /** Last lines of standard output (when asked for). */
  stdout?: string[];
  /** Last lines of standard error (when asked for). */
  stderr?: string[];
  /**
   * The lines of the streams asked for in time order, with the start and
   * exit markers of the service, oldest first (given by controls whose
   * {@linkcode ServiceControl.logTimes} is true).
   */
  merged?: MergedLogEntry[];
}

/** Options of {@linkcode ServiceControl.logs}. */
export interface LogOptions {
  /** Only lines (and markers) that arrived at or after this time, ms since the epoch. */
  sinceMs?: number;
}

/** Orchestrator-wide health and counts. */
export interface OrchestratorInfo {
  /** edgevisor's version. */
  version: string;
  /** Seconds since the orchestrator started. */
  uptime: number;
  /** The orchestrator's pid. */
  pid: number;
  /** Number of services by state, plus `total`. */
  services: Record<ServiceState | "total", number>;
  /** The orchestrator's own CPU use at the last sample, % of one CPU. */
  cpu_percent?: number | null;
  /** The orchestrator's own resident memory, bytes. */
  memory_rss_bytes?: number;
  /** CPU seconds used by the orchestrator itself. */
  cpu_seconds?: number;
  /** Events published so far. */
  events?: number;
}

/** Options of a stop request. */
export interface StopOptions {
  /** SIGKILL the process group at once instead of the graceful stop. */
  force?: boolean;
}

/** Names of the services a registry reload added, removed, restarted and left alone. */
export interface RegistryDiff {
  /** In the new registry only: created, and started when `autostart`. */
  added: string[];
  /** In the old registry only: stopped and dropped. */
  removed: string[];
  /** In both with a different definition: stopped and started with the new one. */
  changed: string[];
  /** In both with the same definition: left running as they are. */
  untouched: string[];
}

/** What {@linkcode ServiceControl.watch} returns: the statuses, then every later event. */
export interface Watch {
  /** Status of every service, taken in the same turn as the subscription. */
  snapshot: ServiceStatus[];
  /** Stop receiving events. */
  unsubscribe(): void;
}

/** New lines of one captured stream, oldest first. */
export interface LogLines {
  /** Which stream they were written to. */
  stream: "stdout" | "stderr";
  /** The lines, without their line endings. */
  lines: string[];
  /**
   * Only on a batch that marks a gap: bytes of output that were rotated away
   * before the follower read them (`null` when the count is unknown). Its
   * `lines` then hold the one marker line
   * `[edgevisor: N bytes of output skipped: the log rotated faster than it was read]`.
   */
  skipped?: number | null;
  /**
   * When each line arrived, ISO 8601 (null for a line of a file written
   * without times): parallel to `lines`, from controls whose
   * {@linkcode ServiceControl.logTimes} is true.
   */
  at?: (string | null)[];
}

/** Options of {@linkcode ServiceControl.followLogs}. */
export interface FollowOptions {
  /** How many of the last lines of each stream to give first. */
  lines: number;
  /** Which stream(s) to follow. */
  stream: LogStream;
  /** Ends the iteration when aborted. */
  signal: AbortSignal;
  /**
   * Called once if the follower is dropped because more lines waited for it
   * than its bound (a consumer that does not keep up); its iteration ends.
   * The reason is a clause for a log line, such as
   * `its client left more than 1048576 bytes of lines unread`.
   */
  onDropped?: (reason: string) => void;
  /** Only lines that arrived at or after this time, ms since the epoch (controls with `logTimes`). */
  sinceMs?: number;
}

/** One event of a service's {@linkcode ServiceHistory}; every event has `at`, ISO 8601. */
export type HistoryEvent =
  | {
    at: string;
    /** A lifecycle transition. */
    type: "state";
    from: ServiceState;
    to: ServiceState;
    reason: string | null;
    pid: number | null;
  }
  | {
    at: string;
    /** The end of a process. */
    type: "exit";
    pid: number;
    code: number | null;
    signal: string | null;
  }
  | {
    at: string;
    /** A change of health. */
    type: "health";
    role: "readiness" | "liveness" | "health";
    from: "healthy" | "unhealthy" | "unknown";
    to: "healthy" | "unhealthy" | "unknown";
    message: string;
  }
  | {
    at: string;
    /** A requested action. */
    type: "action";
    action: "start" | "stop" | "restart" | "run" | "kill";
  };

/** What happened to a service lately, and its CPU and memory over time. */
export interface ServiceHistory {
  /** The last 100 events of the service, oldest first. */
  events: HistoryEvent[];
  /** CPU and memory, one point per `step` seconds, oldest first. */
  series: {
    /** Seconds between two points. */
    step: number;
    /** End of the interval of the last point, ISO 8601. */
    end: string;
    /** CPU use of the service's processes, % of one core; null without a process or a sample. */
    cpu_percent: (number | null)[];
    /** Resident memory of the service's processes, bytes; null without a process or a sample. */
    memory_rss_bytes: (number | null)[];
  };
}

/**
 * What the API and other front ends need from the supervisor. Every method
 * that names a service throws `NotFoundError` for an unknown name and
 * `ConflictError` when the request does not fit the current state. The
 * optional members are offered by controls that have them; the API answers
 * 404 (`run`) or 501 (`history`, `since` without `logTimes`) without them.
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
  /** Last `lines` lines of the chosen stream(s); with `logTimes`, also `merged`, and `sinceMs` honoured. */
  logs(name: string, lines: number, stream: LogStream, options?: LogOptions): Promise<LogTail>;
  /**
   * Whether log lines carry their arrival times: `logs` gives `merged` and
   * honours `sinceMs`, followed lines come with `at`. Without it, a request
   * with `since` answers 501.
   */
  readonly logTimes?: boolean;
  /** The last events and the CPU and memory series of one service; without it, history answers 501. */
  history?(name: string): ServiceHistory | Promise<ServiceHistory>;
  /** Health of one service, with its history; runs a check first with `now`. */
  health(name: string, options?: HealthOptions): HealthInfo | Promise<HealthInfo>;
  /** Orchestrator-wide information. */
  info(): OrchestratorInfo;
  /** Start one run of a job; resolves once it is spawned, with its run id. */
  run?(name: string): Promise<{ run_id: number; status: ServiceStatus }>;
  /** Snapshot of every service and, with nothing missed or repeated between them, every later event. */
  watch(listener: (event: SupervisorEvent) => void): Watch;
  /** The last lines of the chosen stream(s), then new lines as they are written, across rotations. */
  followLogs(name: string, options: FollowOptions): AsyncIterable<LogLines>;
  /**
   * Re-read the registry file and apply it; an invalid registry changes
   * nothing and throws `RegistryError` with every problem.
   */
  reload(): Promise<RegistryDiff>;
  /** Add a service at run time: validated like the registry, written back to the registry file. */
  addService(definition: unknown): Promise<ServiceStatus>;
  /** Replace a service's definition (written back); it restarts with the new one. */
  replaceService(name: string, definition: unknown): Promise<ServiceStatus>;
  /** Stop a service and remove it from the registry file. */
  removeService(name: string): Promise<void>;
}

/** A service changed lifecycle state. */
export interface StateEvent {
  /** Discriminant. */
  type: "state";
  /** Service name. */
  service: string;
  /** State before. */
  from: ServiceState;
  /** State after. */
  to: ServiceState;
  /** Why, for people; null when there is nothing to add. */
  reason: string | null;
  /** When, ISO 8601. */
  at: string;
  /** Pid of the process concerned, when there is one. */
  pid: number | null;
  /** How the process ended, on transitions caused by an exit. */
  exit?: ExitInfo;
  /** When the next start is due, in `backoff` and `cooldown`. */
  next_restart_at?: string;
}

/** A health check of a service changed its verdict. */
export interface HealthEvent {
  /** Discriminant. */
  type: "health";
  /** Service name. */
  service: string;
  /** Which check: `readiness`, `liveness`, or `health` for one check in both roles. */
  role: string;
  /** Verdict before: `unknown`, `healthy` or `unhealthy`. */
  from: string;
  /** Verdict after. */
  to: string;
  /** The check's last message. */
  message: string;
  /** When, ISO 8601. */
  at: string;
}

/** Every event the bus carries (a discriminated union on `type`). */
export type SupervisorEvent = StateEvent | HealthEvent;
