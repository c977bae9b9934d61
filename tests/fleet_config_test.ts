/**
 * Fleet configuration against a real `nats-server` with JetStream and real
 * orchestrators in one fleet group: a registry published with
 * `edgevisor fleet apply` reaches every device (untouched services keep
 * their pid, `${EDGEVISOR_NODE}` differs per device), an invalid one is
 * rejected everywhere with its problems, a crashing one is rolled back on
 * its own, a canary stops a bad rollout, a device restarted without the
 * server runs what it applied last, and local registry changes answer 409.
 */
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import {
  api,
  FAST,
  type Orchestrator,
  processesMatching,
  removeDir,
  runMain,
  serviceStatus,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";
import { type NatsServer, startNatsServer } from "./nats_harness.ts";
import { FakeConfigTarget } from "./fleet_fake.ts";
import { ConfigFollower } from "../src/nats/fleet_config.ts";
import type { ConfigReport } from "../src/fleet/report.ts";
import { parseRegistry } from "../src/registry/load.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const GROUP = "line1";

/** `${EDGEVISOR_NODE}` as a registry writes it. */
const NODE_VARIABLE = "${EDGEVISOR_NODE}";

/** The services every device ships with: `keep` and `web`, both `sleep`. */
function shipped() {
  const keep = uniqueSeconds();
  const web = uniqueSeconds();
  return {
    keep,
    web,
    registry: {
      services: [
        { name: "keep", cmd: "sleep", args: [String(keep)], ...FAST },
        { name: "web", cmd: "sleep", args: [String(web)], ...FAST },
      ],
    },
  };
}

/**
 * The next configuration of `base`: `keep` untouched, `web` with other
 * arguments, and `extra`, a shell whose command line names the device.
 */
function next(base: ReturnType<typeof shipped>) {
  const web = uniqueSeconds();
  const tag = `extra${uniqueSeconds()}`;
  const extra = {
    name: "extra",
    cmd: "sh",
    args: ["-c", `sleep ${uniqueSeconds()}; echo ${tag}-${NODE_VARIABLE}`],
    ...FAST,
  };
  return {
    web,
    tag,
    registry: {
      services: [
        base.registry.services[0],
        { ...base.registry.services[1], args: [String(web)] },
        extra,
      ],
    },
  };
}

/** A service that exits at once, again and again: in cooldown after two crashes. */
const CRASHER = {
  name: "crasher",
  cmd: "sh",
  args: ["-c", "exit 3"],
  restart_policy: "always",
  start_grace: 0,
  stop_timeout: 1,
  backoff: { initial: 0.05, factor: 2, max: 0.1 },
  crash_loop: { max_crashes: 2, window: 60, cooldown: 60 },
};

/** Start devices `names` of the fleet group on `server`, each with `registry`. */
async function startDevices(
  server: NatsServer,
  names: string[],
  registry: unknown,
  window = "0.5",
): Promise<Orchestrator[]> {
  const devices = await Promise.all(names.map((node) =>
    startOrchestrator({
      registry,
      extraArgs: deviceArgs(server, node, window),
    })
  ));
  for (const device of devices) {
    await waitFor(() => device.stderr().includes("fleet: following group"), {
      message: "the device to follow its group",
    });
  }
  await waitFor(async () => (await config(server)).devices.length === names.length, {
    timeoutMs: 60_000,
    message: `${names.length} devices in fleet config`,
  });
  return devices;
}

function deviceArgs(server: NatsServer, node: string, window: string): string[] {
  return [
    "--nats",
    server.url,
    "--node",
    node,
    "--fleet-group",
    GROUP,
    "--rollback-window",
    window,
    "--heartbeat-interval",
    "0.5",
  ];
}

/** `edgevisor fleet ARGS --nats URL` (with `--json` when `json`). */
function fleet(server: NatsServer, args: string[], env: Record<string, string> = {}) {
  return runMain(["fleet", ...args, "--nats", server.url], { env, timeoutMs: 60_000 });
}

/** `fleet config --group line1 --json`, parsed. */
async function config(server: NatsServer): Promise<Json> {
  const result = await fleet(server, ["config", "--group", GROUP, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Write `registry` to a file in `dir`; its path. */
async function file(dir: string, name: string, registry: unknown): Promise<string> {
  return await writeRegistry(dir, registry, name);
}

/** Pids of every service of `device`, by name. */
async function pids(device: Orchestrator): Promise<Record<string, number | null>> {
  const answer = await api(device.url, "GET", "/api/services/list");
  return Object.fromEntries(answer.body.services.map((s: Json) => [s.name, s.pid]));
}

async function destroyAll(devices: Orchestrator[]): Promise<void> {
  await Promise.all(devices.map((d) => d.destroy()));
}

Deno.test("fleet config: apply reaches every device, untouched services keep their pid, local changes answer 409", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const dir = await tempDir();
  const base = shipped();
  const devices = await startDevices(server, ["dev-a", "dev-b", "dev-c"], base.registry);
  try {
    const before = await Promise.all(devices.map(pids));
    const v2 = next(base);
    const path = await file(dir, "v2.json", v2.registry);

    const applied = await fleet(server, ["apply", path, "--group", GROUP, "--wait", "--json"]);
    assert.equal(applied.code, 0, applied.stderr + applied.stdout);
    const result = JSON.parse(applied.stdout);
    assert.equal(result.ok, true);
    const revision = result.revision;
    assert.ok(Number.isInteger(revision));
    assert.deepEqual(
      result.devices.map((d: Json) => [d.node, d.report.state, d.report.revision]),
      [["dev-a", "applied", revision], ["dev-b", "applied", revision], [
        "dev-c",
        "applied",
        revision,
      ]],
    );

    for (const [i, device] of devices.entries()) {
      const now = await pids(device);
      assert.deepEqual(Object.keys(now), ["keep", "web", "extra"]);
      assert.equal(now.keep, before[i]!.keep, "keep: untouched, same pid");
      assert.notEqual(now.web, before[i]!.web, "web: changed, restarted");
      const node = ["dev-a", "dev-b", "dev-c"][i];
      assert.equal((await processesMatching(`${v2.tag}-${node}`)).length, 1, "${EDGEVISOR_NODE}");
      assert.equal((await processesMatching(String(v2.web))).length, 3);
      const state = JSON.parse(await Deno.readTextFile(`${device.stateDir}/fleet_state.json`));
      assert.equal(state.current.revision, revision);
      assert.deepEqual(state.current.registry, v2.registry);
    }

    const listing = await config(server);
    assert.deepEqual(
      listing.devices.map((d: Json) => [d.node, d.config.running.revision, d.drift]),
      [["dev-a", revision, false], ["dev-b", revision, false], ["dev-c", revision, false]],
    );
    assert.deepEqual(listing.devices[0].follows, { key: `group.${GROUP}`, revision });

    const text = await fleet(server, ["config", "--group", GROUP]);
    assert.match(
      text.stdout,
      new RegExp(`^dev-a\\s+alive\\s+${GROUP}\\s+${revision} \\(group\\)`, "m"),
    );

    // What a third registry would change.
    const v3 = { services: [base.registry.services[0], base.registry.services[1]] };
    const diff = await fleet(server, [
      "diff",
      await file(dir, "v3.json", v3),
      "--group",
      GROUP,
      "--json",
    ]);
    assert.equal(diff.code, 0, diff.stderr);
    const changes = JSON.parse(diff.stdout);
    assert.deepEqual(
      [changes.revision, changes.added, changes.removed, changes.changed, changes.untouched],
      [revision, [], ["extra"], ["web"], ["keep"]],
    );

    // A managed device: no local registry change; start, stop and restart work.
    const [device] = devices;
    const refused = await fetch(`${device!.url}/api/services`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "local", cmd: "sleep", args: ["1"] }),
    });
    assert.equal(refused.status, 409);
    assert.deepEqual(await refused.json(), {
      ok: false,
      error: `managed by fleet group ${GROUP}`,
    });
    for (const [method, path] of [["PUT", "/api/services/web"], ["DELETE", "/api/services/web"]]) {
      const answer = await fetch(`${device!.url}${path}`, {
        method,
        headers: { "Content-Type": "application/json" },
        body: method === "PUT" ? JSON.stringify({ name: "web", cmd: "true" }) : undefined,
      });
      assert.equal(answer.status, 409, `${method} ${path}`);
      await answer.body?.cancel();
    }
    const reload = await runMain(["reload", "--url", device!.url]);
    assert.equal(reload.code, 1);
    assert.match(reload.stderr, /managed by fleet group line1/);
    Deno.kill(device!.pid, "SIGHUP");
    await waitFor(
      () =>
        device!.stderr().includes("reload failed, nothing changed: managed by fleet group line1"),
      { message: "the SIGHUP reload refused" },
    );
    for (const action of ["stop", "start", "restart"]) {
      const answer = await api(device!.url, "POST", `/api/services/${action}/web`);
      assert.equal(answer.status, 200, `${action}: ${JSON.stringify(answer.body)}`);
    }
    assert.equal((await serviceStatus(device!.url, "web")).status, "running");
    assert.deepEqual(Object.keys(await pids(device!)), ["keep", "web", "extra"]);
  } finally {
    await destroyAll(devices);
    await removeDir(dir);
  }
});

