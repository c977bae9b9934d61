import assert from "node:assert/strict";
import { parseProcStat, readProcStat } from "./proc_stat.ts";

const STAT =
  "4242 (my (odd) cmd) S 1 4242 4243 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 3 0 12345 1000000 256 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

Deno.test("parseProcStat() reads every field it names past a command with spaces and parentheses", () => {
  const expected = {
    pid: 4242,
    state: "S",
    ppid: 1,
    pgrp: 4242,
    session: 4243,
    ticks: 200,
    threads: 3,
    startTime: 12345,
    rssPages: 256,
  };
  assert.deepEqual(parseProcStat(STAT), expected);
  assert.deepEqual(parseProcStat(new TextEncoder().encode(STAT + "\n")), expected);
});

Deno.test("parseProcStat() refuses what is not a whole stat line", () => {
  assert.equal(parseProcStat("garbage"), undefined);
  assert.equal(parseProcStat("12 (x) S 1 2"), undefined, "cut short before rss");
  assert.equal(parseProcStat("(x) S 1 2 3 4"), undefined, "no pid");
});

Deno.test("readProcStat() sees this process and not a missing one", () => {
  const own = readProcStat(Deno.pid);
  assert.equal(own?.pid, Deno.pid);
  assert.ok(own && own.startTime > 0 && own.rssPages > 0 && own.threads >= 1);
  assert.equal(own.ppid, Deno.ppid);
  assert.equal(readProcStat(2 ** 22 + 1), undefined);
});
