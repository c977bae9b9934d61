import assert from "node:assert/strict";
import { launchCommand } from "./guards.ts";
import {
  memoryOverCount,
  nextSample,
  parseStatBytes,
  parseStatRow,
  type StatRow,
  sumByGroup,
} from "./metrics.ts";

const STAT =
  "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 12345 1000000 256 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

Deno.test("parseStatRow() reads ticks, threads and rss past a command with parentheses", () => {
  assert.deepEqual(parseStatRow(STAT), {
    pid: 4242,
    pgrp: 4242,
    session: 4242,
    state: "S",
    ticks: 200,
    threads: 3,
    rssPages: 256,
  });
  assert.equal(parseStatRow("garbage"), undefined);
  assert.equal(parseStatRow("12 (x) S 1 2"), undefined, "cut short before rss");
  const own = parseStatBytes(Deno.readFileSync("/proc/self/stat"));
  assert.equal(own?.pid, Deno.pid);
  assert.ok(own && own.rssPages > 0 && own.threads >= 1 && own.session >= 0);
});

Deno.test("sumByGroup() sums live members of the wanted groups only", () => {
  const row = (pid: number, pgrp: number, state = "S"): StatRow => ({
    pid,
    pgrp,
    state,
    ticks: 10,
    threads: 2,
    rssPages: 100,
    session: pgrp,
  });
  const totals = sumByGroup(
    [row(1, 1), row(2, 1), row(3, 1, "Z"), row(4, 4), row(5, 9)],
    new Set([1, 4]),
  );
  assert.deepEqual(totals.get(1), { ticks: 20, rssPages: 200, threads: 4, processes: 2 });
  assert.deepEqual(totals.get(4), { ticks: 10, rssPages: 100, threads: 2, processes: 1 });
  assert.equal(totals.has(9), false);
});

Deno.test("nextSample() gives CPU % between samples, never negative, and carries CPU seconds", () => {
  const totals = (ticks: number) => ({ ticks, rssPages: 10, threads: 1, processes: 1 });
  const first = nextSample(undefined, 7, totals(100), 0, 4096, 5);
  assert.equal(first.metrics.cpuPercent, null);
  assert.equal(first.metrics.cpuSeconds, 6);
  assert.equal(first.metrics.rssBytes, 40960);
  const second = nextSample(first, 7, totals(150), 2000, 4096);
  assert.equal(second.metrics.cpuPercent, 25, "0.5 s of CPU in 2 s");
  assert.equal(second.metrics.cpuSeconds, 6.5);
  const third = nextSample(second, 7, totals(120), 4000, 4096);
  assert.equal(third.metrics.cpuPercent, 0, "a member ended: no negative time");
  assert.equal(third.metrics.cpuSeconds, 6.5);
  const other = nextSample(third, 8, totals(30), 6000, 4096, third.metrics.cpuSeconds);
  assert.equal(other.metrics.cpuPercent, null, "a new process group starts over");
  assert.equal(other.metrics.cpuSeconds, 6.8);
});

Deno.test("memoryOverCount() counts samples above the limit in a row", () => {
  assert.equal(memoryOverCount(0, 11, 10), 1);
  assert.equal(memoryOverCount(1, 11, 10), 2);
  assert.equal(memoryOverCount(1, 10, 10), 0);
});

Deno.test("launchCommand() wraps the command in taskset and nice, or warns", () => {
  const spec = { cmd: "app", args: ["-v"], nice: 5, cpu_affinity: [0, 2] };
  assert.deepEqual(launchCommand(spec, (p) => `/bin/${p}`), {
    cmd: "/bin/taskset",
    args: ["-c", "0,2", "/bin/nice", "-n", "5", "app", "-v"],
    warnings: [],
  });
  const bare = launchCommand(spec, () => undefined);
  assert.equal(bare.cmd, "app");
  assert.deepEqual(bare.args, ["-v"]);
  assert.equal(bare.warnings.length, 2);
  assert.deepEqual(launchCommand({ cmd: "app", args: [] }), { cmd: "app", args: [], warnings: [] });
});
