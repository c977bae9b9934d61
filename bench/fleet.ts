/**
 * `deno task bench:fleet`: how fast the fleet view answers with many devices.
 *
 * A local `nats-server` (with JetStream, then without) receives heartbeats
 * and status from 1000 simulated nodes with 5 services each, published as
 * edgevisor publishes them (heartbeat every 5 s, status into the KV bucket,
 * answers to discovery). Then:
 *
 * 1. `FleetClient.nodes()` in this process, 5 times: median and worst time.
 * 2. `FleetClient.nodes({ services: true })`, 3 times.
 * 3. `edgevisor fleet ls --json` as a subprocess (Deno start-up included), 3 times.
 *
 * Nothing is asserted: this measures and prints.
 *
 * @module
 */
import { fakeStatus } from "../src/api/fake_control.ts";
import type { ServiceStatus } from "../src/types.ts";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { FleetClient } from "../src/nats/fleet.ts";
import {
  bucketName,
  discoverSubject,
  nodeSubjects,
  SCHEMA_VERSION,
  streamName,
  streamSubjects,
} from "../src/nats/subjects.ts";
import { VERSION } from "../src/version.ts";
import { startNatsServer } from "../tests/nats_harness.ts";

const NODES = 1000;
const SERVICES_PER_NODE = 5;
const CONNECTIONS = 10;
const HEARTBEAT_MS = 5000;
const PREFIX = "edgevisor";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A status as `GET /api/services/status` gives it. */
function status(node: number, i: number): ServiceStatus {
  return fakeStatus(`svc${i}`, {
    status: i === 4 && node % 10 === 0 ? "backoff" : "running",
    pid: 1000 + node * 10 + i,
    started_at: new Date().toISOString(),
    uptime: 100,
    cpu_percent: 0.1,
    memory_rss_bytes: 20_000_000,
    threads: 1,
    cpu_seconds: 1,
  });
}

function heartbeat(node: number) {
  return {
    schema: SCHEMA_VERSION,
    node: `sim${String(node).padStart(4, "0")}`,
    version: VERSION,
    pid: 10_000 + node,
    at: new Date().toISOString(),
    uptime: 100,
    heartbeat_interval: HEARTBEAT_MS / 1000,
    services: {
      stopped: 0,
      starting: 0,
      running: node % 10 === 0 ? 4 : 5,
      backoff: node % 10 === 0 ? 1 : 0,
      cooldown: 0,
      stopping: 0,
      exited: 0,
      failed: 0,
      total: SERVICES_PER_NODE,
    },
    cpu: { seconds: 1.5, percent: 0.3 },
    rss_bytes: 60_000_000,
    outbox: { queued: 0, dropped_total: 0 },
  };
}

/** Simulate nodes `from` to `to - 1` on one connection; returns a stop function. */
function simulate(nc: NatsConnection, from: number, to: number, kv: boolean): () => void {
  const bucket = bucketName(PREFIX);
  const beat = (n: number) => {
    const body = heartbeat(n);
    const s = nodeSubjects(PREFIX, body.node);
    const data = JSON.stringify(body);
    nc.publish(s.heartbeat, data);
    if (kv) nc.publish(`$KV.${bucket}.${s.heartbeatKey}`, data);
  };
  for (let n = from; n < to; n++) {
    const body = heartbeat(n);
    const s = nodeSubjects(PREFIX, body.node);
    for (let i = 0; i < SERVICES_PER_NODE; i++) {
      const st = JSON.stringify({
        schema: SCHEMA_VERSION,
        node: body.node,
        at: body.at,
        ...status(n, i),
      });
      nc.publish(s.status(`svc${i}`), st);
      if (kv) nc.publish(`$KV.${bucket}.${s.statusKey(`svc${i}`)}`, st);
    }
    beat(n);
  }
  nc.subscribe(discoverSubject(PREFIX), {
    callback: (_err, msg) => {
      if (!msg.reply) return;
      const services = msg.data.length > 0 && msg.json<{ services?: boolean }>().services;
      for (let n = from; n < to; n++) {
        const body: Record<string, unknown> = heartbeat(n);
        if (services) {
          body.service_status = Array.from({ length: SERVICES_PER_NODE }, (_, i) => status(n, i));
        }
        nc.publish(msg.reply, JSON.stringify(body));
      }
    },
  });
  // Heartbeats spread over the interval.
  let next = from;
  const id = setInterval(() => {
    const count = Math.ceil((to - from) / (HEARTBEAT_MS / 100));
    for (let k = 0; k < count; k++) {
      beat(next);
      next = next + 1 >= to ? from : next + 1;
    }
  }, 100);
  return () => clearInterval(id);
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${median.toFixed(0)} ms, worst ${sorted[sorted.length - 1]!.toFixed(0)} ms`;
}

async function scenario(jetstream: boolean): Promise<void> {
  await using server = await startNatsServer({ jetstream });
  const connections: NatsConnection[] = [];
  const stops: (() => void)[] = [];
  try {
    if (jetstream) {
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: streamName(PREFIX), subjects: streamSubjects(PREFIX) });
      await new Kvm(nc).create(bucketName(PREFIX), { history: 1 });
      await nc.close();
    }
    const per = NODES / CONNECTIONS;
    for (let c = 0; c < CONNECTIONS; c++) {
      const nc = await connect({ servers: server.url });
      connections.push(nc);
      stops.push(simulate(nc, c * per, (c + 1) * per, jetstream));
    }
    await Promise.all(connections.map((nc) => nc.flush()));

    console.log(
      `\n${NODES} nodes x ${SERVICES_PER_NODE} services, ${
        jetstream ? "with JetStream (KV + discovery)" : "without JetStream (discovery only)"
      }`,
    );
    const fleet = await FleetClient.connect({ url: server.url });
    try {
      const runs: number[] = [];
      let found = 0;
      for (let i = 0; i < 5; i++) {
        const [ms, nodes] = await time(() => fleet.nodes());
        runs.push(ms);
        found = nodes.length;
      }
      console.log(`  nodes()                  ${stats(runs)}; ${found} nodes found`);
      const withServices: number[] = [];
      let services = 0;
      for (let i = 0; i < 3; i++) {
        const [ms, nodes] = await time(() => fleet.nodes({ services: true }));
        withServices.push(ms);
        services = nodes.reduce((sum, n) => sum + (n.services?.length ?? 0), 0);
      }
      console.log(`  nodes({services: true})  ${stats(withServices)}; ${services} services`);
    } finally {
      await fleet.close();
    }
    const cli: number[] = [];
    let cliNodes = 0;
    for (let i = 0; i < 3; i++) {
      const [ms, out] = await time(() =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--quiet",
            "--allow-all",
            MAIN,
            "fleet",
            "ls",
            "--json",
            "--nats",
            server.url,
          ],
          stdout: "piped",
          stderr: "inherit",
        }).output()
      );
      cli.push(ms);
      cliNodes = JSON.parse(new TextDecoder().decode(out.stdout)).nodes.length;
    }
    console.log(
      `  edgevisor fleet ls       ${stats(cli)} (Deno start-up included); ${cliNodes} nodes`,
    );
  } finally {
    for (const stop of stops) stop();
    for (const nc of connections) await nc.close();
  }
}

if (import.meta.main) {
  console.log(
    `edgevisor ${VERSION} fleet benchmark, ${
      new Date().toISOString()
    }, ${navigator.hardwareConcurrency} CPUs`,
  );
  await scenario(true);
  await scenario(false);
}
