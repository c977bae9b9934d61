import assert from "node:assert/strict";
import { SERVICE_STATES, type ServiceState } from "../types.ts";
import { assertTransition, canTransition, LIVE_STATES, TRANSITIONS } from "./state_machine.ts";

/** The intended machine, written out pair by pair. */
const allowed = new Set([
  "stopped>starting",
  "starting>running",
  "starting>stopping",
  "starting>backoff",
  "starting>cooldown",
  "starting>exited",
  "starting>failed",
  "running>stopping",
  "running>backoff",
  "running>cooldown",
  "running>exited",
  "running>failed",
  "backoff>starting",
  "backoff>stopped",
  "cooldown>starting",
  "cooldown>stopped",
  "stopping>stopped",
  "exited>starting",
  "failed>starting",
]);

Deno.test("canTransition() allows exactly the intended pairs", () => {
  for (const from of SERVICE_STATES) {
    for (const to of SERVICE_STATES) {
      assert.equal(canTransition(from, to), allowed.has(`${from}>${to}`), `${from} -> ${to}`);
    }
  }
});

Deno.test("canTransition() lets every state reach starting or stopped", () => {
  for (const from of SERVICE_STATES) {
    const next = TRANSITIONS[from];
    assert.ok(
      next.includes("starting") || next.includes("stopped") || next.includes("stopping"),
      `${from} is a dead end`,
    );
  }
});

Deno.test("canTransition() enters stopped only without a live process", () => {
  for (const from of LIVE_STATES) {
    if (from !== "stopping") assert.equal(canTransition(from, "stopped"), false, from);
  }
});

Deno.test("assertTransition() names the service and both states", () => {
  assert.throws(
    () => assertTransition("api", "stopped", "running" as ServiceState),
    (err: unknown) =>
      err instanceof RangeError &&
      err.message === 'Service "api" cannot go from "stopped" to "running"',
  );
  assertTransition("api", "stopped", "starting");
});
