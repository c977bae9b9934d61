/**
 * Times as the page shows them: local wall-clock time, to the second or the
 * millisecond. Pure: no DOM, so it is tested under Deno.
 *
 * @module
 */

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * Local time of `ms` (milliseconds since the epoch) as `HH:MM:SS`, or
 * `HH:MM:SS.mmm` with `millis`.
 *
 * @example
 * ```ts
 * formatClock(Date.parse("2026-12-02T10:05:00.123"), true); // "10:05:00.123"
 * ```
 */
export function formatClock(ms: number, millis = false): string {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${time}.${pad(d.getMilliseconds(), 3)}` : time;
}

/** Local time of `ms` as `HH:MM`. */
export function formatHourMinute(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * Milliseconds since the epoch of an ISO 8601 time, or null for null, a
 * missing value or text that is not a time.
 */
export function parseTime(at: string | null | undefined): number | null {
  if (at === null || at === undefined) return null;
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? null : ms;
}
