/**
 * `GET /metrics`: the services and the orchestrator in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * @module
 */
import {
  type OrchestratorInfo,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceState,
  type ServiceStatus,
} from "../types.ts";

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escape a label value: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Lifecycle transitions counted by service, then by the state entered. */
export type TransitionCounts = ReadonlyMap<string, ReadonlyMap<ServiceState, number>>;

/**
 * Counts the lifecycle transitions of every service from the event stream
 * of a control (`watch`), from its creation on: a stop and start shorter
 * than the time between two scrapes still shows.
 */
export class TransitionCounter {
  readonly #counts = new Map<string, Map<ServiceState, number>>();

  /** Count the `state` events of `control` until `signal` is aborted. */
  constructor(control: ServiceControl, signal?: AbortSignal) {
    if (signal?.aborted) return;
    const watch = control.watch((event) => {
      if (event.type !== "state") return;
      let byState = this.#counts.get(event.service);
      if (byState === undefined) this.#counts.set(event.service, byState = new Map());
      byState.set(event.to, (byState.get(event.to) ?? 0) + 1);
    });
    signal?.addEventListener("abort", () => watch.unsubscribe(), { once: true });
  }

  /** The counts so far. */
  counts(): TransitionCounts {
    return this.#counts;
  }
}

/** Linux numbers of the signals a service may end by, for `edgevisor_service_last_exit_code`. */
const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGWINCH: 28,
  SIGSYS: 31,
};

/**
 * The exit code of `exit` as a shell shows it: the code, or 128 plus the
 * number of the signal that ended the process (-1 for a signal of unknown number).
 *
 * @example
 * ```ts
 * exitCodeOf({ code: null, signal: "SIGKILL", at: "" }); // 137
 * ```
 */
export function exitCodeOf(exit: NonNullable<ServiceStatus["last_exit"]>): number {
  if (exit.code !== null) return exit.code;
  const signal = exit.signal === null ? undefined : SIGNAL_NUMBERS[exit.signal];
  return signal === undefined ? -1 : 128 + signal;
}

/**
 * Render every service status, the transitions counted so far and the
 * orchestrator's information as Prometheus text.
 */
export function formatPrometheus(
  services: ServiceStatus[],
  info: OrchestratorInfo,
  transitions: TransitionCounts = new Map(),
): string {
  const out: string[] = [];
  const family = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    samples: [labels: Record<string, string>, value: number][],
  ) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
      out.push(`${name}${text ? `{${text}}` : ""} ${formatValue(value)}`);
    }
  };
  const per = (value: (s: ServiceStatus) => number) =>
    services.map((s): [Record<string, string>, number] => [{ service: s.name }, value(s)]);

  family(
    "edgevisor_service_state",
    "gauge",
    "Lifecycle state of the service (1 for the current state).",
    services.flatMap((s) =>
      SERVICE_STATES.map((state): [Record<string, string>, number] => [
        { service: s.name, state },
        s.status === state ? 1 : 0,
      ])
    ),
  );
  family(
    "edgevisor_service_health",
    "gauge",
    "Health of the service (1 for the current health: healthy, unhealthy or unknown).",
    services.flatMap((s) => {
      const current = s.health.healthy === null
        ? "unknown"
        : s.health.healthy
        ? "healthy"
        : "unhealthy";
      return ["healthy", "unhealthy", "unknown"].map((
        health,
      ): [Record<string, string>, number] => [
        { service: s.name, health },
        health === current ? 1 : 0,
      ]);
    }),
  );
  family(
    "edgevisor_service_restarts_total",
    "counter",
    "Restarts of the service.",
    per((s) => s.restarts),
  );
  family(
    "edgevisor_service_crashes_total",
    "counter",
    "Unrequested exits with a non-zero code or a signal.",
    per((s) => s.crash_count),
  );
  family(
    "edgevisor_service_cpu_seconds_total",
    "counter",
    "CPU seconds used by the service's process groups.",
    per((s) => s.cpu_seconds),
  );
  family(
    "edgevisor_service_memory_rss_bytes",
    "gauge",
    "Resident memory of the service's process group (0 without a process).",
    per((s) => s.memory_rss_bytes ?? 0),
  );
  family(
    "edgevisor_service_cpu_percent",
    "gauge",
    "CPU use of the service's process group between the last two samples, % of one CPU.",
    per((s) => s.cpu_percent ?? 0),
  );
  family(
    "edgevisor_service_uptime_seconds",
    "gauge",
    "Seconds since the current process started (0 without one).",
    per((s) => s.uptime),
  );
  family(
    "edgevisor_service_start_time_seconds",
    "gauge",
    "Start time of the current process, seconds since the epoch (0 without one).",
    per((s) => s.started_at === null ? 0 : Date.parse(s.started_at) / 1000),
  );
  family(
    "edgevisor_service_last_exit_code",
    "gauge",
    "Exit code of the last process that ended (128 + the signal number when a signal ended it); absent before the first exit.",
    services.flatMap((s): [Record<string, string>, number][] =>
      s.last_exit === null ? [] : [[{ service: s.name }, exitCodeOf(s.last_exit)]]
    ),
  );
  family(
    "edgevisor_service_transitions_total",
    "counter",
    "Lifecycle transitions of the service since edgevisor started, by the state entered.",
    services.flatMap((s) =>
      SERVICE_STATES.map((to): [Record<string, string>, number] => [
        { service: s.name, to },
        transitions.get(s.name)?.get(to) ?? 0,
      ])
    ),
  );
  family("edgevisor_info", "gauge", "Version of edgevisor.", [[{ version: info.version }, 1]]);
  family("edgevisor_build_info", "gauge", "Version of edgevisor and of the Deno it runs on.", [[
    { version: info.version, deno: Deno.version.deno },
    1,
  ]]);
  family("edgevisor_uptime_seconds", "gauge", "Seconds since edgevisor started.", [[
    {},
    info.uptime,
  ]]);
  family("edgevisor_cpu_seconds_total", "counter", "CPU seconds used by edgevisor itself.", [[
    {},
    info.cpu_seconds ?? 0,
  ]]);
  family("edgevisor_memory_rss_bytes", "gauge", "Resident memory of edgevisor itself.", [[
    {},
    info.memory_rss_bytes ?? 0,
  ]]);
  family("edgevisor_events_total", "counter", "Events published by edgevisor.", [[
    {},
    info.events ?? 0,
  ]]);
  return out.join("\n") + "\n";
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
