/**
 * `deno run --allow-all bench/fleet_config.ts`: how long a fleet configuration takes to
 * reach many devices, and how long `fleet config` takes to list them.
 *
 * A local `nats-server` with JetStream; 1000 simulated devices (`--devices`)
 * in this process, on 10 client connections: each is a real
 * `ConfigFollower` (the code `edgevisor run --fleet-group` runs: subscription
 * to its two keys, direct gets, validation, `fleet_state.json` written
 * atomically, the report) applying to a fake supervisor that changes
 * nothing, with a rollback window of 0 (a revision counts as applied once
 * applied). Each device publishes its heartbeat, with the report, when its
 * report changes, like the orchestrator (heartbeat interval 3600 s, so
 * that every device stays alive without periodic heartbeats). The state
 * files go to `/dev/shm` when there is one: a real device writes on its own
 * disk, not one disk for all. The configuration bucket exists before the
 * devices start (as after a first `fleet apply`).
 *
 * Measured (3 runs each, a new revision every run, the median and worst):
 * 1. `ConfigClient.apply()` until every device reports the new revision
 *    `applied` to its follower (in this process);
 * 2. the same with `wait`: until the client saw every device's report in
 *    the heartbeats (what `fleet apply --wait` waits for);
 * 3. `edgevisor fleet apply FILE --group G --wait --json` as a subprocess
 *    (Deno start-up included);
 * 4. `ConfigClient.devices()` (5 runs) and `edgevisor fleet config --json`
 *    as a subprocess.
 *
 * Options: `--devices 1000`. Nothing is asserted: this measures and prints.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { ConfigReport } from "../src/fleet/report.ts";
import { ConfigClient } from "../src/nats/config_client.ts";
import { ConfigFollower } from "../src/nats/fleet_config.ts";
import { FleetClient } from "../src/nats/fleet.ts";
import { setUpConfigBucket } from "../src/nats/jetstream.ts";
import { parseRegistry } from "../src/registry/load.ts";
import { bucketName, nodeSubjects, SCHEMA_VERSION } from "../src/nats/subjects.ts";
import { VERSION } from "../src/version.ts";
import { MAIN, removeDir, tempDir, waitFor } from "../tests/harness.ts";
import { startNatsServer } from "../tests/nats_harness.ts";
import { FakeConfigTarget } from "../tests/fleet_fake.ts";
import { median } from "./stats.ts";

const CONNECTIONS = 10;
const PREFIX = "edgevisor";
const GROUP = "bench";

const { values: flags } = parseArgs({
  options: { devices: { type: "string", default: "1000" } },
});
const DEVICES = Number(flags.devices);

const nodeName = (n: number) => `sim${String(n).padStart(5, "0")}`;

/** A registry of 5 services, the last one's arguments naming the run (so each run changes one). */
function registryText(run: number): string {
  const services = Array.from({ length: 5 }, (_, i) => ({
    name: `svc${i}`,
    cmd: "/usr/bin/app",
    args: ["--node", "${EDGEVISOR_NODE}", "--run", String(i === 4 ? run : 0)],
    restart_policy: "always",
  }));
  return JSON.stringify({ services }, null, 2) + "\n";
}

/** The heartbeat of simulated device `node` with `config`. */
function heartbeat(node: string, config: ConfigReport): string {
  return JSON.stringify({
    schema: SCHEMA_VERSION,
    node,
    offline: false,
    version: VERSION,
    pid: 1,
    at: new Date().toISOString(),
    uptime: 1,
    heartbeat_interval: 3600,
    services: { running: 5, total: 5 },
    cpu: { seconds: 0, percent: 0 },
    rss_bytes: 0,
    outbox: { queued: 0, dropped_total: 0 },
    config,
  });
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [performance.now() - t0, value];
}

