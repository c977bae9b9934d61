import assert from "node:assert/strict";
import { leftoversOf } from "./containment.ts";
import type { PidRecord } from "./pid_store.ts";
import { bootTicks, CLOCK_TICKS, readProcStat } from "./proc_stat.ts";
import { processAlive, waitFor } from "../../tests/harness.ts";

/** A process leading a group and session of its own, as a service's main process is. */
async function leader(): Promise<{ pid: number; spawnedBy: number; child: Deno.ChildProcess }> {
  const child = new Deno.Command("setsid", {
    args: ["sleep", "60"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const spawnedBy = bootTicks();
  await waitFor(() => readProcStat(child.pid)?.pgrp === child.pid, { message: "setsid" });
  return { pid: child.pid, spawnedBy, child };
}

function record(pid: number, fields: Partial<PidRecord>): PidRecord {
  return { name: "svc", pid, start_time: 0, cmd: "sleep", ...fields };
}

Deno.test("leftoversOf() finds a leader killed before its start time was recorded, by the clock read after its spawn", async () => {
  const { pid, spawnedBy, child } = await leader();
  try {
    assert.ok(spawnedBy > 0, "/proc/uptime read");
    const startTime = readProcStat(pid)!.startTime;
    assert.ok(startTime <= spawnedBy, `started (${startTime}) by ${spawnedBy}`);

    const [exact, early, unknown, later] = await leftoversOf([
      record(pid, { start_time: startTime }),
      record(pid, { spawned_by: spawnedBy }),
      record(pid, {}),
      // A record of a spawn a minute before this process started: another process had the pid.
      record(pid, { spawned_by: startTime - 60 * CLOCK_TICKS }),
    ]);
    assert.deepEqual(exact?.pids, [pid]);
    assert.deepEqual(early?.pids, [pid], "recognised by spawned_by");
    assert.equal(unknown, undefined, "without a start time or spawned_by, the pid proves nothing");
    assert.equal(later, undefined, "a later process with the pid is not a leftover");

    await early!.end("SIGTERM", 5000);
    assert.equal(await processAlive(pid), false);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
  }
});
