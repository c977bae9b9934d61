/**
 * The `nats-server` configuration of docs/nats-security.md, read out of the
 * page and loaded by a real server: a real `edgevisor run` as device `rpi7`,
 * the operator's `fleet` tools, and an impostor logged in as device `rpi8`
 * that tries every attack on the fleet view, on control and on the fleet
 * configuration, and fails.
 */
import assert from "node:assert/strict";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { FleetClient, type IgnoredMessage } from "../src/nats/fleet.ts";
import type { EventMessage } from "../src/nats/publisher.ts";
import {
  api,
  FAST,
  killPid,
  runMain,
  serviceStatus,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";
import { Collector, docBlock, startNatsServer } from "./nats_harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const PASSWORDS = {
  FLEET_PASSWORD: "fleet-pw",
  RPI7_PASSWORD: "rpi7-pw",
  RPI8_PASSWORD: "rpi8-pw",
};

function heartbeat(node: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schema: 1,
    node,
    offline: false,
    version: "0.1.0",
    pid: 4242,
    at: new Date().toISOString(),
    uptime: 999_999,
    heartbeat_interval: 5,
    services: { running: 1, total: 1 },
    cpu: { seconds: 0, percent: 0 },
    rss_bytes: 1,
    outbox: { queued: 0, dropped_total: 0 },
    ...fields,
  });
}

/** Permission errors the server sent `nc`, as the client reports them. */
function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error") seen.push(String(status.error?.message));
    }
  })().catch(() => {});
  return seen;
}

