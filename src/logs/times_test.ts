import assert from "node:assert/strict";
import type { LogLines, MergedLogEntry } from "../types.ts";
import { batchSince, lineTimes, type Marker, mergeLogs, splitTime, splitTimes } from "./times.ts";

const T0 = Date.parse("2026-12-02T10:00:00.000Z");
const t = (ms: number) => new Date(T0 + ms).toISOString();
const text = (entries: MergedLogEntry[]) =>
  entries.map((
    e,
  ) => ("marker" in e ? `[${e.text}]` : `${e.stream === "stderr" ? "!" : ""}${e.line}`));

Deno.test("splitTime() takes the time prefix off a line, and only a whole one", () => {
  assert.deepEqual(splitTime(`${t(123)} hello`), { at: t(123), line: "hello" });
  assert.deepEqual(splitTime(`${t(0)} `), { at: t(0), line: "" });
  assert.deepEqual(splitTime(`${t(0)}  two spaces`), { at: t(0), line: " two spaces" });
  for (
    const raw of ["hello", "", "2026-12-02T10:00:00Z hello", `${t(0)}x`, "2026-12-02T10:00:00.000Z"]
  ) {
    assert.deepEqual(splitTime(raw), { at: null, line: raw });
  }
  assert.deepEqual(splitTimes([`${t(1)} a`, "b"]), { lines: ["a", "b"], at: [t(1), null] });
});

Deno.test("lineTimes() places a line without a time where the last timed line before it stands", () => {
  assert.deepEqual(lineTimes([null, t(5), null, t(7)]), [-Infinity, T0 + 5, T0 + 5, T0 + 7]);
  assert.deepEqual(lineTimes([null], T0), [T0]);
});

Deno.test("mergeLogs() orders both streams by time and keeps the newest lines", () => {
  const streams = [
    { stream: "stdout" as const, lines: ["o1", "o2", "o3"], at: [t(1), t(3), t(5)] },
    { stream: "stderr" as const, lines: ["e1", "e2"], at: [t(2), t(5)] },
  ];
  assert.deepEqual(text(mergeLogs(streams, [], { lines: 10 })), ["o1", "!e1", "o2", "o3", "!e2"]);
  assert.deepEqual(text(mergeLogs(streams, [], { lines: 2 })), ["o3", "!e2"]);
  assert.deepEqual(text(mergeLogs(streams, [], { lines: 0 })), []);
  assert.deepEqual(text(mergeLogs(streams, [], { lines: 10, sinceMs: T0 + 3 })), [
    "o2",
    "o3",
    "!e2",
  ]);
  assert.deepEqual(mergeLogs(streams, [], { lines: 1 }), [{
    at: t(5),
    stream: "stderr",
    line: "e2",
  }]);
});

Deno.test("mergeLogs() puts start markers before the lines of their millisecond and exits after", () => {
  const markers: Marker[] = [
    { at: t(0), marker: "start", text: "started (pid 1)" },
    { at: t(4), marker: "exit", text: "exited with code 1 (pid 1)" },
    { at: t(6), marker: "start", text: "started (pid 2)" },
    { at: t(9), marker: "exit", text: "killed by SIGTERM (pid 2)" },
  ];
  const streams = [
    { stream: "stdout" as const, lines: ["a", "b", "c"], at: [t(0), t(4), t(6)] },
    { stream: "stderr" as const, lines: ["x"], at: [t(4)] },
  ];
  assert.deepEqual(text(mergeLogs(streams, markers, { lines: 10 })), [
    "[started (pid 1)]",
    "a",
    "b",
    "!x",
    "[exited with code 1 (pid 1)]",
    "[started (pid 2)]",
    "c",
    "[killed by SIGTERM (pid 2)]",
  ]);
  // Lines cut: markers from the start of the process that wrote the first line kept on.
  assert.deepEqual(text(mergeLogs(streams, markers, { lines: 1 })), [
    "[started (pid 2)]",
    "c",
    "[killed by SIGTERM (pid 2)]",
  ]);
  // No line: every marker (since `sinceMs`); markers are not counted in `lines`.
  assert.deepEqual(text(mergeLogs([], markers, { lines: 0, sinceMs: T0 + 5 })), [
    "[started (pid 2)]",
    "[killed by SIGTERM (pid 2)]",
  ]);
  // No line asked for and no time: no marker either.
  assert.deepEqual(mergeLogs(streams, markers, { lines: 0 }), []);
});

Deno.test("mergeLogs() keeps lines without times in their stream's order, and leaves markers out without any time", () => {
  const untimed = [
    { stream: "stdout" as const, lines: ["a", "b"], at: [null, null] },
    { stream: "stderr" as const, lines: ["x"], at: [null] },
  ];
  const markers: Marker[] = [{ at: t(0), marker: "start", text: "started (pid 1)" }];
  assert.deepEqual(text(mergeLogs(untimed, markers, { lines: 10 })), ["a", "b", "!x"]);
  assert.deepEqual(mergeLogs(untimed, markers, { lines: 10, sinceMs: T0 }), [
    markers[0],
  ]);
  const mixed = [
    { stream: "stdout" as const, lines: ["old", "new", "after"], at: [null, t(2), null] },
    { stream: "stderr" as const, lines: ["e"], at: [t(3)] },
  ];
  assert.deepEqual(text(mergeLogs(mixed, markers, { lines: 10 })), [
    "old",
    "[started (pid 1)]",
    "new",
    "after",
    "!e",
  ]);
});

Deno.test("batchSince() keeps the lines at or after the time, across batches", () => {
  const batch: LogLines = { stream: "stdout", lines: ["a", "b", "c"], at: [t(1), null, t(3)] };
  let result = batchSince(batch, T0 + 2);
  assert.deepEqual(result.batch, { stream: "stdout", lines: ["c"], at: [t(3)] });
  assert.equal(result.last, T0 + 3);
  result = batchSince({ stream: "stdout", lines: ["d"], at: [null] }, T0 + 2, result.last);
  assert.deepEqual(result.batch.lines, ["d"]);
  const skip: LogLines = { stream: "stdout", lines: ["[skipped]"], skipped: 10, at: [null] };
  assert.equal(batchSince(skip, T0 + 2).batch, skip);
  const raw: LogLines = { stream: "stdout", lines: ["r"] };
  assert.equal(batchSince(raw, T0 + 2).batch, raw);
});
