/**
 * The fleet view against a real `nats-server`: nodes named by where their
 * messages arrive, `stopped` after a clean shutdown and forgotten later,
 * foreign KV values reported, service names that are no subject tokens,
 * `fleet watch` across a reconnect, replaying, and giving up; and the
 * stream and bucket left as the operator configured them.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { FakeControl, fakeStatus } from "../src/api/fake_control.ts";
import { EventBus } from "../src/events.ts";
import type { SupervisorEvent } from "../src/types.ts";
import { NatsPublisher } from "../src/nats/publisher.ts";
import { FAST, MAIN, runMain, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";
import { Collector, type NatsServer, startNatsServer } from "./nats_harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function heartbeat(node: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema: 1,
    node,
    version: "0.1.0",
    pid: 666,
    at: new Date().toISOString(),
    uptime: 1,
    heartbeat_interval: 5,
    services: { running: 1, total: 1 },
    ...fields,
  });
}

function stateEvent(service: string, reason: string): SupervisorEvent {
  return {
    type: "state",
    service,
    from: "running",
    to: "backoff",
    reason,
    at: new Date().toISOString(),
    pid: 1,
  };
}

/** Names of the consumers of the events stream of `server`. */
async function consumers(server: NatsServer): Promise<string[]> {
  const nc = await server.connect();
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.consumers.list("EDGEVISOR_EVENTS").next()).map((c) => c.name);
  } finally {
    await nc.close();
  }
}

/** Wait until a consumer not in `known` (a new watch's) reads the events stream of `server`. */
async function newConsumer(server: NatsServer, known: string[] = []): Promise<void> {
  await waitFor(async () => (await consumers(server)).some((name) => !known.includes(name)), {
    message: "the watch's consumer",
  });
}

/** A `fleet watch` subprocess whose output is read as it comes. */
function startWatch(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "fleet", "watch", ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { stdout: "", stderr: "" };
  const read = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) out[key] += chunk;
  };
  const reading = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]);
  return {
    out,
    lines: () => out.stdout.split("\n").filter((l) => l !== ""),
    async exit() {
      const status = await child.status;
      await reading;
      return status.code;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      await reading;
    },
  };
}

Deno.test("nats fleet: a clean stop is `stopped`, not `expired`, and old nodes are forgotten", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const o = await startOrchestrator({
    registry: {
      services: [{ name: "web", cmd: "sleep", args: [String(uniqueSeconds())], ...FAST }],
    },
    extraArgs: ["--nats", server.url, "--node", "s1", "--heartbeat-interval", "0.2"],
  });
  try {
    await waitFor(() => o.stderr().includes('KV bucket "edgevisor" ready'), {
      message: "JetStream set-up",
    });
    const alive = await runMain(["fleet", "ls", "--json", "--nats", server.url]);
    assert.equal(JSON.parse(alive.stdout).nodes[0].state, "alive");
    assert.equal((await o.stop()).code, 0);
  } finally {
    await o.destroy();
  }
  const ls = await runMain(["fleet", "ls", "--json", "--nats", server.url]);
  assert.equal(ls.code, 0, ls.stderr);
  const [node] = JSON.parse(ls.stdout).nodes;
  assert.equal(node.state, "stopped");
  assert.equal(node.heartbeat.offline, true);
  assert.equal(node.heartbeat.services.stopped, 1, "the services were stopped first");
  const table = await runMain(["fleet", "ls", "--nats", server.url]);
  assert.match(table.stdout, /^s1\s+stopped\s/m);
  // Long after its last heartbeat (here: 0.5 s), it is left out and counted.
  const forgotten = await waitFor(async () => {
    const run = await runMain([
      "fleet",
      "ls",
      "--json",
      "--forget-after",
      "0.5",
      "--nats",
      server.url,
    ]);
    const body = JSON.parse(run.stdout);
    return body.forgotten === 1 && body;
  }, { timeoutMs: 60_000, message: "s1 forgotten" });
  assert.deepEqual(forgotten.nodes, []);
});