Deno.test("fleet config: an invalid registry is rejected everywhere; a crashing one is rolled back on its own", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const dir = await tempDir();
  const base = shipped();
  const devices = await startDevices(server, ["dev-a", "dev-b", "dev-c"], base.registry);
  let first: Orchestrator | undefined;
  try {
    const v2 = next(base);
    const good = await fleet(server, [
      "apply",
      await file(dir, "v2.json", v2.registry),
      "--group",
      GROUP,
      "--wait",
      "--json",
    ]);
    assert.equal(good.code, 0, good.stderr);
    const r1 = JSON.parse(good.stdout).revision;
    const applied = await Promise.all(devices.map(pids));

    // Invalid here: exit 2 with its problems, nothing published.
    const bad = { services: [{ ...base.registry.services[0], restart_policy: "sometimes" }] };
    const local = await fleet(server, [
      "apply",
      await file(dir, "bad.json", bad),
      "--group",
      GROUP,
      "--json",
    ]);
    assert.equal(local.code, 2, local.stderr);
    assert.equal(JSON.parse(local.stdout).problems[0].path, "services[0].restart_policy");
    assert.equal((await config(server)).devices[0].follows.revision, r1, "nothing published");

    // Valid here, invalid on the devices (a variable only this shell has): rejected by each.
    const onlyHere = {
      services: [
        ...v2.registry.services,
        { name: "other", cmd: "${FLEET_ONLY_HERE}", args: [String(uniqueSeconds())] },
      ],
    };
    const rejected = await fleet(server, [
      "apply",
      await file(dir, "only_here.json", onlyHere),
      "--group",
      GROUP,
      "--wait",
      "--json",
    ], { FLEET_ONLY_HERE: "sleep" });
    assert.equal(rejected.code, 1, rejected.stderr);
    const r2 = JSON.parse(rejected.stdout).revision;
    for (const outcome of JSON.parse(rejected.stdout).devices) {
      assert.equal(outcome.report.state, "rejected", outcome.node);
      assert.equal(outcome.report.revision, r2);
      assert.deepEqual(outcome.report.problems, [{
        path: "services[3].cmd",
        message: 'variable "FLEET_ONLY_HERE" is not set',
      }]);
      assert.deepEqual(outcome.report.running, { revision: r1, source: "group" });
    }
    assert.match(rejected.stderr, /did not apply revision/);
    assert.deepEqual(await Promise.all(devices.map(pids)), applied, "nothing changed");

    // A new service that crashes: rolled back on each device, which says why.
    const crashing = {
      services: [
        v2.registry.services[0],
        { ...v2.registry.services[1], args: [String(uniqueSeconds())] },
        v2.registry.services[2],
        CRASHER,
      ],
    };
    const rolled = await fleet(server, [
      "apply",
      await file(dir, "crashing.json", crashing),
      "--group",
      GROUP,
      "--wait",
      "--json",
    ]);
    assert.equal(rolled.code, 1, rolled.stderr);
    const r3 = JSON.parse(rolled.stdout).revision;
    for (const outcome of JSON.parse(rolled.stdout).devices) {
      assert.equal(outcome.report.state, "rolled_back", outcome.node);
      assert.equal(outcome.report.revision, r3);
      assert.equal(outcome.report.service, "crasher");
      assert.match(
        outcome.report.reason,
        /^service "crasher" went to cooldown: exited with code 3/,
      );
      assert.deepEqual(outcome.report.running, { revision: r1, source: "group" });
    }
    for (const [i, device] of devices.entries()) {
      const now = await pids(device);
      assert.deepEqual(Object.keys(now), ["keep", "web", "extra"], "back to the previous one");
      assert.equal(now.keep, applied[i]!.keep);
      assert.match(device.stderr(), /revision \d+ \(group\): service "crasher" went to cooldown/);
    }
    assert.equal((await processesMatching(String(v2.web))).length, 3, "web runs as before");
    const drift = await config(server);
    assert.deepEqual(
      drift.devices.map((d: Json) => [d.config.state, d.config.running.revision, d.drift]),
      [["rolled_back", r1, true], ["rolled_back", r1, true], ["rolled_back", r1, true]],
    );

    // Not tried again, also after a restart (without the shipped registry's services).
    first = devices[0];
    await waitFor(() => first!.stderr().includes(`not trying revision ${r3} (group) again`));
    assert.equal((await first!.stop()).code, 0);
    const again = await startOrchestrator({
      registry: first!.registryPath,
      dir: first!.dir,
      extraArgs: deviceArgs(server, "dev-a", "0.5"),
    });
    devices[0] = again;
    await waitFor(() => again.stderr().includes(`not trying revision ${r3} (group) again`), {
      message: "the restarted device to skip the rolled back revision",
    });
    assert.deepEqual(Object.keys(await pids(again)), ["keep", "web", "extra"]);
    assert.doesNotMatch(again.stderr(), /crasher|applied \(/);

    // Publishing the good revision again ends the drift.
    const missing = await fleet(server, ["rollback", "--group", GROUP, "--to", "999"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(`Revision 999 is not in the history of key "group.${GROUP}"`),
    );
    const back = await fleet(server, ["rollback", "--group", GROUP, "--to", String(r1), "--json"]);
    assert.equal(back.code, 0, back.stderr);
    const r4 = JSON.parse(back.stdout).revision;
    assert.deepEqual(JSON.parse(back.stdout), {
      ok: true,
      group: GROUP,
      revision: r4,
      restored: r1,
      replaced: r3,
    });
    await waitFor(
      async () =>
        (await config(server)).devices.every((d: Json) =>
          d.config.state === "applied" && d.config.running.revision === r4 && !d.drift
        ),
      { timeoutMs: 60_000, message: "every device on the restored revision" },
    );
    for (const [i, device] of devices.slice(1).entries()) {
      const now = await pids(device);
      assert.deepEqual([now.keep, now.extra], [applied[i + 1]!.keep, applied[i + 1]!.extra]);
    }
  } finally {
    await destroyAll(devices);
    await first?.destroy();
    await removeDir(dir);
  }
});

Deno.test("fleet config: a canary that rolls back stops the rollout; a good one lets it through", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const dir = await tempDir();
  const base = shipped();
  const devices = await startDevices(server, ["dev-a", "dev-b", "dev-c"], base.registry);
  try {
    const before = await Promise.all(devices.map(pids));
    const crashing = { services: [...base.registry.services, CRASHER] };
    const stopped = await fleet(server, [
      "apply",
      await file(dir, "crashing.json", crashing),
      "--group",
      GROUP,
      "--canary",
      "1",
      "--json",
    ]);
    assert.equal(stopped.code, 1, stopped.stderr);
    const result = JSON.parse(stopped.stdout);
    assert.equal(result.ok, false);
    assert.equal(result.revision, null, "the group was not given it");
    assert.deepEqual(result.canaries.map((c: Json) => [c.node, c.report.state]), [
      ["dev-a", "rolled_back"],
    ]);
    assert.match(
      stopped.stderr,
      /The rollout to group "line1" stopped at the canary: dev-a rolled_back revision \d+: service "crasher" went to cooldown/,
    );
    const listing = await config(server);
    assert.deepEqual(
      listing.devices.map((d: Json) => [d.node, d.follows, d.config.running.revision]),
      [
        ["dev-a", { key: `group.${GROUP}`, revision: null }, null],
        ["dev-b", { key: `group.${GROUP}`, revision: null }, null],
        ["dev-c", { key: `group.${GROUP}`, revision: null }, null],
      ],
      "no group revision; the canary's key deleted",
    );
    for (const [i, device] of devices.slice(1).entries()) {
      assert.deepEqual(await pids(device), before[i + 1], "the others never saw it");
      assert.doesNotMatch(device.stderr(), /crasher/);
    }

    const v2 = next(base);
    const through = await fleet(server, [
      "apply",
      await file(dir, "v2.json", v2.registry),
      "--group",
      GROUP,
      "--canary",
      "1",
      "--wait",
    ]);
    assert.equal(through.code, 0, through.stderr);
    assert.match(through.stdout, /^canary dev-a: applied revision \d+$/m);
    assert.match(through.stdout, /^dev-c\s+applied revision \d+$/m);
    const after = await config(server);
    const revision = after.devices[0].follows.revision;
    assert.deepEqual(
      after.devices.map((d: Json) => [d.node, d.follows.key, d.config.running, d.drift]),
      ["dev-a", "dev-b", "dev-c"].map((node) => [
        node,
        `group.${GROUP}`,
        { revision, source: "group" },
        false,
      ]),
    );
    assert.equal(await processesMatching(`${v2.tag}-dev-b`).then((p) => p.length), 1);
  } finally {
    await destroyAll(devices);
    await removeDir(dir);
  }
});

