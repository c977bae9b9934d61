/**
 * `deno task bench:fleet`: how fast the fleet view starts with many devices,
 * and what NATS costs an orchestrator in memory.
 *
 * For each size (1000 and 10,000 nodes by default), a local `nats-server`
 * with JetStream receives, from simulated nodes with 5 services each on 10
 * client connections, what edgevisor publishes: the status of every service
 * into the KV bucket once, then a heartbeat per node every 5 s (spread over
 * the interval) on its subject and into the bucket. Then:
 *
 * 1. `FleetClient.nodes()` in this process (5 runs) and with every service
 *    (`services: true`, 3 runs): the bucket read whole;
 * 2. `edgevisor fleet ls --json` as a subprocess, Deno start-up included (3 runs);
 * 3. `fleet watch` start-up: `FleetClient.watch()` in process until it reads
 *    the stream (5 runs), and `edgevisor fleet watch --count 1` as a
 *    subprocess until it prints the first event (a simulated node publishes
 *    one every 50 ms) (3 runs).
 *
 * Then, without JetStream, 1000 nodes that answer discovery with a heartbeat
 * on their own subject: `nodes()` (the collection window).
 *
 * Last, memory: `edgevisor run` (flags of `deno task start`) with 5
 * services, without NATS and with `--nats` (a JetStream server), RSS and
 * PSS (`/proc/PID/smaps_rollup`) after `--settle` seconds (15 by default:
 * after the start-up memory is given back, 2 s after start).
 *
 * Options: `--sizes 1000,10000`, `--settle 15`. Nothing is asserted: this measures and prints.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { fakeStatus } from "../src/api/fake_control.ts";
import { FleetClient } from "../src/nats/fleet.ts";
import { setUpStorage } from "../src/nats/jetstream.ts";
import { bucketName, discoverSubject, nodeSubjects, SCHEMA_VERSION } from "../src/nats/subjects.ts";
import type { ServiceStatus } from "../src/types.ts";
import { VERSION } from "../src/version.ts";
import {
  freePort,
  MAIN,
  removeDir,
  runArgs,
  startTaskFlags,
  tempDir,
  waitFor,
  writeRegistry,
} from "../tests/harness.ts";
import { startNatsServer } from "../tests/nats_harness.ts";
import { median } from "./stats.ts";

const SERVICES_PER_NODE = 5;
const CONNECTIONS = 10;
const HEARTBEAT_MS = 5000;
const PREFIX = "edgevisor";

const { values: flags } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000" },
    settle: { type: "string", default: "15" },
  },
});
const SIZES = flags.sizes.split(",").map(Number);
const SETTLE_S = Number(flags.settle);

const nodeName = (n: number) => `sim${String(n).padStart(5, "0")}`;

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
    node: nodeName(node),
    offline: false,
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
async function simulate(
  nc: NatsConnection,
  from: number,
  to: number,
  kv: boolean,
): Promise<() => void> {
  const bucket = bucketName(PREFIX);
  const beat = (n: number) => {
    const s = nodeSubjects(PREFIX, nodeName(n));
    const data = JSON.stringify(heartbeat(n));
    nc.publish(s.heartbeat, data);
    if (kv) nc.publish(`$KV.${bucket}.${s.heartbeatKey}`, data);
  };
  for (let n = from; n < to; n++) {
    const s = nodeSubjects(PREFIX, nodeName(n));
    for (let i = 0; i < SERVICES_PER_NODE && kv; i++) {
      const at = new Date().toISOString();
      const body = { schema: SCHEMA_VERSION, node: nodeName(n), at, ...status(n, i) };
      nc.publish(`$KV.${bucket}.${s.statusKey(`svc${i}`)}`, JSON.stringify(body));
    }
    beat(n);
    if (n % 500 === 0) await nc.flush();
  }
  // Discovery: every node publishes its heartbeat (and statuses) on its own subjects.
  nc.subscribe(discoverSubject(PREFIX), {
    callback: (_err, msg) => {
      const services = msg.data.length > 0 && msg.json<{ services?: boolean }>().services;
      for (let n = from; n < to; n++) {
        beat(n);
        if (!services) continue;
        const s = nodeSubjects(PREFIX, nodeName(n));
        for (let i = 0; i < SERVICES_PER_NODE; i++) {
          const at = new Date().toISOString();
          const body = { schema: SCHEMA_VERSION, node: nodeName(n), at, ...status(n, i) };
          nc.publish(s.status(`svc${i}`), JSON.stringify(body));
        }
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
  return `median ${median(ms).toFixed(0)} ms, worst ${Math.max(...ms).toFixed(0)} ms`;
}

function cli(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "inherit",
  });
}

async function scenario(nodes: number, jetstream: boolean): Promise<void> {
  await using server = await startNatsServer({ jetstream });
  const connections: NatsConnection[] = [];
  const stops: (() => void)[] = [];
  try {
    if (jetstream) {
      const nc = await connect({ servers: server.url });
      await setUpStorage(await jetstreamManager(nc), { prefix: PREFIX }, { kvMaxBytes: 1024 ** 3 });
      await nc.close();
    }
    const per = nodes / CONNECTIONS;
    for (let c = 0; c < CONNECTIONS; c++) {
      const nc = await connect({ servers: server.url });
      connections.push(nc);
      stops.push(await simulate(nc, c * per, (c + 1) * per, jetstream));
    }
    await Promise.all(connections.map((nc) => nc.flush()));
    console.log(
      `\n${nodes} nodes x ${SERVICES_PER_NODE} services, ${
        jetstream ? "with JetStream (KV bucket)" : "without JetStream (heartbeats after discovery)"
      }`,
    );
    const fleet = await FleetClient.connect({ url: server.url, timeoutMs: 30_000 });
    try {
      if (jetstream) {
        await waitFor(async () => (await fleet.nodes()).nodes.length === nodes, {
          timeoutMs: 120_000,
          message: `${nodes} nodes in the bucket`,
        });
      }
      const runs: number[] = [];
      let found = 0;
      for (let i = 0; i < 5; i++) {
        const [ms, listing] = await time(() => fleet.nodes());
        runs.push(ms);
        found = listing.nodes.length;
      }
      console.log(`  nodes()                    ${stats(runs)}; ${found} nodes`);
      const withServices: number[] = [];
      let services = 0;
      for (let i = 0; i < 3; i++) {
        const [ms, listing] = await time(() => fleet.nodes({ services: true }));
        withServices.push(ms);
        services = listing.nodes.reduce((sum, n) => sum + (n.services?.length ?? 0), 0);
      }
      console.log(`  nodes({services: true})    ${stats(withServices)}; ${services} services`);
      if (!jetstream) return;

      const ls: number[] = [];
      let lsNodes = 0;
      for (let i = 0; i < 3; i++) {
        const [ms, out] = await time(() =>
          cli(["fleet", "ls", "--json", "--nats", server.url, "--timeout", "30"]).output()
        );
        ls.push(ms);
        lsNodes = JSON.parse(new TextDecoder().decode(out.stdout)).nodes.length;
      }
      console.log(
        `  edgevisor fleet ls         ${stats(ls)} (Deno start-up included); ${lsNodes} nodes`,
      );

      const watchIn: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [ms, watch] = await time(() => fleet.watch({ onEvent: () => {} }));
        watchIn.push(ms);
        watch.stop();
      }
      console.log(`  watch() until reading      ${stats(watchIn)}`);

      // A simulated node publishes an event every 50 ms; the watch prints the first it sees.
      const events = connections[0]!;
      const subject = nodeSubjects(PREFIX, nodeName(0)).events("svc0");
      const ticker = setInterval(() => {
        events.publish(
          subject,
          JSON.stringify({
            schema: SCHEMA_VERSION,
            node: nodeName(0),
            type: "state",
            service: "svc0",
            from: "running",
            to: "backoff",
            reason: "simulated",
            at: new Date().toISOString(),
            pid: 1,
          }),
        );
      }, 50);
      try {
        const watchCli: number[] = [];
        for (let i = 0; i < 3; i++) {
          const [ms] = await time(() =>
            cli(["fleet", "watch", "--count", "1", "--nats", server.url]).output()
          );
          watchCli.push(ms);
        }
        console.log(
          `  edgevisor fleet watch      ${
            stats(watchCli)
          } to the first event (Deno start-up included)`,
        );
      } finally {
        clearInterval(ticker);
      }
    } finally {
      await fleet.close();
    }
  } finally {
    for (const stop of stops) stop();
    for (const nc of connections) await nc.close();
  }
}

/** RSS and PSS of `pid`, MiB. */
function memory(pid: number): { rss: number; pss: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
}

