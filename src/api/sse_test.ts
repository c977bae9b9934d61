import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import type { ServiceControl } from "../types.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import { type PolledEvent, StatusPoller } from "./sse.ts";
import { waitFor } from "../../tests/harness.ts";

/** Read a streamed body until `done(text)` holds, then cancel it. */
async function readUntil(response: Response, done: (text: string) => boolean): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!done(text)) {
      const { value, done: end } = await reader.read();
      if (end) break;
      text += value;
    }
  } finally {
    await reader.cancel();
  }
  return text;
}

function dataOf(text: string, event: string): unknown[] {
  return text.split("\n\n").filter((block) => block.includes(`\nevent: ${event}\n`)).map((block) =>
    JSON.parse(block.slice(block.indexOf("data: ") + 6))
  );
}

Deno.test("liveAnswers() events: retry hint, snapshot, events with the status after them, heartbeats", async () => {
  const control = new FakeControl([fakeStatus("a"), fakeStatus("b", { status: "running" })]);
  const closing = new AbortController();
  const app = createApp(control, { live: { heartbeatMs: 20, signal: closing.signal } });
  const res = await app.request("/api/services/events");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
  await control.start("a");
  const text = await readUntil(res, (t) => t.includes(": heartbeat"));
  assert.ok(text.startsWith("retry: 1000\n\n"));
  const [snapshot] = dataOf(text, "snapshot") as { services: { name: string }[] }[];
  assert.deepEqual(snapshot!.services.map((s) => s.name), ["a", "b"]);
  const [state] = dataOf(text, "state") as { to: string; status: { status: string } }[];
  assert.equal(state!.to, "running");
  assert.equal(state!.status.status, "running");
  closing.abort();
});

Deno.test("liveAnswers() events: the closing signal ends every stream and unsubscribes", async () => {
  const control = new FakeControl([fakeStatus("a")]);
  const closing = new AbortController();
  const app = createApp(control, { live: { signal: closing.signal } });
  const res = await app.request("/api/services/events");
  const reading = res.text();
  closing.abort();
  const text = await reading;
  assert.ok(text.includes("event: snapshot"));
  // The listener is gone: later events reach nobody, and nothing throws.
  await control.start("a");
});

Deno.test("liveAnswers() logs: 404 and 400 before any stream; last lines, ready, then new lines", async () => {
  const control = new FakeControl([fakeStatus("a")]);
  control.logLines.set("a", { stdout: ["1", "2", "3"], stderr: ["e"] });
  const closing = new AbortController();
  const app = createApp(control, { live: { signal: closing.signal } });

  const unknown = await app.request("/api/services/logs/zz?follow=1");
  assert.equal(unknown.status, 404);
  assert.deepEqual(await unknown.json(), { ok: false, error: 'Unknown service "zz"' });
  const bad = await app.request("/api/services/logs/a?follow=yes");
  assert.equal(bad.status, 400);
  assert.equal(
    (await bad.json()).error,
    'Invalid "follow": expected true, false, 1 or 0; got "yes"',
  );
  const plain = await app.request("/api/services/logs/a?follow=false&lines=1");
  assert.deepEqual(await plain.json(), {
    ok: true,
    name: "a",
    stream: "both",
    lines: 1,
    stdout: ["3"],
    stderr: ["e"],
  });

  const res = await app.request("/api/services/logs/a?follow=1&lines=2&stream=stdout");
  assert.equal(res.status, 200);
  setTimeout(() => control.appendLog("a", "stdout", ["4"]), 10);
  setTimeout(() => control.appendLog("a", "stderr", ["not followed"]), 5);
  const text = await readUntil(res, (t) => t.includes('"4"'));
  assert.deepEqual(dataOf(text, "lines"), [
    { stream: "stdout", lines: ["2", "3"] },
    { stream: "stdout", lines: ["4"] },
  ]);
  assert.deepEqual(dataOf(text, "ready"), [{ name: "a", stream: "stdout" }]);
  assert.ok(text.indexOf("event: ready") < text.lastIndexOf("event: lines"));
  closing.abort();
});

Deno.test("liveAnswers() answers 405 to other methods on the event stream", async () => {
  const app = createApp(new FakeControl([]));
  const res = await app.request("/api/services/events", { method: "POST" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD");
  assert.deepEqual(await res.json(), {
    ok: false,
    error: "Method POST not allowed on /api/services/events; use GET",
  });
});

Deno.test("StatusPoller reports health and metrics changes until the bus carries them", async () => {
  const status = fakeStatus("a", { status: "running", cpu_percent: 1, memory_rss_bytes: 1000 });
  const control = { list: () => [structuredClone(status)] } as unknown as ServiceControl;
  const poller = new StatusPoller(control, 5);
  const events: PolledEvent[] = [];
  const until = (n: number) =>
    waitFor(() => events.length >= n, { timeoutMs: 2000, intervalMs: 5, message: `${n} events` });
  const unsubscribe = poller.subscribe((e) => events.push(e));
  status.health = { healthy: false, message: "HTTP 500" };
  await until(1);
  assert.deepEqual(events.map((e) => [e.type, e.status.health.message]), [["health", "HTTP 500"]]);
  status.cpu_percent = 50;
  await until(2);
  assert.equal(events[1]!.type, "metrics");
  assert.equal(events[1]!.status.cpu_percent, 50);
  poller.seen("metrics");
  status.cpu_percent = 70;
  status.health = { healthy: true, message: "HTTP 200" };
  await until(3);
  assert.deepEqual(events.slice(2).map((e) => e.type), ["health"]);
  unsubscribe();
});

Deno.test("liveAnswers() answers HEAD with the headers and opens no stream", async () => {
  const control = new FakeControl([fakeStatus("a")]);
  const app = createApp(control);
  const watches = control.watchCount; // the app's own, for its metrics
  for (const path of ["/api/services/events", "/api/services/logs/a?follow=1"]) {
    const res = await app.request(path, { method: "HEAD" });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.body, null);
  }
  assert.equal(
    (await app.request("/api/services/logs/zz?follow=1", { method: "HEAD" })).status,
    404,
  );
  assert.deepEqual(control.calls.filter((c) => c.method === "followLogs"), []);
  assert.equal(control.watchCount, watches);
  await (await app.request("/api/services/events")).body?.cancel();
  assert.equal(control.watchCount, watches + 1, "a GET does watch");
});

Deno.test("liveAnswers() ends an event stream whose client does not read past maxBufferedBytes", async () => {
  const control = new FakeControl([fakeStatus("a")]);
  const app = createApp(control, { live: { maxBufferedBytes: 10_000 } });
  const res = await app.request("/api/services/events");
  // Nobody reads while 200 events (about 1 KB each) come.
  for (let i = 0; i < 100; i++) {
    await control.start("a");
    await control.stop("a");
  }
  const text = await res.text(); // ends: the stream was closed, not left open
  assert.ok(text.length < 10_000 + 66_000, `${text.length} characters buffered`);
  assert.ok(dataOf(text, "state").length < 200);
  assert.equal(control.events.count, 200);
});
