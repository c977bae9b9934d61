/**
 * The history kept by the orchestrator, with real processes: events of
 * crashes, a requested restart and health changes in order, the bound of
 * 100 events, the CPU and memory series, and `GET /api/services/history/{name}`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { HistoryEvent } from "../src/types.ts";
import { api, FAST, sh, startOrchestrator, waitFor } from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

type Exit = Extract<HistoryEvent, { type: "exit" }>;
type State = Extract<HistoryEvent, { type: "state" }>;

/** A compact trace of events: `state from>to`, `exit CODE`, `health from>to`, `action NAME`. */
function trace(events: HistoryEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case "state":
        return `state ${e.from}>${e.to}`;
      case "exit":
        return `exit ${e.code ?? e.signal}`;
      case "health":
        return `health ${e.role} ${e.from}>${e.to}`;
      default:
        return `action ${e.action}`;
    }
  });
}

Deno.test("Supervisor.history() records crashes, health changes and a requested restart in order", async () => {
  await withSupervisor(
    [{
      name: "web",
      ...sh("echo up; sleep 0.4; exit 3"),
      restart_policy: "on-failure",
      max_restarts: 1,
      liveness: { type: "file", path: "/", interval: 0.05, failure_threshold: 1 },
    }],
    async ({ sup, until }) => {
      await until("web", (s) => s.status === "failed", "web to fail after 2 runs");
      let events = sup.history("web").events;
      assert.deepEqual(trace(events), [
        "state stopped>starting",
        "state starting>running",
        "health liveness unknown>healthy",
        "exit 3",
        "state running>backoff",
        "state backoff>starting",
        "state starting>running",
        "exit 3",
        "state running>failed",
      ]);
      const runs = events.filter((e): e is State => e.type === "state" && e.to === "running");
      const exits = events.filter((e): e is Exit => e.type === "exit");
      assert.deepEqual(exits.map((e) => e.pid), runs.map((e) => e.pid));
      assert.ok(exits.every((e) => e.signal === null));
      const times = events.map((e) => Date.parse(e.at));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "events oldest first");
      assert.equal(sup.status("web").last_exit?.at, exits.at(-1)?.at);

      // A requested restart, sampled while it runs.
      const restarted = await sup.restart("web");
      await waitFor(() => {
        sup.sampleMetrics();
        return sup.history("web").series.memory_rss_bytes.some((v) => v !== null);
      }, { message: "a sample of web's memory" });
      await until(
        "web",
        (s) => s.status === "failed" && s.restarts > restarted.restarts,
        "failed again",
      );
      events = sup.history("web").events;
      assert.deepEqual(trace(events).slice(9, 12), [
        "action restart",
        "state failed>starting",
        "state starting>running",
      ]);
      assert.equal(events.filter((e) => e.type === "exit").length, 4);
      const { series } = sup.history("web");
      assert.equal(series.step, 10);
      assert.equal(series.cpu_percent.length, 360);
      assert.equal(series.memory_rss_bytes.length, 360);
      const points = series.memory_rss_bytes.filter((v) => v !== null);
      assert.ok(points.length > 0 && points.every((v) => v! > 0), JSON.stringify(points));
      assert.equal(series.memory_rss_bytes[0], null, "no point before the service ran");
      assert.equal(series.cpu_percent[0], null);
      assert.ok(Date.parse(series.end) > Date.now() - 10_000);
    },
  );
});

Deno.test("Supervisor.history() keeps the last 100 events of a crash loop, and records actions", async () => {
  await withSupervisor(
    [
      {
        name: "loop",
        ...sh("exit 1"),
        restart_policy: "always",
        backoff: { initial: 0, factor: 1, max: 0 },
        crash_loop: { max_crashes: 1_000_000, window: 1, cooldown: 0 },
      },
      { name: "idle", cmd: "sleep", args: ["600"], autostart: false },
    ],
    async ({ sup, until }) => {
      await until("loop", (s) => s.crash_count >= 40, "40 crashes", 30_000);
      await sup.stop("loop");
      const events = sup.history("loop").events;
      assert.equal(events.length, 100);
      assert.ok(trace(events).includes("action stop"), trace(events).join(", "));
      assert.match(trace(events).at(-1)!, /^state \w+>stopped$/);
      assert.notEqual(trace(events)[0], "state stopped>starting", "the oldest events are gone");
      const times = events.map((e) => Date.parse(e.at));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));

      await sup.start("idle");
      await sup.stop("idle", { force: true });
      await assert.rejects(() => sup.stop("idle"));
      assert.deepEqual(
        trace(sup.history("idle").events).filter((line) => line.startsWith("action")),
        ["action start", "action kill", "action stop"],
      );
    },
  );
});

Deno.test("GET /api/services/history/{name} answers the history and 404 for an unknown service", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "crash",
        ...sh("sleep 0.2; exit 7"),
        restart_policy: "on-failure",
        max_restarts: 1,
      }],
    },
  });
  await waitFor(
    async () => (await api(orch.url, "GET", "/api/services/status/crash")).body.status === "failed",
    {
      message: "crash to fail",
    },
  );
  const answer = await api(orch.url, "GET", "/api/services/history/crash");
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.ok, true);
  assert.equal(answer.body.name, "crash");
  const exits = (answer.body.events as HistoryEvent[]).filter((e): e is Exit => e.type === "exit");
  assert.deepEqual(exits.map((e) => e.code), [7, 7]);
  assert.equal(answer.body.series.cpu_percent.length, 360);
  assert.equal((await api(orch.url, "GET", "/api/services/history/nope")).status, 404);
});
