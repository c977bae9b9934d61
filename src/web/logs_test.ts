import assert from "node:assert/strict";
import type { LogsBody } from "../api/wire.ts";
import {
  entriesOfAnswer,
  entriesOfLinesEvent,
  insertionIndex,
  type LogEntry,
  markerKey,
  markersOfAnswer,
} from "./logs.ts";

const base = { ok: true, name: "web", stream: "both", lines: 50 } as const;

Deno.test("entriesOfAnswer() takes merged, markers included, in its order", () => {
  const body: LogsBody = {
    ...base,
    stdout: ["hello"],
    stderr: ["oops"],
    merged: [
      { at: "2026-12-02T10:00:00.001Z", marker: "start", text: "started (pid 1234)" },
      { at: "2026-12-02T10:00:00.123Z", stream: "stdout", line: "hello" },
      { at: null, stream: "stderr", line: "oops" },
      { at: "2026-12-02T10:05:00.000Z", marker: "exit", text: "exited with code 1 (pid 1234)" },
    ],
  };
  assert.deepEqual(entriesOfAnswer(body), [
    {
      kind: "marker",
      time: Date.parse("2026-12-02T10:00:00.001Z"),
      marker: "start",
      text: "started (pid 1234)",
    },
    {
      kind: "line",
      time: Date.parse("2026-12-02T10:00:00.123Z"),
      stream: "stdout",
      text: "hello",
    },
    { kind: "line", time: null, stream: "stderr", text: "oops" },
    {
      kind: "marker",
      time: Date.parse("2026-12-02T10:05:00.000Z"),
      marker: "exit",
      text: "exited with code 1 (pid 1234)",
    },
  ]);
  assert.deepEqual(markersOfAnswer(body).map((e) => e.text), [
    "started (pid 1234)",
    "exited with code 1 (pid 1234)",
  ]);
});

Deno.test("entriesOfAnswer() without merged reads stdout then stderr, without times", () => {
  const entries = entriesOfAnswer({ ...base, stdout: ["a", "b"], stderr: ["c"] });
  assert.deepEqual(entries.map((e) => [e.kind === "line" && e.stream, e.text, e.time]), [
    ["stdout", "a", null],
    ["stdout", "b", null],
    ["stderr", "c", null],
  ]);
  assert.deepEqual(entriesOfAnswer({ ...base, stream: "stderr", stderr: [] }), []);
  assert.deepEqual(markersOfAnswer({ ...base, stdout: ["a"] }), []);
});

Deno.test("entriesOfLinesEvent() pairs the lines with their times when there are some", () => {
  assert.deepEqual(
    entriesOfLinesEvent({
      stream: "stderr",
      lines: ["x", "y"],
      at: ["2026-12-02T10:00:00.000Z", null],
    }),
    [
      { kind: "line", time: Date.parse("2026-12-02T10:00:00.000Z"), stream: "stderr", text: "x" },
      { kind: "line", time: null, stream: "stderr", text: "y" },
    ],
  );
  assert.deepEqual(entriesOfLinesEvent({ stream: "stdout", lines: ["z"] }), [
    { kind: "line", time: null, stream: "stdout", text: "z" },
  ]);
});

Deno.test("insertionIndex() keeps time order; untimed entries keep their place of arrival", () => {
  const at = (...times: (number | null)[]) => times.map((time) => ({ time }));
  assert.equal(insertionIndex(at(), 5), 0);
  assert.equal(insertionIndex(at(1, 3, 5), 4), 2);
  assert.equal(insertionIndex(at(1, 3, 5), 5), 3, "after an entry of the same time");
  assert.equal(insertionIndex(at(1, 3, 5), 0), 0);
  assert.equal(insertionIndex(at(1, 3, 5), null), 3);
  assert.equal(insertionIndex(at(1, null, 5), 0), 2, "not before an untimed entry");
  // Two streams' backlogs, one after the other, come out merged.
  const merged: { time: number | null }[] = [];
  for (const time of [1, 4, 6, 2, 3, 7]) merged.splice(insertionIndex(merged, time), 0, { time });
  assert.deepEqual(merged.map((e) => e.time), [1, 2, 3, 4, 6, 7]);
});

Deno.test("markerKey() is the same for the same marker, different for another", () => {
  const a: LogEntry = { kind: "marker", time: 1, marker: "start", text: "started (pid 1)" };
  assert.equal(markerKey(a), markerKey({ ...a }));
  assert.notEqual(markerKey(a), markerKey({ ...a, time: 2 }));
  assert.notEqual(markerKey(a), markerKey({ ...a, marker: "exit" }));
});
