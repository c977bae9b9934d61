/**
 * NATS end to end, against a real `nats-server` (with and without JetStream):
 * events, status and heartbeats; outages; start-up without a server; remote
 * control (no token, error counts, no queue group; refused without NATS
 * authentication unless --insecure); the fleet view.
 */
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Svcm } from "@nats-io/services";
import { FakeControl, fakeStatus } from "../src/api/fake_control.ts";
import { EventBus } from "../src/events.ts";
import type { SupervisorEvent } from "../src/types.ts";
import { FleetClient } from "../src/nats/fleet.ts";
import { NatsPublisher } from "../src/nats/publisher.ts";
import {
  api,
  assertBelow,
  FAST,
  freePort,
  killPid,
  ROOT,
  runMain,
  serviceStatus,
  sh,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";
import { startOrchestrator } from "./harness.ts";
import { Collector, type NatsServer, startNatsServer, tcpGate } from "./nats_harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const VICTIM = "victim";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function transitions(events: Json[]): string[] {
  return events.map((e) => `${e.from}->${e.to}`);
}

/** Every message of the stream on `subject`, in order. */
async function streamBodies(nc: NatsConnection, subject: string): Promise<Json[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info("EDGEVISOR_EVENTS");
  const bodies: Json[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    try {
      const m = await jsm.streams.getMessage("EDGEVISOR_EVENTS", { seq });
      if (m?.subject === subject) bodies.push(m.json());
    } catch {
      // deleted
    }
  }
  return bodies;
}

Deno.test("nats: events, status and heartbeats arrive in order with the documented shape (no JetStream)", async () => {
  await using server = await startNatsServer();
  const nc = await server.connect();
  try {
    // Not ".>": nothing may listen on the control subjects.
    const all = new Collector<Json>(nc, [
      "edgevisor.a1.heartbeat",
      "edgevisor.a1.events.>",
      "edgevisor.a1.status.>",
    ]);
    await nc.flush();
    await using o = await startOrchestrator({
      registry: {
        services: [{
          name: "crashy",
          ...sh("sleep 0.2; exit 3"),
          restart_policy: "always",
          ...FAST,
          crash_loop: { max_crashes: 2, window: 60, cooldown: 0.3 },
        }],
      },
      extraArgs: ["--nats", server.url, "--node", "a1", "--heartbeat-interval", "0.2"],
    });
    const events = () => all.bodies((s) => s === "edgevisor.a1.events.crashy");
    await waitFor(() => events().some((e) => e.from === "cooldown"), {
      message: "a trial start after cooldown",
    });
    assert.deepEqual(transitions(events()).slice(0, 7), [
      "stopped->starting",
      "starting->running",
      "running->backoff",
      "backoff->starting",
      "starting->running",
      "running->cooldown",
      "cooldown->starting",
    ]);
    const [backoff, cooldown] = [events()[2], events()[5]];
    for (const e of [backoff, cooldown]) {
      assert.equal(e.schema, 1);
      assert.equal(e.node, "a1");
      assert.equal(e.type, "state");
      assert.equal(e.service, "crashy");
      assert.match(e.at, ISO);
      assert.ok("pid" in e);
      assert.equal(e.exit.code, 3);
      assert.equal(e.exit.signal, null);
      assert.match(e.next_restart_at, ISO);
      assert.match(e.reason, /exited with code 3/);
    }
    assert.match(cooldown.reason, /cooling down/);

    // A status message with the REST status fields follows every event.
    const at = all.messages.findIndex((m) => m.body === backoff);
    const next = all.messages[at + 1]!;
    assert.equal(next.subject, "edgevisor.a1.status.crashy");
    assert.equal(next.body.schema, 1);
    assert.equal(next.body.node, "a1");
    assert.equal(next.body.name, "crashy");
    assert.equal(next.body.status, "backoff");
    assert.equal(next.body.last_exit.code, 3);

    // Heartbeats every 0.2 s.
    const beats = () => all.bodies((s) => s === "edgevisor.a1.heartbeat");
    await waitFor(() => beats().length >= 8, { message: "8 heartbeats" });
    const hb = beats()[beats().length - 1];
    assert.equal(hb.schema, 1);
    assert.equal(hb.node, "a1");
    assert.equal(hb.pid, o.pid);
    assert.equal(hb.heartbeat_interval, 0.2);
    assert.equal(hb.services.total, 1);
    assert.equal(typeof hb.cpu.seconds, "number");
    assert.ok(hb.rss_bytes > 1_000_000);
    // After the start-up: each beat is timed from the one before, so a busy moment delays it.
    const times = beats().slice(2).map((b: Json) => Date.parse(b.at));
    const gaps = times.slice(1).map((t: number, i: number) => t - times[i]!).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    assert.ok(median >= 150 && median <= 600, `median heartbeat gap ${median} ms`);

    // Without JetStream, `fleet ls` still finds the node by discovery.
    const ls = await runMain(["fleet", "ls", "--json", "--nats", server.url]);
    assert.equal(ls.code, 0, ls.stderr);
    const nodes = JSON.parse(ls.stdout).nodes;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].node, "a1");
    assert.equal(nodes[0].state, "alive");

    // `fleet watch` prints live events, one JSON object per line.
    const watch = await runMain([
      "fleet",
      "watch",
      "--json",
      "--node",
      "a1",
      "--count",
      "2",
      "--nats",
      server.url,
    ]);
    assert.equal(watch.code, 0, watch.stderr);
    const watched = watch.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(watched.length, 2);
    for (const e of watched) assert.deepEqual([e.schema, e.node, e.service], [1, "a1", "crashy"]);

    // Control is off without --nats-control.
    const stop = await runMain(["fleet", "stop", "a1/crashy", "--nats", server.url]);
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, /Node "a1" does not answer control requests/);
  } finally {
    await nc.close();
  }
});

