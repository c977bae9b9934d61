/**
 * Arrival times of log lines. With `log.timestamps` (the default), each line
 * of a log file begins with the time its first byte arrived, in ISO 8601
 * with milliseconds, and one space: `2026-12-02T10:00:00.123Z hello`
 * ({@linkcode TimestampSink} writes them). Readers split the time from the
 * line ({@linkcode splitTimes}), so that the lines they give are the raw
 * lines, and merge the lines of both streams with the start and exit
 * markers of the service in time order ({@linkcode mergeLogs}).
 *
 * A line without a time (from a file written with `timestamps: false`)
 * stands, for ordering and for `since`, where the last timed line before it
 * in its stream stands: it keeps its order within its stream, and before
 * any timed line it counts as older than everything.
 *
 * @module
 */
import type { LogLines, MergedLogEntry } from "../types.ts";

/** Length of the time prefix of a line, its space included. */
export const TIME_PREFIX_LENGTH = 25;

const PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z $/;

/**
 * The time prefix of `line` and the line without it; `at` is null when the
 * line has no prefix.
 *
 * @example
 * ```ts
 * splitTime("2026-12-02T10:00:00.123Z hello"); // { at: "2026-12-02T10:00:00.123Z", line: "hello" }
 * splitTime("hello"); // { at: null, line: "hello" }
 * ```
 */
export function splitTime(line: string): { at: string | null; line: string } {
  if (line.length < TIME_PREFIX_LENGTH || line.charCodeAt(TIME_PREFIX_LENGTH - 1) !== 32) {
    return { at: null, line };
  }
  const prefix = line.slice(0, TIME_PREFIX_LENGTH);
  if (!PREFIX.test(prefix)) return { at: null, line };
  return { at: prefix.slice(0, -1), line: line.slice(TIME_PREFIX_LENGTH) };
}

/** `lines` of a file written with times: the lines without their prefixes, and the times. */
export function splitTimes(lines: readonly string[]): { lines: string[]; at: (string | null)[] } {
  const out: string[] = new Array(lines.length);
  const at: (string | null)[] = new Array(lines.length);
  lines.forEach((raw, i) => {
    const split = splitTime(raw);
    out[i] = split.line;
    at[i] = split.at;
  });
  return { lines: out, at };
}

/**
 * A batch of `lines` read from a file of `stream`: with `times` true, the
 * lines without their prefixes and the times in `at`; with `times` false,
 * the lines as they are and every time null; without `times`, no `at`.
 */
export function timedBatch(
  stream: LogLines["stream"],
  lines: string[],
  times: boolean | undefined,
): LogLines {
  if (times === undefined) return { stream, lines };
  return times ? { stream, ...splitTimes(lines) } : { stream, lines, at: lines.map(() => null) };
}

/**
 * The time each line stands at, in milliseconds: its own, or for a line
 * without one the time of the last timed line before it (`before` for the
 * first ones: -Infinity, or what a previous batch ended with).
 */
export function lineTimes(at: readonly (string | null)[], before = -Infinity): number[] {
  let last = before;
  return at.map((value) => {
    if (value !== null) {
      const ms = Date.parse(value);
      if (!Number.isNaN(ms)) last = ms;
    }
    return last;
  });
}

/**
 * The lines of `batch` that stand at or after `sinceMs` (see
 * {@linkcode lineTimes}; `before` is where the batch's stream stood before
 * it), and where the stream stands after it. A batch without times, or one
 * that marks a gap (`skipped`), is kept whole.
 */
export function batchSince(
  batch: LogLines,
  sinceMs: number,
  before = -Infinity,
): { batch: LogLines; last: number } {
  if (batch.at === undefined || batch.skipped !== undefined) return { batch, last: before };
  const times = lineTimes(batch.at, before);
  const last = times.at(-1) ?? before;
  if (times.every((ms) => ms >= sinceMs)) return { batch, last };
  const keep = times.flatMap((ms, i) => (ms >= sinceMs ? [i] : []));
  return {
    batch: {
      ...batch,
      lines: keep.map((i) => batch.lines[i]!),
      at: keep.map((i) => batch.at![i]!),
    },
    last,
  };
}