Deno.test("nats fleet: without JetStream, nodes come from heartbeats on their own subjects; lies are ignored", async () => {
  await using server = await startNatsServer();
  const control = new FakeControl([fakeStatus("web", { status: "running", pid: 7 })]);
  const publisher = new NatsPublisher({ control, events: new EventBus<SupervisorEvent>() }, {
    url: server.url,
    node: "h1",
    heartbeatIntervalMs: 60_000,
    log: () => {},
  });
  publisher.start();
  const liar = await server.connect();
  try {
    await waitFor(() => publisher.connected, { message: "the publisher" });
    // A liar answers every discovery request with heartbeats on its own subject.
    liar.subscribe("edgevisor.discover", {
      callback: () => {
        liar.publish("edgevisor.h2.heartbeat", heartbeat("h1"));
        liar.publish("edgevisor.h3.heartbeat", heartbeat("h3", { heartbeat_interval: 86_400 }));
        liar.publish("edgevisor.h4.heartbeat", "not json");
      },
    });
    await liar.flush();
    const ls = await runMain(["fleet", "ls", "--json", "--services", "--nats", server.url]);
    assert.equal(ls.code, 0, ls.stderr);
    const body = JSON.parse(ls.stdout);
    assert.equal(body.from, "heartbeats");
    assert.deepEqual(body.nodes.map((n: Json) => [n.node, n.state, n.heartbeat.pid]), [
      ["h1", "alive", 4242], // FakeControl's pid, not the liar's 666
    ]);
    assert.deepEqual(body.nodes[0].services.map((s: Json) => [s.name, s.pid]), [["web", 7]]);
    assert.deepEqual(body.ignored.map((i: Json) => i.source).sort(), [
      'subject "edgevisor.h2.heartbeat"',
      'subject "edgevisor.h3.heartbeat"',
      'subject "edgevisor.h4.heartbeat"',
    ]);
    const table = await runMain(["fleet", "ls", "--nats", server.url]);
    assert.match(table.stdout, /^h1\s+alive\s/m);
    assert.doesNotMatch(table.stdout, /h2|h3|h4/);
    assert.match(
      table.stderr,
      /warning: ignored subject "edgevisor.h2.heartbeat": its body names node "h1", not "h2"/,
    );
  } finally {
    await liar.close();
    await publisher.close();
  }
});

Deno.test("nats fleet: service names that are no subject token are encoded, stored and found", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const names = ["trail.", "dbl..dot", "db.replica"];
  const control = new FakeControl(names.map((name) => fakeStatus(name, { status: "running" })));
  const events = new EventBus<SupervisorEvent>();
  const lines: string[] = [];
  const publisher = new NatsPublisher({ control, events }, {
    url: server.url,
    node: "t1",
    heartbeatIntervalMs: 60_000,
    log: (line) => lines.push(line),
  });
  publisher.start();
  const nc = await server.connect();
  try {
    await waitFor(() => lines.some((l) => l.includes('KV bucket "edgevisor" ready')), {
      message: "JetStream set-up",
    });
    const seen = new Collector<Json>(nc, "edgevisor.t1.events.*");
    await nc.flush();
    for (const name of names) events.emit(stateEvent(name, `crash of ${name}`));
    await waitFor(() => seen.messages.length === 3, { message: "three events" });
    assert.deepEqual(seen.messages.map((m) => m.subject), [
      "edgevisor.t1.events.trail=2E",
      "edgevisor.t1.events.dbl=2E=2Edot",
      "edgevisor.t1.events.db=2Ereplica",
    ]);
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.streams.info("EDGEVISOR_EVENTS")).state.messages === 3, {
      message: "three events in the stream",
    });
    const kv = await new Kvm(nc).open("edgevisor");
    await waitFor(() => kv.get("t1.dbl=2E=2Edot"), { message: "the KV status" });
    const status = await runMain([
      "fleet",
      "status",
      "t1/dbl..dot",
      "--json",
      "--nats",
      server.url,
    ]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).name, "dbl..dot");
    const replay = await runMain([
      "fleet",
      "watch",
      "--json",
      "--since",
      "1h",
      "--service",
      "trail.",
      "--count",
      "1",
      "--nats",
      server.url,
    ]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(JSON.parse(replay.stdout).reason, "crash of trail.");
    const ls = await runMain(["fleet", "ls", "--services", "--json", "--nats", server.url]);
    assert.deepEqual(
      JSON.parse(ls.stdout).nodes[0].services.map((s: Json) => s.name).sort(),
      [...names].sort(),
    );
  } finally {
    await publisher.close();
    await nc.close();
  }
});

Deno.test("nats fleet: `fleet status` reports a foreign or partial KV value as an error", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const setup = await runMain(["fleet", "setup", "--nats", server.url]);
  assert.equal(setup.code, 0, setup.stderr);
  assert.match(setup.stdout, /stream: created\nKV bucket: created/);
  const nc = await server.connect();
  try {
    const kv = await new Kvm(nc).open("edgevisor");
    await kv.put("f1.web", JSON.stringify({ node: "f1", name: "web", status: "running" }));
    await kv.put("f1.api", JSON.stringify({ ...fakeStatus("api"), node: "f2", schema: 1 }));
    await kv.put("f1.db", "hello");
    const cases: [string, RegExp][] = [
      ["f1/web", /is not the status of "f1\/web": not an edgevisor status \(/],
      ["f1/api", /is not the status of "f1\/api": its body names node "f2", not "f1"/],
      ["f1/db", /is not the status of "f1\/db": not a JSON object/],
    ];
    for (const [target, message] of cases) {
      for (const json of [[], ["--json"]]) {
        const run = await runMain(["fleet", "status", target, ...json, "--nats", server.url]);
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /^error: The KV entry "f1\.\w+" of bucket "edgevisor"/);
        assert.match(run.stderr, message);
        assert.doesNotMatch(run.stderr, /TypeError|Cannot read properties/);
      }
    }
  } finally {
    await nc.close();
  }
});

