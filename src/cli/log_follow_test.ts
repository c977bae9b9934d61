import assert from "node:assert/strict";
import type { MergedLogEntry } from "../types.ts";
import { formatLogEntry, formatLogs, formatLogTime } from "./format.ts";
import { PrintedLog } from "./log_follow.ts";

const T0 = Date.parse("2026-12-02T10:00:00.000Z");
const t = (ms: number) => new Date(T0 + ms).toISOString();
const line = (ms: number | null, text: string, stream: "stdout" | "stderr" = "stdout") =>
  ({ at: ms === null ? null : t(ms), stream, line: text }) as MergedLogEntry;

Deno.test("PrintedLog.fresh() lets each entry through once, telling a millisecond's entries apart", () => {
  const printed = new PrintedLog();
  assert.equal(printed.since, undefined);
  assert.equal(printed.any, false);
  const first = [line(1, "a"), line(2, "b"), line(2, "b"), line(2, "c", "stderr")];
  assert.deepEqual(printed.fresh(first), first);
  assert.equal(printed.since, t(2));
  // A reconnection asks since t(2): what was printed then comes again, with what is new.
  const again = [line(2, "b"), line(2, "c", "stderr"), line(2, "b"), line(2, "b"), line(3, "d")];
  assert.deepEqual(printed.fresh(again), [line(2, "b"), line(3, "d")]);
  assert.deepEqual(printed.fresh([line(3, "d"), line(1, "old")]), []);
  const marker: MergedLogEntry = { at: t(3), marker: "exit", text: "exited with code 1 (pid 9)" };
  assert.deepEqual(printed.fresh([marker, marker]), [marker, marker]);
  assert.deepEqual(printed.fresh([marker]), []);
  // Lines without a time cannot be told apart: always new.
  assert.deepEqual(printed.fresh([line(null, "x"), line(null, "x")]), [
    line(null, "x"),
    line(null, "x"),
  ]);
  // The oldest of the newest times of the sources (stderr's t(2)).
  assert.equal(printed.since, t(2));
  assert.equal(printed.any, true);
});

Deno.test("PrintedLog.fresh() keeps a stream's line that comes after a later line of the other", () => {
  const printed = new PrintedLog();
  assert.deepEqual(printed.fresh([line(105, "out")]), [line(105, "out")]);
  // The stderr batch of the same moment arrives second, with an earlier time: still new.
  assert.deepEqual(printed.fresh([line(100, "err", "stderr")]), [line(100, "err", "stderr")]);
  assert.equal(printed.since, t(100));
  // A reconnection since t(100) sends both again: neither is printed twice.
  assert.deepEqual(printed.fresh([line(100, "err", "stderr"), line(105, "out")]), []);
  assert.deepEqual(printed.fresh([line(101, "err 2", "stderr"), line(106, "out 2")]), [
    line(101, "err 2", "stderr"),
    line(106, "out 2"),
  ]);
});

Deno.test("formatLogs() prints merged entries with local times, stream labels and markers", () => {
  const local = formatLogTime(t(123));
  const d = new Date(T0 + 123);
  assert.match(local, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.123$/);
  assert.equal(Number(local.slice(11, 13)), d.getHours());
  assert.equal(formatLogTime(null), " ".repeat(23));
  const body = {
    stream: "both" as const,
    stdout: ["a"],
    stderr: ["b"],
    merged: [
      { at: t(0), marker: "start" as const, text: "started (pid 7)" },
      line(123, "a"),
      line(124, "b", "stderr"),
      line(null, "c"),
    ],
  };
  assert.deepEqual(formatLogs(body).split("\n"), [
    `${formatLogTime(t(0))} --- started (pid 7)`,
    `${local} out a`,
    `${formatLogTime(t(124))} err b`,
    `${" ".repeat(23)} out c`,
  ]);
  assert.equal(
    formatLogEntry(line(124, "b", "stderr"), { color: true }),
    `\x1b[2m${formatLogTime(t(124))}\x1b[0m \x1b[31merr\x1b[0m b`,
  );
  // An answer without `merged` (an edgevisor that keeps no times): sections as before.
  assert.equal(
    formatLogs({ stream: "both", stdout: ["a"], stderr: ["b"] }),
    "==> stdout <==\na\n\n==> stderr <==\nb",
  );
});
