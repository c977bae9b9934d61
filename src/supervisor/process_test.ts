import assert from "node:assert/strict";
import { groupAlive, groupMembers } from "./process.ts";
import { waitFor } from "../../tests/harness.ts";

Deno.test("groupMembers() and groupAlive() follow a real process group", async () => {
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
    await waitFor(() => !groupAlive(child.pid), { message: "the group gone" });
    assert.deepEqual(groupMembers(child.pid), []);
  } finally {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* gone */ }
  }
});