function stats(ms: number[]): string {
  return `median ${median(ms).toFixed(0)} ms, worst ${Math.max(...ms).toFixed(0)} ms (${
    ms.map((m) => m.toFixed(0)).join(", ")
  })`;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

let shm = false;
try {
  shm = Deno.statSync("/dev/shm").isDirectory;
} catch {
  // no /dev/shm
}
const stateRoot = shm
  ? await Deno.makeTempDir({ dir: "/dev/shm", prefix: "edgevisor_bench_" })
  : await tempDir("edgevisor_bench_");
const fileDir = await tempDir("edgevisor_bench_files_");
await using server = await startNatsServer({ jetstream: true });
const connections: NatsConnection[] = [];
const followers: ConfigFollower[] = [];
const applied = new Map<string, number>();
const url = ["--nats", server.url];
try {
  const setup = await cli(["fleet", "setup", ...url, "--nats-kv-max-bytes", "1G"]);
  if (setup.code !== 0) throw new Error("fleet setup failed");
  for (let c = 0; c < CONNECTIONS; c++) connections.push(await connect({ servers: server.url }));
  // The configuration bucket exists (as after a first `fleet apply`).
  await setUpConfigBucket(await jetstreamManager(connections[0]!), PREFIX);
  const shipped = parseRegistry('{"services": []}');
  const bucket = bucketName(PREFIX);
  const log = (line: string) => {
    if (!line.includes("following group") && !/revision \d+ \(group\) applied/.test(line)) {
      console.error(line);
    }
  };
  const t0 = performance.now();
  for (let n = 0; n < DEVICES; n++) {
    const node = nodeName(n);
    const nc = connections[n % CONNECTIONS]!;
    const stateDir = `${stateRoot}/${node}`;
    await Deno.mkdir(stateDir);
    const follower = await ConfigFollower.open({
      group: GROUP,
      node,
      stateDir,
      shipped,
      rollbackWindowMs: 0,
      log,
    });
    const subjects = nodeSubjects(PREFIX, node);
    const report = (config: ConfigReport) => {
      const body = heartbeat(node, config);
      nc.publish(subjects.heartbeat, body);
      nc.publish(`$KV.${bucket}.${subjects.heartbeatKey}`, body);
      if (config.state === "applied" && config.revision !== null) {
        applied.set(node, config.revision);
      }
    };
    follower.subscribe(report);
    report(follower.report);
    follower.start(new FakeConfigTarget(shipped), { connection: nc });
    followers.push(follower);
  }
  await Promise.all(connections.map((nc) => nc.flush()));
  console.log(
    `${DEVICES} simulated devices of group "${GROUP}" on ${CONNECTIONS} connections, state files in ${
      shm ? "/dev/shm" : "a temporary directory"
    } (started in ${(performance.now() - t0).toFixed(0)} ms)`,
  );

  const fleet = await FleetClient.connect({ url: server.url, timeoutMs: 30_000 });
  const config = new ConfigClient(fleet, { timeoutMs: 30_000 });
  await waitFor(async () => (await config.devices({ group: GROUP })).devices.length === DEVICES, {
    timeoutMs: 60_000,
    message: "every device's heartbeat",
  });
  let run = 0;
  const allApplied = (revision: number) =>
    waitFor(() => followers.every((f) => applied.get(f.node) === revision), {
      timeoutMs: 120_000,
      intervalMs: 5,
      message: `revision ${revision} applied everywhere`,
    });

  const inProcess: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [ms] = await time(async () => {
      const result = await config.apply({ group: GROUP, text: registryText(++run) });
      await allApplied(result.revision!);
    });
    inProcess.push(ms);
  }
  console.log(`apply, until every follower applied it: ${stats(inProcess)}`);

  const waited: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [ms, result] = await time(() =>
      config.apply({ group: GROUP, text: registryText(++run), wait: true })
    );
    if (!result.ok || result.devices.length !== DEVICES) throw new Error(result.error);
    waited.push(ms);
  }
  console.log(`ConfigClient.apply({wait: true}) (reports seen by the client): ${stats(waited)}`);

  const subprocess: number[] = [];
  for (let i = 0; i < 3; i++) {
    const file = `${fileDir}/run${++run}.json`;
    await Deno.writeTextFile(file, registryText(run));
    const [ms, out] = await time(() =>
      cli(["fleet", "apply", file, "--group", GROUP, "--wait", "--json", ...url])
    );
    if (out.code !== 0 || JSON.parse(out.stdout).devices.length !== DEVICES) {
      throw new Error(`fleet apply exited with ${out.code}`);
    }
    subprocess.push(ms);
  }
  console.log(`edgevisor fleet apply --wait --json (subprocess): ${stats(subprocess)}`);

  const listing: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [ms, found] = await time(() => config.devices());
    if (found.devices.length !== DEVICES) throw new Error(`${found.devices.length} devices`);
    listing.push(ms);
  }
  console.log(`ConfigClient.devices() of ${DEVICES} devices: ${stats(listing)}`);

  const listed: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [ms, out] = await time(() => cli(["fleet", "config", "--json", ...url]));
    if (JSON.parse(out.stdout).devices.length !== DEVICES) throw new Error("fleet config");
    listed.push(ms);
  }
  console.log(`edgevisor fleet config --json (subprocess): ${stats(listed)}`);
  await fleet.close();
} finally {
  await Promise.all(followers.map((f) => f.close()));
  await Promise.all(connections.map((nc) => nc.close()));
  await removeDir(stateRoot);
  await removeDir(fileDir);
}
