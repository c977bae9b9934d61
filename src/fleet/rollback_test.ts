import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { fakeStatus } from "../api/fake_control.ts";
import type { ServiceStatus } from "../types.ts";
import { decideRollback, type FinalDecision, RollbackWindow } from "./rollback.ts";

/** Fake global timers and clock from `now`, uninstalled when disposed. */
function fakeClock(now: number) {
  const clock = FakeTimers.withGlobal(globalThis).install({ now });
  return Object.assign(clock, { [Symbol.dispose]: () => clock.uninstall() });
}

const healthy = { healthy: true, message: "HTTP 200" };
const unhealthy = { healthy: false, message: "HTTP 500 (expected 200-399)" };

Deno.test("decideRollback() rolls back at once on failed or cooldown", () => {
  for (const status of ["failed", "cooldown"] as const) {
    const decision = decideRollback({
      services: [
        fakeStatus("ok", { status: "running" }),
        fakeStatus("web", { status, reason: "exited with code 3" }),
      ],
      nowMs: 0,
      endsAtMs: 60_000,
    });
    assert.deepEqual(decision, {
      decision: "roll_back",
      service: "web",
      reason: `service "web" ${
        status === "failed" ? "failed" : "went to cooldown"
      }: exited with code 3`,
    });
  }
});

Deno.test("decideRollback() waits until the end of the window, then reads health", () => {
  const services = [fakeStatus("web", { status: "running", health: unhealthy })];
  assert.deepEqual(decideRollback({ services, nowMs: 59_999, endsAtMs: 60_000 }), {
    decision: "wait",
  });
  assert.deepEqual(decideRollback({ services, nowMs: 60_000, endsAtMs: 60_000 }), {
    decision: "roll_back",
    service: "web",
    reason:
      'service "web" was unhealthy at the end of the rollback window: HTTP 500 (expected 200-399)',
  });
  const fine = [
    fakeStatus("web", { status: "running", health: healthy }),
    fakeStatus("job", { status: "exited" }),
    fakeStatus("new", { status: "backoff" }),
  ];
  assert.deepEqual(decideRollback({ services: fine, nowMs: 60_000, endsAtMs: 60_000 }), {
    decision: "keep",
  });
  assert.deepEqual(decideRollback({ services: [], nowMs: 0, endsAtMs: 60_000 }), {
    decision: "keep",
  });
});

/** A window over mutable statuses, with the decisions it made. */
function windowOver(statuses: ServiceStatus[], services: string[], windowMs: number) {
  const listeners = new Set<(service: string) => void>();
  const decisions: FinalDecision[] = [];
  const window = new RollbackWindow({
    services,
    windowMs,
    statuses: () => statuses,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onDecision: (d) => decisions.push(d),
  });
  const emit = (service: string) => {
    for (const listener of listeners) listener(service);
  };
  return { window, decisions, emit, listeners };
}

Deno.test("RollbackWindow keeps a revision whose services stay healthy for the window", () => {
  using clock = fakeClock(1_000);
  const statuses = [fakeStatus("web", { status: "running", health: healthy })];
  const { window, decisions, listeners } = windowOver(statuses, ["web"], 60_000);
  assert.equal(window.endsAtMs, 61_000);
  clock.tick(59_999);
  assert.deepEqual(decisions, []);
  clock.tick(1);
  assert.deepEqual(decisions, [{ decision: "keep" }]);
  assert.equal(window.done, true);
  assert.equal(listeners.size, 0, "unsubscribed");
});

Deno.test("RollbackWindow rolls back on the event that puts a watched service in cooldown", () => {
  using clock = fakeClock(0);
  const statuses = [
    fakeStatus("web", { status: "running" }),
    fakeStatus("other", { status: "running" }),
  ];
  const { decisions, emit } = windowOver(statuses, ["web"], 60_000);
  clock.tick(10_000);
  statuses[1] = fakeStatus("other", { status: "cooldown" });
  emit("other");
  assert.deepEqual(decisions, [], "not a watched service");
  statuses[0] = fakeStatus("web", { status: "cooldown", reason: "3 exits within 60s" });
  emit("web");
  assert.deepEqual(decisions, [{
    decision: "roll_back",
    service: "web",
    reason: 'service "web" went to cooldown: 3 exits within 60s',
  }]);
  clock.tick(60_000);
  assert.equal(decisions.length, 1, "one decision");
});

Deno.test("RollbackWindow decides at once when nothing is watched, and stops without deciding", () => {
  using clock = fakeClock(0);
  assert.deepEqual(windowOver([], [], 60_000).decisions, [{ decision: "keep" }]);
  const unhealthyWeb = [fakeStatus("web", { status: "running", health: unhealthy })];
  const { window, decisions } = windowOver(unhealthyWeb, ["web"], 5_000);
  window.stop();
  clock.tick(10_000);
  assert.deepEqual(decisions, []);
});
