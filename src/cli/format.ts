/**
 * Pure formatters of the CLI's human output: tables, `key: value` blocks,
 * durations, log sections. No I/O; colour only when asked for.
 *
 * @module
 */
import type { LogsBody } from "../api/wire.ts";
import type {
  ExitInfo,
  HealthInfo,
  OrchestratorInfo,
  ServiceState,
  ServiceStatus,
} from "../types.ts";
import { SERVICE_STATES } from "../types.ts";

/** Options of the formatters that may colour their output. */
export interface FormatOptions {
  /** Colour the lifecycle state with ANSI escapes. @default false */
  color?: boolean;
}

// deno-lint-ignore no-control-regex -- matching ANSI escapes is the point
const ANSI = /\x1b\[[0-9;]*m/g;

const STATE_COLORS: Record<ServiceState, string> = {
  running: "\x1b[32m", // green
  starting: "\x1b[33m", // yellow
  backoff: "\x1b[33m",
  stopping: "\x1b[33m",
  failed: "\x1b[31m", // red
  cooldown: "\x1b[31m",
  stopped: "\x1b[2m", // dim
  exited: "\x1b[2m",
};

/** Width of `text` as shown on a terminal, ignoring ANSI escapes. */
function visibleWidth(text: string): number {
  return [...text.replace(ANSI, "")].length;
}

/**
 * Align rows into columns two spaces apart; the first row is the header.
 * ANSI escapes in cells do not count towards the width. No trailing spaces,
 * no trailing newline.
 *
 * @example
 * ```ts
 * formatTable([["NAME", "PID"], ["api", "12"]]); // "NAME  PID\napi   12"
 * ```
 */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleWidth(cell))
        )
        .join("  ")
        .trimEnd()
    )
    .join("\n");
}

/**
 * A duration in seconds, in the two largest units: `3s`, `4m12s`, `2h05m`,
 * `3d04h`. Fractions are dropped; a negative or non-finite value gives `-`.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

/** A lifecycle state, coloured when `color` is true. */
export function formatState(state: ServiceState, options: FormatOptions = {}): string {
  return options.color ? `${STATE_COLORS[state]}${state}\x1b[0m` : state;
}

/** Health in one word: `healthy`, `unhealthy`, `unknown`, or `-` when there is no check. */
export function formatHealthWord(health: HealthInfo): string {
  if (health.healthy === true) return "healthy";
  if (health.healthy === false) return "unhealthy";
  return health.message === "no check" ? "-" : "unknown";
}

/** The table of `edgevisor ls`: NAME STATUS PID UPTIME CPU MEM RESTARTS CRASHES HEALTH REASON. */
export function formatServices(services: ServiceStatus[], options: FormatOptions = {}): string {
  const header = [
    "NAME",
    "STATUS",
    "PID",
    "UPTIME",
    "CPU",
    "MEM",
    "RESTARTS",
    "CRASHES",
    "HEALTH",
    "REASON",
  ];
  return formatTable([
    header,
    ...services.map((s) => [
      s.name,
      formatState(s.status, options),
      s.pid === null ? "-" : String(s.pid),
      uptime(s),
      formatCpu(s.cpu_percent),
      formatBytes(s.memory_rss_bytes),
      String(s.restarts),
      String(s.crash_count),
      formatHealthWord(s.health),
      s.reason ?? "-",
    ]),
  ]);
}

/** Aligned `key: value` lines (values start in one column). */
export function formatKeyValues(entries: [string, string][]): string {
  const width = Math.max(0, ...entries.map(([key]) => key.length + 1));
  return entries.map(([key, value]) => `${(key + ":").padEnd(width)} ${value}`.trimEnd()).join(
    "\n",
  );
}