Deno.test("nats fleet: `fleet watch` resumes after a reconnect without losing events, and exits 1 when the server is gone for good", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const control = new FakeControl([fakeStatus("web", { status: "running" })]);
  const events = new EventBus<SupervisorEvent>();
  const lines: string[] = [];
  const publisher = new NatsPublisher({ control, events }, {
    url: server.url,
    node: "w1",
    retryMs: 100,
    heartbeatIntervalMs: 60_000,
    log: (line) => lines.push(line),
  });
  publisher.start();
  try {
    await waitFor(() => lines.some((l) => l.includes('KV bucket "edgevisor" ready')), {
      message: "JetStream set-up",
    });
    await using watch = startWatch(["--json", "--timeout", "20", "--nats", server.url]);
    await newConsumer(server);
    events.emit(stateEvent("web", "before"));
    await waitFor(() => watch.lines().length === 1, { message: "the first event" });

    // The server restarts; an event of the outage, stored before the watch is back, is shown.
    await server.kill();
    await waitFor(() => watch.out.stderr.includes("warning: lost the connection to NATS"), {
      message: "the watch to notice",
    });
    events.emit(stateEvent("web", "while the watch reconnects"));
    await server.restart();
    await waitFor(() => publisher.connected, { message: "the publisher back" });
    events.emit(stateEvent("web", "after"));
    await waitFor(() => watch.lines().length === 3, { timeoutMs: 20_000, message: "3 events" });
    assert.deepEqual(watch.lines().map((l) => JSON.parse(l).reason), [
      "before",
      "while the watch reconnects",
      "after",
    ]);
    assert.match(watch.out.stderr, /reconnected to NATS/);
  } finally {
    await publisher.close();
  }

  // Gone for good: not back within --timeout.
  const known = await consumers(server);
  await using gone = startWatch(["--timeout", "1", "--nats", server.url]);
  // Once the watch reads the stream, the server dies for good.
  await newConsumer(server, known);
  await server.kill();
  assert.equal(await gone.exit(), 1);
  assert.match(gone.out.stderr, /warning: lost the connection to NATS; reconnecting for up to 1s/);
  assert.match(
    gone.out.stderr,
    /error: Lost the connection to NATS at nats:\/\/127\.0\.0\.1:\d+: not back within 1s/,
  );
});

Deno.test("nats fleet: an existing stream and bucket are never changed by a node; `fleet setup` changes them", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const nc = await server.connect();
  try {
    const jsm = await jetstreamManager(nc);
    // As an earlier version (or an operator) made them: statuses in the stream, 7 days, 1 GiB.
    await jsm.streams.add({
      name: "EDGEVISOR_EVENTS",
      subjects: ["edgevisor.*.events.>", "edgevisor.*.status.>"],
      max_age: 7 * 86_400 * 1e9,
      max_bytes: 1024 ** 3,
    });
    await new Kvm(nc).create("edgevisor", { history: 1 });
    const before = (await jsm.streams.info("EDGEVISOR_EVENTS")).config;
    await using o = await startOrchestrator({
      registry: { services: [] },
      extraArgs: ["--nats", server.url, "--node", "x1", "--heartbeat-interval", "0.2"],
    });
    await waitFor(() => o.stderr().includes('KV bucket "edgevisor" ready (found)'), {
      message: "the stream and bucket found",
    });
    // Reconnects do not change them either.
    await server.restart();
    await waitFor(() => o.stderr().includes("nats: reconnected"), { message: "the reconnect" });
    const kv = await new Kvm(nc).open("edgevisor");
    await waitFor(async () => (await kv.get("x1._heartbeat"))?.json<Json>().node === "x1", {
      message: "a heartbeat after the reconnect",
    });
    assert.deepEqual((await jsm.streams.info("EDGEVISOR_EVENTS")).config, before);

    const setup = await runMain([
      "fleet",
      "setup",
      "--json",
      "--nats-stream-max-age",
      "2d",
      "--nats-stream-max-bytes",
      "512M",
      "--nats",
      server.url,
    ]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.deepEqual(JSON.parse(setup.stdout), { ok: true, stream: "updated", bucket: "updated" });
    const after = (await jsm.streams.info("EDGEVISOR_EVENTS")).config;
    assert.deepEqual(after.subjects, ["edgevisor.*.events.*"]);
    assert.equal(after.max_age, 2 * 86_400 * 1e9);
    assert.equal(after.max_bytes, 512 * 1024 ** 2);
    const bucket = (await jsm.streams.info("KV_edgevisor")).config;
    assert.equal(bucket.max_age, 86_400 * 1e9);
    assert.equal(bucket.allow_rollup_hdrs, false);
  } finally {
    await nc.close();
  }
});