Deno.test("fleet config: a device restarted while the server is down runs the revision it applied last", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const dir = await tempDir();
  const base = shipped();
  const registryPath = await writeRegistry(dir, base.registry);
  const v2 = next(base);
  const start = () =>
    startOrchestrator({
      registry: registryPath,
      dir,
      extraArgs: deviceArgs(server, "dev-a", "0.2"),
    });
  let device = await start();
  try {
    await waitFor(() => device.stderr().includes("fleet: following group"));
    const applied = await fleet(server, [
      "apply",
      await file(dir, "v2.json", v2.registry),
      "--group",
      GROUP,
      "--wait",
      "--json",
    ]);
    assert.equal(applied.code, 0, applied.stderr);
    const revision = JSON.parse(applied.stdout).revision;
    assert.equal((await device.stop()).code, 0);
    await device.destroy();

    await server.kill();
    device = await start();
    await waitFor(async () => Object.keys(await pids(device)).length === 3, {
      message: "the applied services",
    });
    assert.deepEqual(Object.keys(await pids(device)), ["keep", "web", "extra"]);
    assert.equal((await processesMatching(`${v2.tag}-dev-a`)).length, 1);
    assert.equal((await processesMatching(String(v2.web))).length, 1);
    assert.equal((await processesMatching(String(base.web))).length, 0, "not the shipped web");
    assert.match(
      device.stderr(),
      new RegExp(`fleet: starting with revision ${revision} \\(group\\) of group "line1" from `),
    );

    await server.restart();
    await waitFor(async () => {
      const listing = await config(server);
      return listing.devices[0]?.config.running.revision === revision &&
        listing.devices[0].state === "alive";
    }, { timeoutMs: 20_000, message: "the device's report after the server is back" });
  } finally {
    await device.destroy();
    await removeDir(dir);
  }
});