/** Memory of `edgevisor run` with 5 services, without NATS and with `--nats`. */
async function memoryScenario(): Promise<void> {
  await using server = await startNatsServer({ jetstream: true });
  console.log(
    `\nedgevisor run with ${SERVICES_PER_NODE} services, after ${SETTLE_S} s (flags of deno task start)`,
  );
  const rows: [string, { rss: number; pss: number }][] = [];
  for (const nats of [false, true]) {
    const dir = await tempDir("edgevisor_bench_fleet_");
    const registry = await writeRegistry(dir, {
      services: Array.from({ length: SERVICES_PER_NODE }, (_, i) => ({
        name: `svc${i}`,
        cmd: "sleep",
        args: ["3600"],
      })),
    });
    const args = runArgs(registry, freePort(), dir);
    if (nats) args.push("--nats", server.url, "--node", "mem1");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...startTaskFlags(), MAIN, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000));
      rows.push([nats ? "with --nats" : "without NATS", memory(child.pid)]);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await removeDir(dir);
    }
  }
  for (const [what, m] of rows) {
    console.log(`  ${what.padEnd(14)} RSS ${m.rss.toFixed(1)} MiB, PSS ${m.pss.toFixed(1)} MiB`);
  }
  const [without, withNats] = [rows[0]![1], rows[1]![1]];
  console.log(
    `  NATS costs     RSS +${(withNats.rss - without.rss).toFixed(1)} MiB, PSS +${
      (withNats.pss - without.pss).toFixed(1)
    } MiB`,
  );
}

if (import.meta.main) {
  console.log(
    `edgevisor ${VERSION} fleet benchmark, ${
      new Date().toISOString()
    }, ${navigator.hardwareConcurrency} CPUs`,
  );
  for (const nodes of SIZES) await scenario(nodes, true);
  await scenario(1000, false);
  await memoryScenario();
}