/** The last lines of one stream, with their times (parallel to `lines`). */
export interface TimedLines {
  /** The stream. */
  stream: "stdout" | "stderr";
  /** The lines, oldest first, without their time prefixes. */
  lines: string[];
  /** When each line arrived, ISO 8601, or null. */
  at: (string | null)[];
}

/** A start or exit marker, as {@linkcode mergeLogs} takes them. */
export type Marker = Extract<MergedLogEntry, { marker: "start" | "exit" }>;

/** Options of {@linkcode mergeLogs}. */
export interface MergeOptions {
  /** Most line entries in the result (markers not counted): the newest. */
  lines: number;
  /** Only lines and markers at or after this time, ms since the epoch. */
  sinceMs?: number;
}

/**
 * The lines of `streams` in time order, oldest first, at most
 * `options.lines` of them (the newest), with the `markers` (oldest first)
 * among them: those from the start of the process that wrote the first
 * line kept on; when no line is kept, every marker at or after
 * `options.sinceMs`, and none without it. Lines of different
 * streams at the same millisecond keep the order of `streams`; a start
 * marker comes before the lines of its millisecond, an exit marker after
 * them. Markers are left out when no line kept has a time (they could not
 * be placed).
 *
 * @example
 * ```ts
 * mergeLogs(
 *   [
 *     { stream: "stdout", lines: ["a", "c"], at: ["2026-12-02T10:00:00.001Z", "2026-12-02T10:00:00.003Z"] },
 *     { stream: "stderr", lines: ["b"], at: ["2026-12-02T10:00:00.002Z"] },
 *   ],
 *   [],
 *   { lines: 2 },
 * ).map((e) => "line" in e ? e.line : e.text); // ["b", "c"]
 * ```
 */
export function mergeLogs(
  streams: readonly TimedLines[],
  markers: readonly Marker[],
  options: MergeOptions,
): MergedLogEntry[] {
  const since = options.sinceMs ?? -Infinity;
  type Line = { ms: number; rank: number; entry: MergedLogEntry };
  const lines: Line[] = [];
  streams.forEach((stream, rank) => {
    lineTimes(stream.at).forEach((ms, i) => {
      if (ms < since) return;
      lines.push({
        ms,
        rank,
        entry: { at: stream.at[i]!, stream: stream.stream, line: stream.lines[i]! },
      });
    });
  });
  // A stable sort by time then stream keeps each stream's own order (its times never decrease).
  const kept = lines
    .sort((a, b) => a.ms - b.ms || a.rank - b.rank)
    .slice(Math.max(0, lines.length - options.lines));
  // No line asked for and no time: no marker either (with `sinceMs`, the markers since then).
  if (kept.length === 0 && options.sinceMs === undefined) return [];
  const timed = kept.find((l) => l.entry.at !== null);
  if (kept.length > 0 && timed === undefined) return kept.map((l) => l.entry);
  const marks = markers
    .map((marker) => ({ ms: Date.parse(marker.at), marker }))
    .filter((m) => m.ms >= since);
  let from = -Infinity;
  if (timed !== undefined) {
    const first = kept[0]!.ms;
    // The start of the process that wrote the first line stays.
    const start = marks.findLast((m) => m.marker.marker === "start" && m.ms <= first);
    from = start?.ms ?? first;
  }
  const out: MergedLogEntry[] = [];
  let m = marks.findIndex((mark) => mark.ms >= from);
  if (m < 0) m = marks.length;
  for (const line of kept) {
    while (m < marks.length && before(marks[m]!, line.ms)) out.push(marks[m++]!.marker);
    out.push(line.entry);
  }
  while (m < marks.length) out.push(marks[m++]!.marker);
  return out;
}

/** Whether a marker goes before a line at `ms`. */
function before(mark: { ms: number; marker: Marker }, ms: number): boolean {
  return mark.ms < ms || (mark.ms === ms && mark.marker.marker === "start");
}
