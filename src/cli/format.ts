/**
 * Pure formatters of the CLI's human output: tables, `key: value` blocks,
 * log sections, and the terminal side of the figures (colour, widths); the
 * figures themselves are formatted by `../status_view.ts`, which the web
 * page shares. No I/O; colour only when asked for.
 *
 * @module
 */
import type { LogsBody } from "../api/wire.ts";
import type {
  ExitInfo,
  HealthInfo,
  MergedLogEntry,
  OrchestratorInfo,
  ServiceState,
  ServiceStatus,
} from "../types.ts";
import { SERVICE_STATES } from "../types.ts";
import {
  formatBytes,
  formatCpu,
  formatDuration,
  formatHealthWord,
  liveUptime,
  sortServices,
} from "../status_view.ts";

export { formatBytes, formatCpu, formatDuration, formatHealthWord };

/** Options of the formatters that may colour their output. */
export interface FormatOptions {
  /** Colour the lifecycle state with ANSI escapes. @default false */
  color?: boolean;
}

// deno-lint-ignore no-control-regex -- matching ANSI escapes is the point
const ANSI = /\x1b\[[0-9;]*m/g;
// deno-lint-ignore no-control-regex -- splitting at ANSI escapes, keeping them
const ANSI_PARTS = /(\x1b\[[0-9;]*m)/;

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
export function visibleWidth(text: string): number {
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

/** A lifecycle state, coloured when `color` is true. */
export function formatState(state: ServiceState, options: FormatOptions = {}): string {
  return options.color ? `${STATE_COLORS[state]}${state}\x1b[0m` : state;
}

/** Column headers of the services table (`edgevisor ls`, `edgevisor top`). */
export const SERVICE_COLUMNS: readonly string[] = [
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

/**
 * The cells of one service in the services table, under
 * {@linkcode SERVICE_COLUMNS}; `-` for what is not known.
 */
export function serviceRow(status: ServiceStatus, options: FormatOptions = {}): string[] {
  return [
    status.name,
    formatState(status.status, options),
    status.pid === null ? "-" : String(status.pid),
    uptime(status),
    formatCpu(status.cpu_percent),
    formatBytes(status.memory_rss_bytes),
    String(status.restarts),
    String(status.crash_count),
    formatHealthWord(status.health),
    status.reason ?? "-",
  ];
}

/**
 * The table of `edgevisor ls`, problems first (see `sortServices`):
 * NAME STATUS PID UPTIME CPU MEM RESTARTS CRASHES HEALTH REASON.
 */
export function formatServices(services: ServiceStatus[], options: FormatOptions = {}): string {
  return formatTable([
    [...SERVICE_COLUMNS],
    ...sortServices(services).map((s) => serviceRow(s, options)),
  ]);
}

/**
 * `text` cut to `width` columns of a terminal; ANSI escapes take no room and
 * are kept, and a cut line ends with a reset so that no style leaks.
 */
export function fitWidth(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  let out = "";
  let shown = 0;
  for (const part of text.split(ANSI_PARTS)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    const chars = [...part].slice(0, Math.max(0, width - shown));
    out += chars.join("");
    shown += chars.length;
  }
  return text.includes("\x1b[") ? out + "\x1b[0m" : out;
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
 * The lines of a logs answer: with `merged`, one line per entry in time
 * order ({@linkcode formatLogEntry}); without (an orchestrator that keeps no
 * times), each stream asked for under a `==> stdout <==` heading.
 */
export function formatLogs(
  body: Pick<LogsBody, "stream" | "stdout" | "stderr" | "merged">,
  options: FormatOptions = {},
): string {
  if (body.merged !== undefined) {
    return body.merged.map((entry) => formatLogEntry(entry, options)).join("\n");
  }
  if (body.stream !== "both") return (body[body.stream] ?? []).join("\n");
  const section = (stream: "stdout" | "stderr") =>
    [`==> ${stream} <==`, ...(body[stream] ?? [])].join("\n");
  return `${section("stdout")}\n\n${section("stderr")}`;
}

/** Width of {@linkcode formatLogTime}'s text. */
const LOG_TIME_WIDTH = 23;

/**
 * A time of merged logs in local time, `YYYY-MM-DD HH:MM:SS.mmm`; spaces
 * for a line without a time, and the text as it is when it is not a time.
 */
export function formatLogTime(at: string | null): string {
  if (at === null) return " ".repeat(LOG_TIME_WIDTH);
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) return at;
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${
    two(d.getMinutes())
  }:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/**
 * One entry of merged logs as a line: its time, `out` or `err` and the
 * line, or `---` and the text of a start or exit marker.
 *
 * @example
 * ```ts ignore
 * formatLogEntry({ at: "2026-12-02T10:00:00.123Z", stream: "stderr", line: "oops" });
 * // "2026-12-02 11:00:00.123 err oops" (in UTC+1)
 * formatLogEntry({ at: "2026-12-02T10:00:01.000Z", marker: "exit", text: "exited with code 1 (pid 7)" });
 * // "2026-12-02 11:00:01.000 --- exited with code 1 (pid 7)"
 * ```
 */
export function formatLogEntry(entry: MergedLogEntry, options: FormatOptions = {}): string {
  const paint = (text: string, code: string) => options.color ? `${code}${text}\x1b[0m` : text;
  const time = paint(formatLogTime(entry.at), "\x1b[2m");
  if ("marker" in entry) return `${time} ${paint(`--- ${entry.text}`, "\x1b[1m")}`;
  const label = entry.stream === "stderr" ? paint("err", "\x1b[31m") : "out";
  return `${time} ${label} ${entry.line}`;
}

function uptime(status: ServiceStatus): string {
  return formatDuration(liveUptime(status));
}
