/**
 * Server-Sent Events over real HTTP against a real `edgevisor run`: the
 * service event stream (snapshot, then every transition with nothing missed
 * or repeated), log following across rotations, and clean ends on client
 * abort and on shutdown.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openFds } from "../bench/soak.ts";
import { listBodySchema, statusBodySchema } from "../src/api/schemas.ts";
import {
  api,
  FAST,
  serviceStatus,
  sh,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** One parsed event of a stream. */
interface SseEvent {
  id: number | null;
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** A Server-Sent Events client over fetch that collects every event. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  readonly abort = new AbortController();
  readonly status: Promise<number>;
  /** Resolves when the server ends the stream (or the client aborts). */
  readonly ended: Promise<"ended" | "aborted" | "failed">;
  /** Why the stream failed, when it did. */
  error: unknown = undefined;
  #resolveStatus!: (status: number) => void;
  #reader: ReadableStreamDefaultReader<string> | undefined;

  constructor(url: string) {
    this.status = new Promise((resolve) => (this.#resolveStatus = resolve));
    this.ended = this.#run(url);
  }

  async #run(url: string): Promise<"ended" | "aborted" | "failed"> {
    let buffer = "";
    try {
      const response = await fetch(url, { signal: this.abort.signal });
      this.#resolveStatus(response.status);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      this.#reader = reader;
      while (true) {
        const { done, value } = await reader.read();
        if (done) return "ended";
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          this.#parse(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (err) {
      this.#resolveStatus(0);
      if (this.abort.signal.aborted) return "aborted";
      this.error = err;
      return "failed";
    }
  }

  #parse(block: string): void {
    let id: number | null = null;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line);
      else if (line.startsWith("id: ")) id = Number(line.slice(4));
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ id, event, data: JSON.parse(data.join("\n")) });
  }

  /** Go away: abort the request and cancel the body. */
  close(): void {
    this.abort.abort();
    this.#reader?.cancel().catch(() => {});
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }
}

Deno.test("GET /api/services/events: snapshot, then every transition, nothing missed or repeated", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "flapper",
          ...sh("exit 3"),
          restart_policy: "always",
          backoff: { initial: 0.01, factor: 1, max: 0.01 },
          crash_loop: { max_crashes: 1_000_000, window: 1, cooldown: 1 },
        },
        { ...FAST, name: "steady", cmd: "sleep", args: [String(uniqueSeconds())] },
      ],
    },
  });
  // Streams opened at different moments, while the flapper changes state all the time.
  const clients: SseClient[] = [];
  for (let i = 0; i < 4; i++) {
    clients.push(new SseClient(`${orch.url}/api/services/events`));
    await waitFor(() => clients.at(-1)!.events.length > 0, { message: "a snapshot" });
  }
  try {
    await waitFor(() => clients.every((c) => c.of("state").length >= 30), {
      message: "30 events on every stream",
    });
    for (const client of clients) {
      assert.equal(await client.status, 200);
      const [first, ...rest] = client.events;
      assert.equal(first!.event, "snapshot");
      const state = new Map<string, string>(
        first!.data.services.map((s: { name: string; status: string }) => [s.name, s.status]),
      );
      assert.deepEqual([...state.keys()], ["flapper", "steady"]);
      let id = first!.id!;
      for (const e of rest) {
        assert.equal(e.id, ++id, "consecutive ids");
        assert.equal(e.event, e.data.type);
        if (e.event !== "state") continue;
        assert.equal(
          e.data.from,
          state.get(e.data.service),
          `event ${e.id}: ${e.data.service} ${e.data.from} -> ${e.data.to} follows ${
            state.get(e.data.service)
          }`,
        );
        assert.equal(e.data.status.status, e.data.to, "the status after the event");
        assert.ok(statusBodySchema.omit({ ok: true }).safeParse(e.data.status).success);
        state.set(e.data.service, e.data.to);
      }
    }
  } finally {
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.ended));
  }
});

Deno.test("event streams end cleanly when clients go away", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "s",
        ...sh(`echo out; echo err >&2; exec sleep ${uniqueSeconds()}`),
      }],
    },
  });
  // Both log files exist: every follower holds them open while it runs.
  await waitFor(async () => {
    const body = (await api(orch.url, "GET", "/api/services/logs/s")).body;
    return body.stdout.length === 1 && body.stderr.length === 1;
  }, { message: "both log files written" });
  const before = openFds(orch.pid);
  const clients = Array.from({ length: 20 }, (_, i) =>
    new SseClient(
      i % 2 === 0
        ? `${orch.url}/api/services/events`
        : `${orch.url}/api/services/logs/s?follow=1&lines=10`,
    ));
  await waitFor(() => clients.every((c) => c.events.length > 0), { message: "every stream open" });
  // One connection per stream (one of them may reuse the kept-alive connection of the harness),
  // and the two files of the log, read once for every follower.
  await waitFor(() => openFds(orch.pid) >= before + 19 + 2, { message: "connections and files" });
  for (const c of clients) c.close();
  for (const ended of await Promise.all(clients.map((c) => c.ended))) {
    assert.notEqual(ended, "failed");
  }
  await waitFor(() => openFds(orch.pid) <= before, {
    message: `the orchestrator's descriptors back to ${before}`,
  });
  // The API still answers, and the retry hint is sent.
  assert.equal((await api(orch.url, "GET", "/api/services/list")).status, 200);
});