/** An orchestrator supervising `victim` (restarted always) on NATS as `node`, its stream and KV ready. */
async function victimOnJetStream(server: NatsServer, node: string, ...extraArgs: string[]) {
  const o = await startOrchestrator({
    registry: {
      services: [{
        name: VICTIM,
        cmd: "sleep",
        args: [String(uniqueSeconds())],
        restart_policy: "always",
        ...FAST,
      }],
    },
    extraArgs: ["--nats", server.url, "--node", node, ...extraArgs],
  });
  try {
    await waitFor(() => o.stderr().includes('KV bucket "edgevisor" ready'), {
      message: "JetStream set-up",
    });
    return o;
  } catch (err) {
    await o[Symbol.asyncDispose]();
    throw err;
  }
}

/** SIGKILL `victim`; ms until a new process of it runs. */
async function crashVictim(url: string): Promise<number> {
  const before = await serviceStatus(url, VICTIM);
  const t0 = performance.now();
  killPid(before.pid);
  await waitFor(async () => {
    const s = await serviceStatus(url, VICTIM);
    return s.status === "running" && s.pid !== before.pid;
  }, { intervalMs: 5, message: "the restart" });
  return performance.now() - t0;
}

Deno.test("nats: an outage loses no queued event and never slows supervision; stream and KV hold the latest state", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const name = VICTIM;
  await using o = await victimOnJetStream(
    server,
    "b1",
    "--heartbeat-interval",
    "0.2",
    "--nats-control",
    "--insecure",
  );
  await waitFor(
    () => o.stderr().includes("NATS control is on over a connection without authentication"),
    {
      message: "the --insecure warning",
    },
  );

  const upMs = await crashVictim(o.url);
  await server.kill();
  await waitFor(() => o.stderr().includes("nats: disconnected"), { message: "the disconnect" });
  const downMs = await crashVictim(o.url);
  assert.equal((await api(o.url, "POST", `/api/services/stop/${name}`)).status, 200);
  assert.equal((await api(o.url, "POST", `/api/services/start/${name}`)).status, 200);
  assertBelow(downMs, upMs + 500, `restart during the outage (up: ${upMs.toFixed(0)} ms)`);

  await server.restart();
  const nc = await server.connect();
  try {
    const expected = [
      "stopped->starting",
      "starting->running",
      "running->backoff",
      "backoff->starting",
      "starting->running",
      "running->backoff",
      "backoff->starting",
      "starting->running",
      "running->stopping",
      "stopping->stopped",
      "stopped->starting",
      "starting->running",
    ];
    let events: Json[] = [];
    await waitFor(async () => {
      events = await streamBodies(nc, `edgevisor.b1.events.${name}`);
      return events.length >= expected.length;
    }, { message: "every event in the stream" });
    assert.deepEqual(transitions(events), expected);

    // KV and stream hold the latest status, equal to the REST one.
    const now = await serviceStatus(o.url, name);
    const kv = await new Kvm(nc).open("edgevisor");
    await waitFor(async () => (await kv.get(`b1.${name}`))?.json<Json>()?.pid === now.pid, {
      message: "the KV entry of the running process",
    });
    const entry = (await kv.get(`b1.${name}`))!.json<Json>();
    assert.equal(entry.status, "running");
    assert.equal(entry.restarts, now.restarts);
    // The stream holds events only: statuses live in the KV bucket.
    const jsm = await jetstreamManager(nc);
    const { config, state } = await jsm.streams.info("EDGEVISOR_EVENTS");
    assert.deepEqual(config.subjects, ["edgevisor.*.events.*"]);
    assert.equal(state.messages, events.length);
    const heartbeat = await waitFor(() => kv.get("b1._heartbeat"), { message: "KV heartbeat" });
    assert.equal(heartbeat.json<Json>().node, "b1");

    // The fleet view reads every service and one status from the KV bucket.
    const services = await runMain(["fleet", "ls", "--services", "--json", "--nats", server.url]);
    assert.equal(services.code, 0, services.stderr);
    const [b1] = JSON.parse(services.stdout).nodes;
    assert.deepEqual(b1.services.map((s: Json) => [s.name, s.status]), [[name, "running"]]);
    const one = await runMain(["fleet", "status", `b1/${name}`, "--json", "--nats", server.url]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).pid, now.pid);

    // Control through the fleet command, then the node goes away for good.
    const stop = await runMain(["fleet", "stop", `b1/${name}`, "--json", "--nats", server.url]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(JSON.parse(stop.stdout).status, "stopped");
    assert.equal((await serviceStatus(o.url, name)).status, "stopped");

    const fleet = await FleetClient.connect({ url: server.url });
    try {
      const alive = await fleet.nodes();
      assert.equal(alive.from, "kv");
      assert.deepEqual(alive.nodes.map((n) => [n.node, n.state]), [["b1", "alive"]]);
      await o.kill();
      await waitFor(async () => (await fleet.nodes()).nodes[0]?.state === "expired", {
        timeoutMs: 5000,
        message: "node b1 expired",
      });
    } finally {
      await fleet.close();
    }
    const ls = await runMain(["fleet", "ls", "--nats", server.url]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^b1\s+expired\s/m);
  } finally {
    await nc.close();
  }
});

