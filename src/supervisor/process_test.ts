import assert from "node:assert/strict";
import { groupAlive, groupMembers, parseProcStat, readProcStat, waitGroupGone } from "./process.ts";
import { waitFor } from "../../tests/harness.ts";

Deno.test("parseProcStat() reads state, parent, group and start time", () => {
  const text =
    "3274 (sh) S 3268 3274 3274 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 26022 2654208 220 18446744073709551615";
  assert.deepEqual(parseProcStat(text), { state: "S", ppid: 3268, pgrp: 3274, startTime: 26022 });
});

Deno.test("parseProcStat() copes with spaces and parentheses in the command name", () => {
  const text =
    "42 (a) b (c) R 1 42 42 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 777 2654208 220 18446744073709551615";
  assert.deepEqual(parseProcStat(text), { state: "R", ppid: 1, pgrp: 42, startTime: 777 });
  assert.equal(parseProcStat("garbage"), undefined);
});

Deno.test("readProcStat() sees this process and not a missing one", () => {
  const own = readProcStat(Deno.pid);
  assert.ok(own && own.startTime > 0);
  assert.equal(readProcStat(2 ** 22 + 1), undefined);
});

Deno.test("groupMembers() and waitGroupGone() follow a real process group", async () => {
  const child = new Deno.Command("sh", {
    args: ["-c", "sleep 30 & sleep 30 & wait"],
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(() => groupMembers(child.pid).length >= 3, { message: "sh and two sleeps" });
    assert.equal(groupMembers(child.pid).length, 3);
    assert.equal(groupAlive(child.pid), true);
    Deno.kill(-child.pid, "SIGKILL");
    await child.status;
    assert.equal(await waitGroupGone(child.pid, Date.now() + 5000), true);
    assert.equal(groupAlive(child.pid), false);
  } finally {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* gone */ }
  }
});
