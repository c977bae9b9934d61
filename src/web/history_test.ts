import assert from "node:assert/strict";
import { describeEvent } from "./history.ts";

const at = "2026-12-02T10:00:00.000Z";

Deno.test("describeEvent() words every kind of event with its tone", () => {
  assert.deepEqual(
    describeEvent({
      at,
      type: "state",
      from: "running",
      to: "backoff",
      reason: "exited with code 1; restarting in 0.5s",
      pid: null,
    }),
    {
      label: "state",
      text: "running → backoff: exited with code 1; restarting in 0.5s",
      tone: "warn",
    },
  );
  assert.deepEqual(
    describeEvent({ at, type: "state", from: "starting", to: "running", reason: null, pid: 12 }),
    { label: "state", text: "starting → running (pid 12)", tone: "ok" },
  );
  assert.equal(
    describeEvent({ at, type: "state", from: "backoff", to: "failed", reason: "x", pid: null })
      .tone,
    "bad",
  );
  assert.deepEqual(describeEvent({ at, type: "exit", pid: 12, code: 1, signal: null }), {
    label: "exit",
    text: "exited with code 1 (pid 12)",
    tone: "bad",
  });
  assert.deepEqual(describeEvent({ at, type: "exit", pid: 12, code: null, signal: "SIGKILL" }), {
    label: "exit",
    text: "killed by SIGKILL (pid 12)",
    tone: "bad",
  });
  assert.equal(describeEvent({ at, type: "exit", pid: 12, code: 0, signal: null }).tone, "idle");
  assert.deepEqual(
    describeEvent({
      at,
      type: "health",
      role: "liveness",
      from: "healthy",
      to: "unhealthy",
      message: "timed out after 2s",
    }),
    { label: "health", text: "liveness healthy → unhealthy: timed out after 2s", tone: "bad" },
  );
  assert.deepEqual(describeEvent({ at, type: "action", action: "restart" }), {
    label: "action",
    text: "restart requested",
    tone: "idle",
  });
});

Deno.test("describeEvent() shows an event of a kind it does not know by its type", () => {
  // deno-lint-ignore no-explicit-any
  assert.deepEqual(describeEvent({ at, type: "reload" } as any), {
    label: "reload",
    text: "",
    tone: "idle",
  });
});
