import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import { exitCodeOf, formatPrometheus, TransitionCounter } from "./prometheus.ts";

/** The value of one sample (`name{labels}`) in Prometheus text, undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const INFO = { version: "1.2.3", uptime: 5, pid: 1, services: {} as never };

Deno.test("formatPrometheus() gives start time, last exit code, transitions and build info", () => {
  const services = [
    fakeStatus("web", {
      status: "running",
      pid: 10,
      started_at: "2026-12-02T10:00:00.500Z",
      last_exit: { code: 3, signal: null, at: "2026-12-02T09:59:59.000Z" },
    }),
    fakeStatus("killed", { last_exit: { code: null, signal: "SIGKILL", at: "x" } }),
    fakeStatus("fresh"),
  ];
  const transitions = new Map([["web", new Map([["running", 2], ["stopped", 1]] as const)]]);
  const text = formatPrometheus(services, INFO, transitions);
  assert.equal(
    sample(text, 'edgevisor_service_start_time_seconds{service="web"}'),
    Date.parse("2026-12-02T10:00:00.500Z") / 1000,
  );
  assert.equal(sample(text, 'edgevisor_service_start_time_seconds{service="fresh"}'), 0);
  assert.equal(sample(text, 'edgevisor_service_last_exit_code{service="web"}'), 3);
  assert.equal(sample(text, 'edgevisor_service_last_exit_code{service="killed"}'), 137);
  assert.equal(sample(text, 'edgevisor_service_last_exit_code{service="fresh"}'), undefined);
  assert.equal(sample(text, 'edgevisor_service_transitions_total{service="web",to="running"}'), 2);
  assert.equal(sample(text, 'edgevisor_service_transitions_total{service="web",to="stopped"}'), 1);
  assert.equal(sample(text, 'edgevisor_service_transitions_total{service="web",to="failed"}'), 0);
  assert.equal(
    sample(text, 'edgevisor_service_transitions_total{service="fresh",to="running"}'),
    0,
  );
  assert.equal(
    sample(text, `edgevisor_build_info{version="1.2.3",deno="${Deno.version.deno}"}`),
    1,
  );
  assert.match(text, /# TYPE edgevisor_service_transitions_total counter\n/);
  assert.match(text, /# TYPE edgevisor_service_last_exit_code gauge\n/);
  assert.match(text, /# TYPE edgevisor_build_info gauge\n/);
});

Deno.test("exitCodeOf() is the code, or 128 plus the signal number", () => {
  assert.equal(exitCodeOf({ code: 0, signal: null, at: "" }), 0);
  assert.equal(exitCodeOf({ code: null, signal: "SIGTERM", at: "" }), 143);
  assert.equal(exitCodeOf({ code: null, signal: "SIGSEGV", at: "" }), 139);
  assert.equal(exitCodeOf({ code: null, signal: "SIGNOPE", at: "" }), -1);
});

Deno.test("TransitionCounter counts every transition from its creation until the signal", async () => {
  const control = new FakeControl([fakeStatus("a")]);
  await control.start("a");
  const stop = new AbortController();
  const counter = new TransitionCounter(control, stop.signal);
  await control.stop("a");
  await control.start("a");
  await control.stop("a");
  assert.deepEqual([...counter.counts().get("a")!], [["stopped", 2], ["running", 1]]);
  stop.abort();
  await control.start("a");
  assert.equal(counter.counts().get("a")!.get("running"), 1);
});

Deno.test("GET /metrics shows a stop and start that happened between two scrapes", async () => {
  const control = new FakeControl([fakeStatus("web", { status: "running", pid: 7 })]);
  const app = createApp(control);
  const before = await (await app.request("/metrics")).text();
  assert.equal(
    sample(before, 'edgevisor_service_transitions_total{service="web",to="stopped"}'),
    0,
  );
  await control.stop("web");
  await control.start("web");
  const res = await app.request("/metrics");
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const after = await res.text();
  assert.equal(sample(after, 'edgevisor_service_state{service="web",state="running"}'), 1);
  assert.equal(sample(after, 'edgevisor_service_transitions_total{service="web",to="stopped"}'), 1);
  assert.equal(sample(after, 'edgevisor_service_transitions_total{service="web",to="running"}'), 1);
});
