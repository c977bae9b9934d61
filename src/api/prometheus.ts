/**
 * `GET /metrics`: the services and the orchestrator in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * @module
 */
import { type OrchestratorInfo, SERVICE_STATES, type ServiceStatus } from "../types.ts";

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escape a label value: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Render every service status and the orchestrator's information as Prometheus text. */
export function formatPrometheus(services: ServiceStatus[], info: OrchestratorInfo): string {
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
  family("edgevisor_info", "gauge", "Version of edgevisor.", [[{ version: info.version }, 1]]);
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