Deno.test("nats security: the configuration of docs/nats-security.md confines each device to its own subjects", async () => {
  await using server = await startNatsServer({
    config: docBlock("docs/nats-security.md", "nats-security.conf"),
    env: PASSWORDS,
    client: { user: "fleet", pass: PASSWORDS.FLEET_PASSWORD },
  });
  const asFleet = ["--nats", server.url, "--nats-user", "fleet", "--nats-pass", "fleet-pw"];

  // The operator creates the stream and the bucket; the device only publishes.
  const setup = await runMain(["fleet", "setup", "--json", ...asFleet]);
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
      server.url,
      "--node",
      "rpi7",
      "--nats-user",
      "rpi7",
      "--nats-pass",
      "rpi7-pw",
      "--nats-provisioned",
      "--nats-control",
      "--heartbeat-interval",
      "0.5",
    ],
  });
  await waitFor(() => device.stderr().includes("nats: control service"), {
    message: "the device's control service",
  });
  assert.doesNotMatch(device.stderr(), /Permissions Violation|warning: NATS control/);

  const op = await server.connect();
  const impostor = await connect({ servers: server.url, user: "rpi8", pass: "rpi8-pw" });
  const refused = violations(impostor);
  const fleet = await FleetClient.connect({ url: server.url, user: "fleet", pass: "fleet-pw" });
  try {
    const kv = await new Kvm(op).open("edgevisor");
    const real = await waitFor(async () => (await kv.get("rpi7._heartbeat"))?.json<Json>(), {
      message: "rpi7's heartbeat in the KV bucket",
    });
    assert.equal(real.pid, device.pid);
    await waitFor(() => kv.get("rpi7.victim"), { message: "rpi7's status in the KV bucket" });

    // 1. Publishing as rpi7, or writing its keys: refused by the server.
    const seen = new Collector<Json>(op, ["edgevisor.>"]);
    await op.flush();
    const forged = {
      "edgevisor.rpi7.heartbeat": heartbeat("rpi7"),
      "edgevisor.rpi7.events.victim": JSON.stringify({
        schema: 1,
        node: "rpi7",
        type: "state",
        service: "victim",
        from: "running",
        to: "backoff",
        reason: "forged",
        at: new Date().toISOString(),
        pid: 4242,
      }),
      "$KV.edgevisor.rpi7._heartbeat": heartbeat("rpi7", { heartbeat_interval: 3600 }),
      "$KV.edgevisor.rpi7.victim": JSON.stringify({ node: "rpi7", name: "victim", pid: 4242 }),
      "edgevisor.rpi7.control.stop": JSON.stringify({ name: "victim" }),
    };
    for (const [subject, body] of Object.entries(forged)) impostor.publish(subject, body);
    impostor.publish("edgevisor.rpi8.heartbeat", heartbeat("rpi8", { uptime: 1 }));
    await waitFor(() => seen.bodies("edgevisor.rpi8.heartbeat").length === 1, {
      message: "the impostor's own message, sent after the forged ones",
    });
    const fromRpi7 = seen.messages.filter((m) => m.subject.startsWith("edgevisor.rpi7."));
    assert.equal(fromRpi7.filter((m) => m.body?.pid === 4242).length, 0, "nothing forged");
    await waitFor(() => refused.length >= 5, { message: "five permission errors" });
    for (const subject of Object.keys(forged)) {
      assert.ok(
        refused.some((e) => e.includes(`Permissions Violation for Publish to "${subject}"`)),
        `${subject} refused: ${refused.join("; ")}`,
      );
    }
    assert.equal((await kv.get("rpi7._heartbeat"))?.json<Json>().pid, device.pid);
    assert.equal((await kv.get("rpi7.victim"))?.json<Json>().node, "rpi7");
    assert.equal((await kv.get("rpi7.victim"))?.json<Json>().name, "victim");
    assert.equal((await serviceStatus(device.url, "victim")).status, "running");

    // 2. Lies on its own key: another node's name, a one-day interval; both ignored and reported.
    impostor.publish("$KV.edgevisor.rpi8._heartbeat", heartbeat("rpi7"));
    impostor.publish("$KV.edgevisor.rpi8.marker", "1");
    await waitFor(() => kv.get("rpi8.marker"), { message: "the impostor's KV writes" });
    let ls = await runMain(["fleet", "ls", "--json", ...asFleet]);
    assert.equal(ls.code, 0, ls.stderr);
    const listing = JSON.parse(ls.stdout);
    assert.deepEqual(listing.nodes.map((n: Json) => [n.node, n.state, n.heartbeat.pid]), [
      ["rpi7", "alive", device.pid],
    ]);
    assert.deepEqual(listing.ignored, [{
      source: 'KV "edgevisor" key "rpi8._heartbeat"',
      reason: 'its body names node "rpi7", not "rpi8"',
    }]);
    impostor.publish(
      "$KV.edgevisor.rpi8._heartbeat",
      heartbeat("rpi8", { heartbeat_interval: 86_400 }),
    );
    impostor.publish("$KV.edgevisor.rpi8.marker", "2");
    await waitFor(async () => (await kv.get("rpi8.marker"))?.string() === "2", {
      message: "the impostor's second KV writes",
    });
    ls = await runMain(["fleet", "ls", ...asFleet]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^rpi7\s+alive\s/m);
    assert.doesNotMatch(ls.stdout, /rpi8/);
    assert.match(
      ls.stderr,
      /warning: ignored KV "edgevisor" key "rpi8._heartbeat": heartbeat_interval 86400 s is outside 0.1 to 3600 s/,
    );

    // 3. An event on its own subject naming rpi7: ignored by the watch, which shows rpi7's own.
    const events: [EventMessage, string][] = [];
    const ignored: IgnoredMessage[] = [];
    const watch = await fleet.watch({
      onEvent: (event, subject) => events.push([event, subject]),
      onIgnored: (i) => ignored.push(i),
    });
    try {
      assert.equal(watch.from, "stream");
      impostor.publish("edgevisor.rpi8.events.victim", forged["edgevisor.rpi7.events.victim"]);
      const before = await serviceStatus(device.url, "victim");
      killPid(before.pid);
      await waitFor(() => events.some(([e]) => e.type === "state" && e.to === "running"), {
        message: "rpi7's restart in the watch",
      });
      for (const [event, subject] of events) {
        assert.equal(event.node, "rpi7");
        assert.match(subject, /^edgevisor\.rpi7\.events\.victim$/);
      }
      assert.deepEqual(ignored, [{
        source: 'subject "edgevisor.rpi8.events.victim"',
        reason: 'its body names node "rpi7", not "rpi8"',
      }]);
    } finally {
      watch.stop();
    }

    // 4. Reading rpi7's control requests, or answering them: no subscription is allowed, in a group or not.
    let answered = 0;
    const grouped = impostor.subscribe("edgevisor.rpi7.control.>", {
      queue: "q",
      callback: (err, msg) => {
        if (err) return; // the refusal
        msg.respond(JSON.stringify({ ok: true, pid: 4242 }));
        answered++;
      },
    });
    const plain = impostor.subscribe("edgevisor.rpi7.control.restart", {
      callback: (err) => {
        if (!err) answered++;
      },
    });
    for (const sub of [grouped, plain]) {
      const closed = await sub.closed;
      assert.ok(closed instanceof Error, "the subscription is refused");
      assert.match(
        closed.message,
        /Permissions Violation for Subscription to "edgevisor\.rpi7\.control/,
      );
    }
    for (let i = 0; i < 5; i++) {
      const body = await fleet.control<Json>("rpi7", "restart", { name: "victim" });
      const now = await serviceStatus(device.url, "victim");
      assert.equal(body.ok, true);
      assert.equal(body.pid, now.pid);
      assert.notEqual(body.pid, 4242);
    }
    assert.equal(answered, 0);

    // 5. The JetStream API (reading the bucket, deleting keys) is not a device's.
    await assert.rejects(() => jetstreamManager(impostor, { timeout: 1000 }));

    // 6. A roll-up on its own key to purge the bucket is refused by the bucket.
    const rollup = headers();
    rollup.set("Nats-Rollup", "all");
    impostor.publish("$KV.edgevisor.rpi8.marker", "3", { headers: rollup });
    impostor.publish("$KV.edgevisor.rpi8.marker", "4");
    await waitFor(async () => (await kv.get("rpi8.marker"))?.string() === "4", {
      message: "the write after the roll-up",
    });
    assert.equal((await kv.get("rpi7._heartbeat"))?.json<Json>().node, "rpi7");
    assert.ok(await kv.get("rpi7.victim"), "rpi7's status is still there");
  } finally {
    await fleet.close();
    await impostor.close();
    await op.close();
  }
});