Deno.test("nats: what a server never read before it died is sent again after the reconnect, and stored once", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const name = VICTIM;
  await using o = await victimOnJetStream(server, "d1");
  // The server stops reading: what is published now sits in the socket, and dies with it.
  Deno.kill(server.pid!, "SIGSTOP");
  await crashVictim(o.url);
  await crashVictim(o.url);
  await server.restart();
  await waitFor(() => o.stderr().includes("nats: reconnected"), { message: "the reconnect" });
  const nc = await server.connect();
  try {
    const expected = [
      "stopped->starting",
      "starting->running",
      ...Array(2).fill(["running->backoff", "backoff->starting", "starting->running"]).flat(),
    ];
    let events: Json[] = [];
    await waitFor(async () => {
      events = await streamBodies(nc, `edgevisor.d1.events.${name}`);
      return events.length >= expected.length;
    }, { message: "every event in the stream" });
    assert.deepEqual(transitions(events), expected, "in order, each once");
  } finally {
    await nc.close();
  }
});

Deno.test("nats: start-up with no server, then a server appears", async () => {
  const port = freePort();
  const url = `nats://127.0.0.1:${port}`;
  await using o = await startOrchestrator({
    registry: {
      services: [{ name: "early", cmd: "sleep", args: [String(uniqueSeconds())], ...FAST }],
    },
    extraArgs: ["--nats", url, "--node", "c1", "--heartbeat-interval", "0.2"],
  });
  // Supervision does not wait for NATS.
  await waitFor(async () => (await serviceStatus(o.url, "early")).status === "running", {
    message: "early running",
  });
  await waitFor(() => o.stderr().includes(`nats: cannot connect to ${url}`), {
    message: "the connection failure in the log",
  });

  await using server = await startNatsServer({ jetstream: true, port });
  const nc = await server.connect();
  try {
    let events: Json[] = [];
    await waitFor(async () => {
      events = await streamBodies(nc, "edgevisor.c1.events.early");
      return events.length >= 2;
    }, { message: "the start-up events in the stream" });
    assert.deepEqual(transitions(events), ["stopped->starting", "starting->running"]);
    const beats = new Collector<Json>(nc, "edgevisor.c1.heartbeat");
    await waitFor(() => beats.messages.length >= 2, { message: "live heartbeats" });
  } finally {
    await nc.close();
  }
});

