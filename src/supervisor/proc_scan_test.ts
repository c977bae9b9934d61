import assert from "node:assert/strict";
import { waitFor } from "../../tests/harness.ts";
import { parseStatBytes } from "./metrics.ts";
import { ProcScanner } from "./proc_scan.ts";

/** A detached `sh -c script` (or another shell's) (its own session and group); stdin piped. */
function spawnGroup(script: string, shell = "sh"): Deno.ChildProcess {
  return new Deno.Command(shell, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
}

async function end(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // gone
  }
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  await child.status;
}

Deno.test("ProcScanner.scan() skips outsiders and still finds members forked later", async () => {
  const child = spawnGroup("sleep 60 & read line; sleep 60 & wait");
  try {
    const scanner = new ProcScanner(parseStatBytes);
    const wanted = new Set([child.pid]);
    const members = () => scanner.scan(wanted).filter((r) => r.pgrp === child.pid).length;
    await waitFor(() => members() === 2, { message: "sh and one sleep" });
    assert.equal(members(), 2);
    assert.ok(scanner.skipped > 0, "this test process is skipped once it is known");
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    writer.releaseLock();
    await waitFor(() => members() === 3, { message: "the sleep forked later" });
  } finally {
    await end(child);
  }
});

Deno.test("ProcScanner.scan() reads the session of a group whose leader is not a session leader", async () => {
  // With job control, the background sleep gets a group of its own inside the bash session.
  const child = spawnGroup("set -m; sleep 60 & echo $!; wait", "bash");
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    reader.releaseLock();
    const sleepPid = Number(text.trim());
    assert.ok(sleepPid > 0 && sleepPid !== child.pid);
    const scanner = new ProcScanner(parseStatBytes);
    const wanted = new Set([sleepPid]);
    for (let i = 0; i < 3; i++) {
      const rows = scanner.scan(wanted);
      const leader = rows.find((r) => r.pid === sleepPid);
      assert.equal(leader?.pgrp, sleepPid, `scan ${i + 1}: the group leader`);
      assert.ok(rows.some((r) => r.pid === child.pid), `scan ${i + 1}: bash, in the same session`);
    }
  } finally {
    await end(child);
  }
});
