/**
 * The log view's model, pure: what the logs API and the log follow stream
 * send, turned into entries (lines of a stream, start and exit markers)
 * kept in time order. The DOM side is `log_view.ts`.
 *
 * The API answers `merged` (the asked streams in time order, with markers)
 * besides the raw `stdout` and `stderr` arrays; an orchestrator without it
 * is read from the arrays (stdout, then stderr, without times).
 *
 * @module
 */
import type { LogLines } from "../types.ts";
import type { LogsBody } from "../api/wire.ts";
import { parseTime } from "./clock.ts";

/** One entry of the log view. */
export type LogEntry =
  | {
    /** Discriminant. */
    kind: "line";
    /** Arrival time, ms since the epoch, or null when unknown. */
    time: number | null;
    /** Which stream. */
    stream: "stdout" | "stderr";
    /** The text. */
    text: string;
  }
  | {
    /** Discriminant. */
    kind: "marker";
    /** When, ms since the epoch, or null when unknown. */
    time: number | null;
    /** `start` or `exit`. */
    marker: "start" | "exit";
    /** The text. */
    text: string;
  };

/**
 * The entries of an answer of the logs API: `merged` when present (already
 * in time order), else the `stdout` lines then the `stderr` lines, without times.
 */
export function entriesOfAnswer(body: LogsBody): LogEntry[] {
  if (body.merged) {
    return body.merged.map((item): LogEntry =>
      "marker" in item
        ? { kind: "marker", time: parseTime(item.at), marker: item.marker, text: item.text }
        : { kind: "line", time: parseTime(item.at), stream: item.stream, text: item.line }
    );
  }
  return [
    ...(body.stdout ?? []).map((text): LogEntry => ({
      kind: "line",
      time: null,
      stream: "stdout",
      text,
    })),
    ...(body.stderr ?? []).map((text): LogEntry => ({
      kind: "line",
      time: null,
      stream: "stderr",
      text,
    })),
  ];
}

/** The markers of an answer of the logs API (none without `merged`). */
export function markersOfAnswer(body: LogsBody): LogEntry[] {
  return entriesOfAnswer(body).filter((entry) => entry.kind === "marker");
}

/** The entries of one `lines` event of a log follow, with their times when it has them. */
export function entriesOfLinesEvent(event: LogLines): LogEntry[] {
  return event.lines.map((text, i) => ({
    kind: "line",
    time: parseTime(event.at?.[i]),
    stream: event.stream,
    text,
  }));
}

/**
 * Where an entry at `time` goes in `entries` (kept in time order) so that
 * the order stays right: after every entry at or before it. An entry without
 * a time, and the entries after one without a time, go at the end: a line
 * without a time keeps its place of arrival.
 */
export function insertionIndex(
  entries: readonly Pick<LogEntry, "time">[],
  time: number | null,
): number {
  let i = entries.length;
  if (time === null) return i;
  while (i > 0) {
    const before = entries[i - 1]!.time;
    if (before === null || before <= time) break;
    i--;
  }
  return i;
}

/** A key that tells a marker from every other one: the same marker seen twice has the same key. */
export function markerKey(entry: LogEntry): string {
  return `${entry.time}\u0000${
    entry.kind === "marker" ? entry.marker : entry.stream
  }\u0000${entry.text}`;
}