Deno.test("ConfigFollower watches again after a restart a revision still in its window, and rolls back to the registry file", async () => {
  await using server = await startNatsServer({ jetstream: true });
  const stateDir = await tempDir();
  const nc = await server.connect();
  const lines: string[] = [];
  const shipped = parseRegistry('{"services": [{"name": "local", "cmd": "true"}]}');
  const open = () =>
    ConfigFollower.open({
      group: GROUP,
      node: "dev-a",
      stateDir,
      shipped,
      rollbackWindowMs: 60_000,
      log: (line) => lines.push(line),
    });
  let follower = await open();
  try {
    const reports: ConfigReport[] = [];
    follower.subscribe((report) => reports.push(report));
    const kv = await new Kvm(nc).create("edgevisor_config", { history: 10 });
    follower.start(new FakeConfigTarget(follower.registry), { connection: nc });
    const revision = await kv.put(
      `group.${GROUP}`,
      JSON.stringify({ services: [{ name: "web", cmd: "sleep", args: ["${EDGEVISOR_NODE}"] }] }),
    );
    await waitFor(() => reports.some((r) => r.revision === revision && r.state === "applying"), {
      message: "the revision in its window",
    });
    await follower.close();

    // Started again: the stored revision, its window again; a failure sends it to the registry file.
    follower = await open();
    assert.deepEqual(follower.registry.services.map((s) => [s.name, s.args]), [["web", ["dev-a"]]]);
    const target = new FakeConfigTarget(follower.registry);
    const again: ConfigReport[] = [];
    follower.subscribe((report) => again.push(report));
    follower.start(target, { connection: nc });
    await waitFor(() => again.some((r) => r.state === "applying"), {
      message: "the window opened again",
    });
    assert.ok(lines.some((l) => l.includes(`revision ${revision} was in its rollback window`)));
    target.set("web", "failed", "gave up after 3 restarts");
    const back = await waitFor(() => again.find((r) => r.state === "rolled_back"), {
      message: "the rollback",
    });
    assert.deepEqual(
      { ...back, at: undefined },
      {
        group: GROUP,
        revision,
        source: "group",
        state: "rolled_back",
        at: undefined,
        service: "web",
        reason: 'service "web" failed: gave up after 3 restarts',
        running: { revision: null, source: "local" },
      },
    );
    assert.equal(target.registry, shipped, "the registry file again");
    const stored = JSON.parse(await Deno.readTextFile(`${stateDir}/fleet_state.json`));
    assert.deepEqual([stored.current, stored.refused], [null, [revision]]);
  } finally {
    await follower.close();
    await nc.close();
    await removeDir(stateDir);
  }
});
