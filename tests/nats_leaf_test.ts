/**
 * The leaf-node topology of docs/nats.md, with its two configuration files
 * read out of the page: a hub and a device's leaf node (JetStream domain =
 * the node) on loopback, a real `edgevisor run --nats-domain` on the leaf.
 * The hub stops for 30 s while a service crashes three times; when it is
 * back, its fleet stream holds every event once, in order.
 */
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { delay } from "../src/supervisor/process.ts";
import {
  FAST,
  freePort,
  killPid,
  runMain,
  serviceStatus,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";
import { docBlock, replaceOnce, startNatsServer } from "./nats_harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** How long the hub is away: the outage the topology is for. */
const OUTAGE_MS = 30_000;

const PASSWORD = "leaf-pw";

/** Transitions of the events of stream `stream` (in `domain`), in stream order. */
async function streamEvents(nc: NatsConnection, domain?: string): Promise<Json[]> {
  const jsm = await jetstreamManager(nc, { domain });
  const { state } = await jsm.streams.info("EDGEVISOR_EVENTS");
  const events: Json[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage("EDGEVISOR_EVENTS", { seq });
    if (m) events.push({ subject: m.subject, ...m.json<Json>() });
  }
  return events;
}

Deno.test("nats leaf: the hub away for 30 s while a service crashes three times; every event reaches its stream once, in order", async () => {
  const leafPort = freePort();
  await using hub = await startNatsServer({
    config: replaceOnce(
      docBlock("docs/nats.md", "hub.conf"),
      "listen: 0.0.0.0:7422",
      `listen: 127.0.0.1:${leafPort}`,
    ),
  });
  await using leaf = await startNatsServer({
    config: replaceOnce(
      docBlock("docs/nats.md", "leaf.conf"),
      "nats-leaf://hub.example.com:7422",
      `nats-leaf://127.0.0.1:${leafPort}`,
    ),
    env: { EDGEVISOR_NATS_PASSWORD: PASSWORD },
    client: { user: "edgevisor", pass: PASSWORD },
    domain: "rpi7",
  });

  const setup = await runMain(["fleet", "setup", "--json", "--nats", hub.url, "--source", "rpi7"]);
  assert.equal(setup.code, 0, setup.stderr);
  assert.deepEqual(JSON.parse(setup.stdout), { ok: true, stream: "created", bucket: "created" });

  await using device = await startOrchestrator({
    registry: {
      services: [{
        name: "victim",
        cmd: "sleep",
        args: [String(uniqueSeconds())],
        restart_policy: "always",
        ...FAST,
      }],
    },
    extraArgs: [
      "--nats",
      leaf.url,
      "--node",
      "rpi7",
      "--nats-domain",
      "rpi7",
      "--nats-user",
      "edgevisor",
      "--nats-pass",
      PASSWORD,
      "--nats-control",
      "--heartbeat-interval",
      "0.5",
    ],
  });
  await waitFor(() => device.stderr().includes('KV bucket "edgevisor" ready (created)'), {
    message: "the stream and bucket in the device's domain",
  });

  let nc = await hub.connect();
  const expected = ["stopped->starting", "starting->running"];
  try {
    await waitFor(async () => (await streamEvents(nc)).length >= expected.length, {
      message: "the start-up events sourced into the hub's stream",
    });
  } finally {
    await nc.close();
  }

  // The uplink goes: the hub dies. The device sees no outage (its server is local).
  await hub.kill();
  const downAt = performance.now();
  const local = await leaf.connect();
  try {
    for (let crash = 0; crash < 3; crash++) {
      const before = await serviceStatus(device.url, "victim");
      killPid(before.pid);
      await waitFor(async () => {
        const now = await serviceStatus(device.url, "victim");
        return now.status === "running" && now.pid !== before.pid;
      }, { message: `restart ${crash + 1} during the outage` });
      expected.push("running->backoff", "backoff->starting", "starting->running");
    }
    await waitFor(async () => (await streamEvents(local, "rpi7")).length >= expected.length, {
      message: "the outage's events in the device's own stream",
    });
    assert.doesNotMatch(device.stderr(), /nats: disconnected/);
  } finally {
    await local.close();
  }
  // The outage the topology is for lasts 30 s (a scenario, not a synchronisation).
  await delay(Math.max(0, OUTAGE_MS - (performance.now() - downAt)));

  await hub.restart();
  nc = await hub.connect();
  try {
    let events: Json[] = [];
    await waitFor(async () => {
      events = await streamEvents(nc);
      return events.length >= expected.length;
    }, { timeoutMs: 30_000, message: "every event of the outage in the hub's stream" });
    assert.deepEqual(events.map((e) => `${e.from}->${e.to}`), expected, "each once, in order");
    for (const e of events) {
      assert.equal(e.subject, "edgevisor.rpi7.events.victim");
      assert.equal(e.node, "rpi7");
    }

    // The hub's bucket has the device's latest state, and the fleet commands work on the hub.
    const kv = await new Kvm(nc).open("edgevisor");
    const now = await serviceStatus(device.url, "victim");
    await waitFor(async () => (await kv.get("rpi7.victim"))?.json<Json>().pid === now.pid, {
      message: "the latest status in the hub's bucket",
    });
    const ls = await waitFor(async () => {
      const run = await runMain(["fleet", "ls", "--json", "--nats", hub.url]);
      assert.equal(run.code, 0, run.stderr);
      const listing = JSON.parse(run.stdout);
      return listing.nodes[0]?.state === "alive" && listing;
    }, { timeoutMs: 60_000, message: "rpi7 alive in the hub's view" });
    assert.deepEqual(listing(ls), [["rpi7", "alive"]]);
    const replay = await runMain([
      "fleet",
      "watch",
      "--json",
      "--since",
      "10m",
      "--count",
      String(expected.length),
      "--nats",
      hub.url,
    ]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.deepEqual(
      replay.stdout.trim().split("\n").map((line) => JSON.parse(line)).map((e: Json) =>
        `${e.from}->${e.to}`
      ),
      expected,
    );
    const restart = await runMain(["fleet", "restart", "rpi7/victim", "--json", "--nats", hub.url]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(JSON.parse(restart.stdout).pid, (await serviceStatus(device.url, "victim")).pid);
  } finally {
    await nc.close();
  }
});

function listing(body: Json): [string, string][] {
  return body.nodes.map((n: Json) => [n.node, n.state]);
}