Deno.test("GET /api/services/logs/{name}?follow=1: last lines, then new ones, across rotations", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "counter",
          // 2000 numbered lines, a few at a time, then quiet.
          ...sh(
            `i=0; while [ $$i -lt 2000 ]; do i=$$((i+1)); echo "n $$i"; case $$i in *0) sleep 0.01;; esac; done; exec sleep ${uniqueSeconds()}`,
          ),
          // About 40 rotations, every file kept: a follower caught up polls every 250 ms, and a
          // log that rotates more than `keep` times between two looks loses files (a marker says so).
          log: { max_size_mb: 0.002, keep: 50 },
        },
      ],
    },
  });
  await waitFor(
    async () =>
      (await api(orch.url, "GET", "/api/services/logs/counter?lines=1&stream=stdout")).body
        .stdout[0] !== undefined,
    { message: "the first line" },
  );
  const client = new SseClient(
    `${orch.url}/api/services/logs/counter?follow=1&lines=5&stream=stdout`,
  );
  try {
    await waitFor(
      () => client.of("lines").flatMap((e) => e.data.lines).at(-1) === "n 2000",
      { message: "line n 2000", timeoutMs: 20_000 },
    );
    const lines: string[] = client.of("lines").flatMap((e) => e.data.lines);
    const numbers = lines.map((l) => Number(l.slice(2)));
    const first = numbers[0]!;
    assert.deepEqual(numbers, Array.from({ length: 2001 - first }, (_, i) => first + i));
    assert.equal(client.of("ready").length, 1);
    assert.ok(
      client.events.findIndex((e) => e.event === "ready") >= 1,
      "ready after the last lines",
    );
    // The files did rotate while followed.
    assert.ok(Deno.statSync(`${orch.logDir}/counter.stdout.log.3`).isFile);
  } finally {
    client.close();
    await client.ended;
  }
  const unknown = await api(orch.url, "GET", "/api/services/logs/nope?follow=1");
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { ok: false, error: 'Unknown service "nope"' });
  const bad = await api(orch.url, "GET", "/api/services/logs/counter?follow=maybe");
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /Invalid "follow"/);
  const plain = await api(orch.url, "GET", "/api/services/logs/counter?follow=0&lines=1");
  assert.equal(plain.body.ok, true);
  assert.equal(plain.body.stdout[0], "n 2000");
});

Deno.test("open streams end when the orchestrator stops, and it exits in time", async () => {
  const orch = await startOrchestrator({
    registry: { services: [{ ...FAST, name: "s", cmd: "sleep", args: [String(uniqueSeconds())] }] },
  });
  try {
    // The API answers before the services are started.
    await waitFor(async () => (await serviceStatus(orch.url, "s")).status === "running", {
      message: "s running",
    });
    const list = listBodySchema.parse((await api(orch.url, "GET", "/api/services/list")).body);
    assert.equal(list.services[0]!.name, "s");
    const events = new SseClient(`${orch.url}/api/services/events`);
    const logs = new SseClient(`${orch.url}/api/services/logs/s?follow=1`);
    await waitFor(() => events.events.length > 0 && logs.of("ready").length > 0, {
      message: "both streams open",
    });
    const status = await orch.stop(10_000);
    assert.equal(status.code, 0);
    assert.equal(await events.ended, "ended");
    assert.equal(await logs.ended, "ended");
    // The last events of the stream: the service stopping.
    assert.deepEqual(events.of("state").map((e) => e.data.to), ["stopping", "stopped"]);
  } finally {
    await orch.destroy();
  }
});

Deno.test("GET /api/services/status after an event agrees with the event's status", async () => {
  await using orch = await startOrchestrator({
    registry: { services: [{ ...FAST, name: "s", cmd: "sleep", args: [String(uniqueSeconds())] }] },
  });
  await waitFor(async () => (await serviceStatus(orch.url, "s")).status === "running", {
    message: "s running",
  });
  const client = new SseClient(`${orch.url}/api/services/events`);
  try {
    await waitFor(() => client.events.length > 0, { message: "the snapshot" });
    const before = await serviceStatus(orch.url, "s");
    Deno.kill(before.pid, "SIGKILL");
    const running = await waitFor(
      () => client.of("state").find((e) => e.data.to === "running")?.data.status,
      { message: "running again" },
    );
    assert.notEqual(running.pid, before.pid);
    assert.equal((await serviceStatus(orch.url, "s")).pid, running.pid);
  } finally {
    client.close();
    await client.ended;
  }
});