/** Every field of one service as aligned `key: value` lines (`edgevisor status`). */
export function formatStatus(status: ServiceStatus, options: FormatOptions = {}): string {
  const dash = (value: string | number | null) => (value === null ? "-" : String(value));
  return formatKeyValues([
    ["name", status.name],
    ["display_name", status.display_name],
    ["description", dash(status.description)],
    ["type", dash(status.type)],
    ["status", formatState(status.status, options)],
    ["pid", dash(status.pid)],
    ["started_at", dash(status.started_at)],
    ["uptime", uptime(status)],
    ["restarts", String(status.restarts)],
    ["crash_count", String(status.crash_count)],
    ["last_exit", formatExit(status.last_exit)],
    ["last_restart", dash(status.last_restart)],
    ["next_restart_at", dash(status.next_restart_at)],
    ["reason", dash(status.reason)],
    ["autostart", String(status.autostart)],
    ["restart_policy", status.restart_policy],
    ["port", dash(status.port)],
    ["health", formatHealth(status.health)],
    ["cpu", formatCpu(status.cpu_percent)],
    ["memory", formatBytes(status.memory_rss_bytes)],
    ["threads", dash(status.threads)],
    ...(status.kind === "job" ? jobLines(status) : []),
  ]);
}

/** Extra `status` lines of a job: its next scheduled run and its last runs. */
function jobLines(status: ServiceStatus): [string, string][] {
  const lines: [string, string][] = [["kind", "job"]];
  if (status.next_run_at !== undefined) lines.push(["next_run_at", status.next_run_at ?? "-"]);
  for (const run of (status.runs ?? []).slice(0, 5)) {
    const how = run.ended_at === null
      ? "running"
      : run.signal !== null
      ? `killed by ${run.signal}`
      : `exit ${run.exit_code}`;
    lines.push([`run ${run.id}`, `${run.started_at} ${how} (${run.duration_ms} ms)`]);
  }
  return lines;
}

/** CPU use as `12.5%`, or `-` without a sample. */
export function formatCpu(percent: number | null | undefined): string {
  return percent === null || percent === undefined ? "-" : `${percent.toFixed(1)}%`;
}

/** Bytes in binary units: `512B`, `1.5K`, `12.3M`, `1.2G`; `-` for null. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "-";
  const units = ["B", "K", "M", "G", "T"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit]}`;
}

/** Health with its message: `healthy (OK)`, `unknown (no check)`. */
export function formatHealth(health: HealthInfo): string {
  const word = health.healthy === null ? "unknown" : health.healthy ? "healthy" : "unhealthy";
  return health.message ? `${word} (${health.message})` : word;
}

/** How a process ended: `code 1 at …`, `signal SIGKILL at …`, or `-`. */
export function formatExit(exit: ExitInfo | null): string {
  if (exit === null) return "-";
  const how = exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code ?? "?"}`;
  return `${how} at ${exit.at}`;
}

/** Orchestrator health (`edgevisor health`): version, pid, uptime and counts by state. */
export function formatOrchestrator(info: OrchestratorInfo, url: string): string {
  const counts = SERVICE_STATES.filter((state) => (info.services[state] ?? 0) > 0)
    .map((state) => `${info.services[state]} ${state}`);
  return formatKeyValues([
    ["url", url],
    ["version", info.version],
    ["pid", String(info.pid)],
    ["uptime", formatDuration(info.uptime)],
    ["services", `${info.services.total}${counts.length ? ` (${counts.join(", ")})` : ""}`],
  ]);
}

/**
 * Log lines of `edgevisor logs`. With both streams, each gets a
 * `==> stdout <==` / `==> stderr <==` header, as `tail` does for several files.
 */
export function formatLogs(body: Pick<LogsBody, "stream" | "stdout" | "stderr">): string {
  if (body.stream !== "both") return (body[body.stream] ?? []).join("\n");
  const section = (stream: "stdout" | "stderr") =>
    [`==> ${stream} <==`, ...(body[stream] ?? [])].join("\n");
  return `${section("stdout")}\n\n${section("stderr")}`;
}

function uptime(status: ServiceStatus): string {
  return status.started_at === null ? "-" : formatDuration(status.uptime);
}