Deno.test("nats: control needs no token, counts its errors, and joins no queue group; the outbox reports what it dropped", async () => {
  await using server = await startNatsServer();
  const control = new FakeControl([fakeStatus("web", { status: "running", pid: 42 })]);
  const events = new EventBus<SupervisorEvent>();
  const lines: string[] = [];
  // The publisher connects through a gate: after the outage, only once the test listens again.
  await using gate = tcpGate(server.port);
  const publisher = new NatsPublisher({ control, events }, {
    url: gate.url,
    node: "d1",
    control: true,
    outboxSize: 3,
    retryMs: 1000,
    heartbeatIntervalMs: 60_000,
    log: (line) => lines.push(line),
  });
  publisher.start();
  const nc = await server.connect();
  try {
    await waitFor(() => lines.some((l) => l.includes("control service")), {
      message: "the control service",
    });
    const ask = async (endpoint: string, body: unknown) => {
      const msg = await nc.request(`edgevisor.d1.control.${endpoint}`, JSON.stringify(body), {
        timeout: 5000,
      });
      return { code: msg.headers?.get("Nats-Service-Error-Code") ?? "", body: msg.json<Json>() };
    };
    const stopped = await ask("stop", { name: "web", force: true });
    assert.equal(stopped.code, "");
    assert.equal(stopped.body.ok, true);
    assert.equal(stopped.body.message, 'Service "web" stopped');
    assert.deepEqual(control.calls.filter((c) => c.method === "stop").map((c) => c.args), [[
      "web",
      { force: true },
    ]]);
    const unknown = await ask("status", { name: "nope" });
    assert.deepEqual(unknown, {
      code: "404",
      body: { ok: false, error: 'Unknown service "nope"' },
    });
    const bad = await ask("logs", { name: "web", lines: -1 });
    assert.equal(bad.code, "400");
    const notJson = await ask("start", "[1]");
    assert.equal(notJson.code, "400");
    const list = await ask("list", {});
    assert.deepEqual(list.body.services.map((s: Json) => s.name), ["web"]);

    // The micro service, as the official client reads it: metadata, no queue group, errors counted.
    const client = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client();
    const infos = [];
    for await (const info of await client.info("edgevisor")) infos.push(info);
    assert.equal(infos.length, 1);
    assert.equal(infos[0]!.metadata?.node, "d1");
    assert.deepEqual(
      infos[0]!.endpoints.map((e) => [e.name, e.subject, e.queue_group ?? ""]),
      ["list", "status", "start", "stop", "restart", "logs", "health"].map((
        name,
      ) => [name, `edgevisor.d1.control.${name}`, ""]),
    );
    const pings = [];
    for await (const ping of await client.ping("edgevisor", infos[0]!.id)) pings.push(ping);
    assert.equal(pings.length, 1);
    const stats = [];
    for await (const s of await client.stats("edgevisor")) stats.push(s);
    const byName = Object.fromEntries((stats[0]!.endpoints ?? []).map((e) => [e.name, e]));
    assert.equal(byName.stop!.num_requests, 1);
    assert.equal(byName.stop!.num_errors, 0);
    assert.equal(byName.status!.num_errors, 1);
    assert.equal(byName.status!.last_error, '404:Unknown service "nope"');
    assert.equal(byName.logs!.num_errors, 1);
    assert.equal(byName.start!.num_errors, 1);
    assert.equal(byName.list!.num_errors, 0);

    // Through the CLI, with no token anywhere.
    const started = await runMain(["fleet", "start", "d1/web", "--json", "--nats", server.url]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(JSON.parse(started.stdout).ok, true);
    const missing = await runMain(["fleet", "start", "d1/nope", "--nats", server.url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Unknown service "nope"/);

    // Outage: 10 events into an outbox of 3; statuses are not queued but sent again after it.
    const collected = new Collector<Json>(nc, "edgevisor.d1.>");
    await nc.flush();
    await server.kill();
    gate.close();
    await waitFor(() => !publisher.connected, { message: "the publisher to notice" });
    for (let i = 0; i < 10; i++) {
      events.emit({
        type: "state",
        service: "web",
        from: "running",
        to: "backoff",
        reason: `crash ${i}`,
        at: new Date().toISOString(),
        pid: 42,
      });
    }
    assert.equal(publisher.queued, 3);
    await server.restart();
    // The test's subscription is sent again as its client reconnects, before the answer to a flush.
    await waitFor(() => nc.flush().then(() => true, () => false), {
      message: "the test's client back",
    });
    gate.open();
    await waitFor(() => collected.bodies(".outbox").length === 1, {
      message: "the dropped-count report",
    });
    assert.equal(collected.bodies(".outbox")[0].dropped, 7);
    // Then the last three events, a heartbeat, and the snapshot.
    await waitFor(() => collected.bodies(".status.web").length >= 1, { message: "the snapshot" });
    assert.deepEqual(collected.messages.slice(0, 6).map((m) => m.subject), [
      "edgevisor.d1.outbox",
      "edgevisor.d1.events.web",
      "edgevisor.d1.events.web",
      "edgevisor.d1.events.web",
      "edgevisor.d1.heartbeat",
      "edgevisor.d1.status.web",
    ]);
    assert.deepEqual(collected.bodies(".events.web").map((e) => e.reason), [
      "crash 7",
      "crash 8",
      "crash 9",
    ]);
  } finally {
    await publisher.close();
    await nc.close();
  }
});

Deno.test("nats: --nats-control without NATS authentication is refused (exit 2) unless --insecure", async () => {
  const refused = await runMain([
    "run",
    "--registry",
    `${ROOT}/registry/example.json`,
    "--nats",
    "nats://127.0.0.1:1",
    "--nats-control",
  ]);
  assert.equal(refused.code, 2);
  assert.match(
    refused.stderr,
    /refusing --nats-control on a NATS connection without authentication: .* or pass --insecure/,
  );
  for (
    const args of [
      ["--nats-user", "u", "--nats-pass", "p"],
      ["--nats-token", "t"],
    ]
  ) {
    // Authenticated: it starts (and is stopped once its API answers).
    await using o = await startOrchestrator({
      registry: { services: [] },
      extraArgs: ["--nats", `nats://127.0.0.1:${freePort()}`, "--nats-control", ...args],
    });
    assert.doesNotMatch(o.stderr(), /refusing|warning: NATS control/);
  }
  await using url = await startOrchestrator({
    registry: { services: [] },
    extraArgs: ["--nats", `nats://u:p@127.0.0.1:${freePort()}`, "--nats-control"],
  });
  assert.doesNotMatch(url.stderr(), /refusing|warning: NATS control/);
});

Deno.test("nats: user and password are sent; a wrong password is refused", async () => {
  await using server = await startNatsServer({
    args: ["--user", "edge", "--pass", "visor"],
    client: { user: "edge", pass: "visor" },
  });
  const control = new FakeControl([fakeStatus("web")]);
  const lines: string[] = [];
  const publisher = new NatsPublisher({ control, events: new EventBus<SupervisorEvent>() }, {
    url: server.url,
    user: "edge",
    pass: "visor",
    node: "e1",
    heartbeatIntervalMs: 100,
    log: (line) => lines.push(line),
  });
  publisher.start();
  const nc = await server.connect();
  try {
    const beats = new Collector<Json>(nc, "edgevisor.e1.heartbeat");
    await waitFor(() => beats.messages.length >= 1, { message: "a heartbeat" });
    const refused = await runMain([
      "fleet",
      "ls",
      "--nats",
      server.url,
      "--nats-user",
      "edge",
      "--nats-pass",
      "wrong",
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Cannot connect to NATS/);
    const ls = await runMain([
      "fleet",
      "ls",
      "--json",
      "--nats",
      server.url,
      "--nats-user",
      "edge",
      "--nats-pass",
      "visor",
    ]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(JSON.parse(ls.stdout).nodes[0].node, "e1");
  } finally {
    await publisher.close();
    await nc.close();
  }
});

Deno.test("nats: TLS with a CA file, for the orchestrator and the fleet", async () => {
  const tls = `${ROOT}/tests/fixtures/tls`;
  await using server = await startNatsServer({
    args: ["--tlscert", `${tls}/server.pem`, "--tlskey", `${tls}/server.key`],
    client: { tls: { caFile: `${tls}/ca.pem` } },
  });
  await using o = await startOrchestrator({
    registry: { services: [] },
    extraArgs: ["--nats", `tls://127.0.0.1:${server.port}`, "--nats-tls-ca", `${tls}/ca.pem`],
  });
  await waitFor(() => o.stderr().includes("nats: connected"), { message: "the TLS connection" });
  const url = `tls://127.0.0.1:${server.port}`;
  const ls = await runMain([
    "fleet",
    "ls",
    "--json",
    "--nats",
    url,
    "--nats-tls-ca",
    `${tls}/ca.pem`,
  ]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(JSON.parse(ls.stdout).nodes.length, 1);
  const untrusted = await runMain(["fleet", "ls", "--nats", url, "--timeout", "2"]);
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /certificate/);
});
