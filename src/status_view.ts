/**
 * What the operator's views show of the services, as pure functions shared
 * by `edgevisor ls`, `edgevisor top` and the web page: the order (problems
 * first), the counts of the header, the filter, and the formatters of the
 * figures. Imports nothing but types: no runtime API, so it runs in a
 * browser as it is.
 *
 * @example
 * ```ts
 * const shown = sortServices(statuses).filter((s) => matchesFilter(s, "api"));
 * const counts = countByState(statuses); // { running: 3, failed: 1, ..., unhealthy: 0, total: 4 }
 * ```
 *
 * @module
 */
import type { HealthInfo, ServiceState, ServiceStatus } from "./types.ts";

/** States in which a process of the service exists. */
export const LIVE_STATES: ReadonlySet<ServiceState> = new Set(["starting", "running", "stopping"]);

/** States that wait for a timer to start the service again. */
export const WAITING_STATES: ReadonlySet<ServiceState> = new Set(["backoff", "cooldown"]);

/** The states that are problems, worst first; an unhealthy service ranks right after them. */
export const PROBLEM_STATES: readonly ServiceState[] = ["failed", "cooldown", "backoff"];

/** What a view can filter on besides text: one lifecycle state, or the unhealthy services. */
export type StateFilter = ServiceState | "unhealthy";

/**
 * The order in which a summary lists its counts: the problems first
 * (`failed`, `cooldown`, `backoff`, `unhealthy`), then the other states.
 */
export const SUMMARY_ORDER: readonly StateFilter[] = [
  "failed",
  "cooldown",
  "backoff",
  "unhealthy",
  "starting",
  "running",
  "stopping",
  "exited",
  "stopped",
];

/** Number of services in each state, how many are unhealthy, and the total. */
export type StateCounts = Record<StateFilter | "total", number>;

/** Whether the last health check of the service failed. */
export function isUnhealthy(status: { health: Pick<HealthInfo, "healthy"> }): boolean {
  return status.health.healthy === false;
}

/**
 * How bad the service looks, 0 being the worst: `failed` 0, `cooldown` 1,
 * `backoff` 2, unhealthy (in any other state) 3, anything else 4.
 */
export function problemRank(status: Pick<ServiceStatus, "status" | "health">): number {
  const index = PROBLEM_STATES.indexOf(status.status);
  if (index >= 0) return index;
  return isUnhealthy(status) ? PROBLEM_STATES.length : PROBLEM_STATES.length + 1;
}

/** Whether the service has a problem: a problem state, or unhealthy. */
export function isProblem(status: Pick<ServiceStatus, "status" | "health">): boolean {
  return problemRank(status) <= PROBLEM_STATES.length;
}

/** Order of {@linkcode sortServices}: by {@linkcode problemRank}, then by name. */
export function compareServices(
  a: Pick<ServiceStatus, "name" | "status" | "health">,
  b: Pick<ServiceStatus, "name" | "status" | "health">,
): number {
  return problemRank(a) - problemRank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * A sorted copy of `statuses`, problems first: `failed`, `cooldown`,
 * `backoff`, unhealthy, then the rest; by name within each group.
 */
export function sortServices<T extends Pick<ServiceStatus, "name" | "status" | "health">>(
  statuses: readonly T[],
): T[] {
  return [...statuses].sort(compareServices);
}

/** Counts of {@linkcode StateCounts}: every state (0 when none), `unhealthy` and `total`. */
export function countByState(
  statuses: readonly Pick<ServiceStatus, "status" | "health">[],
): StateCounts {
  const counts: StateCounts = {
    stopped: 0,
    starting: 0,
    running: 0,
    backoff: 0,
    cooldown: 0,
    stopping: 0,
    exited: 0,
    failed: 0,
    unhealthy: 0,
    total: statuses.length,
  };
  for (const status of statuses) {
    counts[status.status]++;
    if (isUnhealthy(status)) counts.unhealthy++;
  }
  return counts;
}

/**
 * Whether a service passes a view's filter: `text` found, ignoring case, in
 * its name, display name or reason (an empty text passes everything), and
 * its state is `stateFilter` (or it is unhealthy, for `"unhealthy"`) when
 * one is given.
 */
export function matchesFilter(
  status: Pick<ServiceStatus, "name" | "display_name" | "reason" | "status" | "health">,
  text: string,
  stateFilter?: StateFilter | null,
): boolean {
  if (
    stateFilter === "unhealthy"
      ? !isUnhealthy(status)
      : stateFilter && status.status !== stateFilter
  ) {
    return false;
  }
  const needle = text.trim().toLowerCase();
  if (needle === "") return true;
  return [status.name, status.display_name, status.reason ?? ""]
    .some((field) => field.toLowerCase().includes(needle));
}

/**
 * Seconds the current process has been up, `elapsedMs` after the status
 * was received: `status.uptime` plus the time since, or null when the
 * service has no process start to count from.
 */
export function liveUptime(
  status: Pick<ServiceStatus, "started_at" | "uptime">,
  elapsedMs = 0,
): number | null {
  return status.started_at === null ? null : status.uptime + Math.max(0, elapsedMs) / 1000;
}

/**
 * A duration in seconds, in the two largest units: `3s`, `4m12s`, `2h05m`,
 * `3d04h`. Fractions are dropped; null, a negative or non-finite value gives `-`.
 */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
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

/** Health in one word: `healthy`, `unhealthy`, `unknown`, or `-` when there is no check. */
export function formatHealthWord(health: Pick<HealthInfo, "healthy" | "message">): string {
  if (health.healthy === true) return "healthy";
  if (health.healthy === false) return "unhealthy";
  return health.message === "no check" ? "-" : "unknown";
}
