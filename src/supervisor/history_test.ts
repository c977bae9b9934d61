import assert from "node:assert/strict";
import type { StateEvent } from "../types.ts";

import { History, NO_KIB, SERIES_POINTS } from "./history.ts";

const T0 = Date.parse("2026-12-02T10:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

function state(
  from: StateEvent["from"],
  to: StateEvent["to"],
  atMs: number,
  extra: Partial<StateEvent> = {},
): StateEvent {
  return {
    type: "state",
    service: "web",
    from,
    to,
    reason: null,
    at: iso(atMs),
    pid: null,
    ...extra,
  };
}

Deno.test("History.of() gives transitions, exits, health changes and actions in order", () => {
  let now = T0;
  const history = new History({ now: () => now });
  history.action("web", "start", T0);
  history.observe(state("stopped", "starting", T0));
  history.started("web", 1234, T0 + 1);
  history.observe(state("starting", "running", T0 + 5, { pid: 1234 }));
  history.observe({
    type: "health",
    service: "web",
    role: "health",
    from: "unknown",
    to: "unhealthy",
    message: "timed out after 2s",
    at: iso(T0 + 7),
  });
  history.observe(
    state("running", "backoff", T0 + 12, {
      reason: "exited with code 1; restarting in 0.5s",
      exit: { code: 1, signal: null, at: iso(T0 + 10) },
    }),
  );
  now = T0 + 20;
  assert.deepEqual(history.of("web").events, [
    { at: iso(T0), type: "action", action: "start" },
    { at: iso(T0), type: "state", from: "stopped", to: "starting", reason: null, pid: null },
    { at: iso(T0 + 5), type: "state", from: "starting", to: "running", reason: null, pid: 1234 },
    {
      at: iso(T0 + 7),
      type: "health",
      role: "health",
      from: "unknown",
      to: "unhealthy",
      message: "timed out after 2s",
    },
    { at: iso(T0 + 10), type: "exit", pid: 1234, code: 1, signal: null },
    {
      at: iso(T0 + 12),
      type: "state",
      from: "running",
      to: "backoff",
      reason: "exited with code 1; restarting in 0.5s",
      pid: null,
    },
  ]);
  // The exit marker stands where the transition came: after the output of the process.
  assert.deepEqual(history.markers("web"), [
    { at: iso(T0 + 1), marker: "start", text: "started (pid 1234)" },
    { at: iso(T0 + 12), marker: "exit", text: "exited with code 1 (pid 1234)" },
  ]);
  assert.deepEqual(history.markers("web", T0 + 2), [
    { at: iso(T0 + 12), marker: "exit", text: "exited with code 1 (pid 1234)" },
  ]);
  assert.deepEqual(history.of("nobody").events, []);
});

Deno.test("History keeps the last events only, oldest first, and forgets a service", () => {
  const history = new History({ events: 5 });
  for (let i = 0; i < 23; i++) history.action("web", i % 2 ? "stop" : "kill", T0 + i);
  const events = history.of("web").events;
  assert.equal(events.length, 5);
  assert.deepEqual(events.map((e) => e.at), [18, 19, 20, 21, 22].map((i) => iso(T0 + i)));
  assert.deepEqual(events.map((e) => e.type === "action" && e.action), [
    "kill",
    "stop",
    "kill",
    "stop",
    "kill",
  ]);
  history.forget("web");
  assert.deepEqual(history.of("web").events, []);
});

Deno.test("History.markers() keeps a start and an exit of one millisecond in order, and signals", () => {
  const history = new History();
  history.started("web", 10, T0);
  history.observe(
    state("running", "backoff", T0, { exit: { code: null, signal: "SIGKILL", at: iso(T0) } }),
  );
  history.started("web", 11, T0);
  assert.deepEqual(history.markers("web").map((m) => m.text), [
    "started (pid 10)",
    "killed by SIGKILL (pid 10)",
    "started (pid 11)",
  ]);
});

Deno.test("History.of() gives one point per step over the last hour, null without a sample", () => {
  let now = T0 + 5_000;
  const history = new History({ now: () => now });
  const empty = history.of("web").series;
  assert.equal(empty.step, 10);
  assert.equal(empty.end, iso(T0 + 10_000));
  assert.equal(empty.cpu_percent.length, SERIES_POINTS);
  assert.ok(empty.cpu_percent.every((v) => v === null));
  assert.ok(empty.memory_rss_bytes.every((v) => v === null));

  // Two samples in one step: the mean CPU and the highest memory.
  history.sample("web", { cpuPercent: 1, rssBytes: 4096 }, T0 + 1_000);
  history.sample("web", { cpuPercent: 2, rssBytes: 8192 }, T0 + 3_000);
  // No process for the next step, then one sample without CPU yet.
  history.sample("web", undefined, T0 + 12_000);
  history.sample("web", { cpuPercent: null, rssBytes: 2048 }, T0 + 21_000);
  now = T0 + 25_000;
  let series = history.of("web").series;
  assert.equal(series.end, iso(T0 + 30_000));
  assert.deepEqual(series.cpu_percent.slice(-3), [1.5, null, null]);
  assert.deepEqual(series.memory_rss_bytes.slice(-3), [8192, null, 2048]);

  // An hour later the old points have left the window; the series never grows.
  now = T0 + 3_600_000 + 15_000;
  history.sample("web", { cpuPercent: 0.25, rssBytes: 1024 * 1024 }, now);
  series = history.of("web").series;
  assert.equal(series.cpu_percent.length, SERIES_POINTS);
  assert.equal(series.cpu_percent.filter((v) => v !== null).length, 1);
  assert.equal(series.cpu_percent.at(-1), 0.25);
  assert.equal(series.memory_rss_bytes.at(-1), 1024 * 1024);
  // 359 steps ago is inside the window: the sample of T0 + 21 s is still there.
  now = T0 + 20_000 + 359 * 10_000;
  series = history.of("web").series;
  assert.equal(series.memory_rss_bytes[0], 2048);
});

Deno.test("History drops a late sample and caps memory below the sentinel", () => {
  const history = new History({ now: () => T0 + 25_000 });
  history.sample("web", { cpuPercent: 1, rssBytes: 1024 }, T0 + 21_000);
  history.sample("web", { cpuPercent: 9, rssBytes: 9 * 1024 }, T0 + 5_000); // an earlier step
  history.sample("web", { cpuPercent: 1, rssBytes: NO_KIB * 1024 * 2 }, T0 + 22_000);
  const series = history.of("web").series;
  assert.equal(series.cpu_percent.at(-2), null);
  assert.equal(series.memory_rss_bytes.at(-1), (NO_KIB - 1) * 1024);
});