Deno.test("nats security: only the operator writes fleet configuration; a device reads its group's key and its own", async () => {
  await using server = await startNatsServer({
    config: docBlock("docs/nats-security.md", "nats-security.conf"),
    env: PASSWORDS,
    client: { user: "fleet", pass: PASSWORDS.FLEET_PASSWORD },
  });
  const asFleet = ["--nats", server.url, "--nats-user", "fleet", "--nats-pass", "fleet-pw"];
  assert.equal((await runMain(["fleet", "setup", ...asFleet])).code, 0);
  const seconds = uniqueSeconds();
  const dir = await Deno.makeTempDir();
  const registry = `${dir}/line1.json`;
  await Deno.writeTextFile(
    registry,
    JSON.stringify({
      services: [{ name: "fleet", cmd: "sleep", args: [String(seconds)], ...FAST }],
    }),
  );
  const applied = await runMain([
    "fleet",
    "apply",
    registry,
    "--group",
    "line1",
    "--json",
    ...asFleet,
  ]);
  assert.equal(applied.code, 0, applied.stderr);
  const revision = JSON.parse(applied.stdout).revision;

  await using device = await startOrchestrator({
    registry: { services: [] },
    extraArgs: [
      "--nats",
      server.url,
      "--node",
      "rpi7",
      "--nats-user",
      "rpi7",
      "--nats-pass",
      "rpi7-pw",
      "--nats-provisioned",
      "--fleet-group",
      "line1",
      "--rollback-window",
      "0.2",
      "--heartbeat-interval",
      "0.5",
    ],
  });
  await waitFor(async () => (await serviceStatus(device.url, "fleet")).status === "running", {
    message: "the device to run its group's configuration",
  });
  assert.doesNotMatch(device.stderr(), /Permissions Violation|cannot read|cannot subscribe/);

  const op = await server.connect();
  const impostor = await connect({
    servers: server.url,
    user: "rpi8",
    pass: "rpi8-pw",
    inboxPrefix: "_INBOX_rpi8",
  });
  const refused = violations(impostor);
  try {
    const kv = await new Kvm(op).open("edgevisor_config");
    const status = await new Kvm(op).open("edgevisor");
    await waitFor(
      async () => (await status.get("rpi7._heartbeat"))?.json<Json>().config?.state === "applied",
      { message: "rpi7's report" },
    );

    // Writing a configuration key, the group's or a device's, its own included: refused.
    const forged = JSON.stringify({ services: [{ name: "evil", cmd: "sleep", args: ["1"] }] });
    const keys = ["group.line1", "node.rpi7", "node.rpi8"];
    for (const key of keys) impostor.publish(`$KV.edgevisor_config.${key}`, forged);
    await waitFor(() => refused.length >= keys.length, { message: "the writes refused" });
    for (const key of keys) {
      assert.ok(
        refused.some((e) => e.includes(`Publish to "$KV.edgevisor_config.${key}"`)),
        `${key}: ${refused.join("; ")}`,
      );
    }

    // Reading another device's key, or the whole bucket: refused.
    const jsm = await jetstreamManager(impostor, { checkAPI: false, timeout: 2000 });
    await assert.rejects(
      () =>
        jsm.direct.getMessage("KV_edgevisor_config", {
          last_by_subj: "$KV.edgevisor_config.node.rpi7",
        }),
      /Permissions Violation/,
    );
    await assert.rejects(
      () => jsm.consumers.add("KV_edgevisor_config", { filter_subject: "$KV.edgevisor_config.>" }),
      /Permissions Violation/,
    );
    for (const subject of ["$KV.edgevisor_config.node.rpi7", "$KV.edgevisor_config.>"]) {
      const closed = await impostor.subscribe(subject).closed;
      assert.ok(closed instanceof Error, subject);
      assert.match(closed.message, /Permissions Violation for Subscription/);
    }

    // Its own group's key and its own key: readable.
    const own = await jsm.direct.getMessage("KV_edgevisor_config", {
      last_by_subj: "$KV.edgevisor_config.group.line1",
    });
    assert.equal(own?.seq, revision);
    assert.equal(
      await jsm.direct.getMessage("KV_edgevisor_config", {
        last_by_subj: "$KV.edgevisor_config.node.rpi8",
      }),
      null,
    );

    // Nothing changed: the group's revision, no node key, rpi7 runs the operator's registry.
    assert.equal((await kv.get("group.line1"))?.revision, revision);
    assert.equal(await kv.get("node.rpi7"), null);
    assert.deepEqual(
      (await api(device.url, "GET", "/api/services/list")).body.services.map((s: Json) => s.name),
      ["fleet"],
    );
  } finally {
    await impostor.close();
    await op.close();
    await Deno.remove(dir, { recursive: true });
  }
});
