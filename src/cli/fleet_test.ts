import assert from "node:assert/strict";
import {
  formatConfigDiff,
  formatCounts,
  formatDeviceConfigs,
  formatEvent,
  formatNodes,
  formatOutcomes,
  listingWarnings,
  natsRunOptions,
  parseDuration,
  parseSize,
  parseTarget,
} from "./fleet.ts";
import { nodeFromHostname } from "../nats/subjects.ts";

const ctx = (env: Record<string, string> = {}) => ({
  stdout: () => {},
  env: (name: string) => env[name],
  color: false,
});

Deno.test("parseTarget() splits NODE/SERVICE and checks both", () => {
  assert.deepEqual(parseTarget("rpi7/web"), { node: "rpi7", service: "web" });
  assert.deepEqual(parseTarget("rpi7/a.b"), { node: "rpi7", service: "a.b" });
  assert.throws(() => parseTarget("web"), TypeError);
  assert.throws(() => parseTarget("a.b/web"), TypeError);
  assert.throws(() => parseTarget("rpi7/../x"));
});

Deno.test("natsRunOptions() is off without a URL and reads the environment", () => {
  assert.deepEqual(natsRunOptions({}, ctx()), {});
  assert.deepEqual(natsRunOptions({}, ctx({ EDGEVISOR_TOKEN: "t" })), { token: "t" });
  const { nats } = natsRunOptions(
    { heartbeatInterval: 0.5, natsControl: true, natsUser: "u", natsPass: "p" },
    ctx({ EDGEVISOR_NATS: "nats://h:4222", EDGEVISOR_NODE: "n1" }),
  );
  assert.equal(nats?.url, "nats://h:4222");
  assert.equal(nats?.node, "n1");
  assert.equal(nats?.control, true);
  assert.equal(nats?.heartbeatIntervalMs, 500);
  assert.equal(nats?.user, "u");
  assert.equal(nats?.pass, "p");
  assert.throws(() => natsRunOptions({ nats: "x" }, ctx({ EDGEVISOR_NODE: "a.b" })), TypeError);
});

Deno.test("natsRunOptions() passes the domain, provisioned mode and storage limits", () => {
  const { nats } = natsRunOptions({
    nats: "nats://h:4222",
    natsDomain: "rpi7",
    natsProvisioned: true,
    natsStreamMaxAge: 7 * 86_400,
    natsStreamMaxBytes: 1024 ** 3,
    natsReplicas: 3,
  }, ctx());
  assert.equal(nats?.domain, "rpi7");
  assert.equal(nats?.provisioned, true);
  assert.equal(nats?.streamMaxAgeMs, 7 * 86_400_000);
  assert.equal(nats?.streamMaxBytes, 1024 ** 3);
  assert.equal(nats?.kvMaxAgeMs, 86_400_000, "default");
  assert.equal(nats?.kvMaxBytes, 64 * 1024 ** 2, "default");
  assert.equal(nats?.replicas, 3);
  assert.equal("apiToken" in (nats ?? {}), false, "no API token for NATS");
});

Deno.test("parseDuration() reads seconds with an optional unit", () => {
  assert.equal(parseDuration("90"), 90);
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("10m"), 600);
  assert.equal(parseDuration("1.5h"), 5400);
  assert.equal(parseDuration("7d"), 604_800);
  for (const bad of ["", "0", "-1", "10x", "m", "1 h", "1e3"]) {
    assert.throws(() => parseDuration(bad), RangeError, bad);
  }
});

Deno.test("parseSize() reads bytes with an optional binary unit", () => {
  assert.equal(parseSize("268435456"), 268_435_456);
  assert.equal(parseSize("256M"), 256 * 1024 ** 2);
  assert.equal(parseSize("1G"), 1024 ** 3);
  assert.equal(parseSize("1GiB"), 1024 ** 3);
  assert.equal(parseSize("64mb"), 64 * 1024 ** 2);
  assert.equal(parseSize("1.5K"), 1536);
  for (const bad of ["", "0", "-5", "1X", "G", "1e9"]) {
    assert.throws(() => parseSize(bad), RangeError, bad);
  }
});

Deno.test("listingWarnings() reports what was ignored and forgotten", () => {
  assert.deepEqual(
    listingWarnings({
      nodes: [],
      from: "kv",
      ignored: [{ source: 'KV "edgevisor" key "e5._heartbeat"', reason: "why" }],
      forgotten: 2,
    }),
    [
      'warning: ignored KV "edgevisor" key "e5._heartbeat": why',
      "2 node(s) silent for longer than --forget-after not shown",
    ],
  );
  assert.deepEqual(
    listingWarnings({ nodes: [], from: "heartbeats", ignored: [], forgotten: 0 }),
    [],
  );
});

Deno.test("formatNodes() shows a cleanly stopped node as stopped", () => {
  const heartbeat = {
    schema: 1,
    node: "n1",
    offline: true,
    version: "0.1.0",
    pid: 1,
    at: "",
    uptime: 60,
    heartbeat_interval: 5,
    services: { stopped: 2, total: 2 },
    cpu: { seconds: 0, percent: 0 },
    rss_bytes: 0,
    outbox: { queued: 0, dropped_total: 0 },
  };
  assert.match(
    formatNodes([{ node: "n1", state: "stopped", heartbeat_age: 3, heartbeat }]),
    /^n1\s+stopped\s+3s ago\s+0\.1\.0\s+1m00s\s+2 stopped \(of 2\)$/m,
  );
});

Deno.test("formatCounts() lists the non-zero states", () => {
  assert.equal(
    formatCounts({ running: 3, backoff: 1, stopped: 0, total: 4 }),
    "3 running, 1 backoff (of 4)",
  );
  assert.equal(formatCounts({ total: 0 }), "none (of 0)");
});

Deno.test("formatEvent() prints one line per transition", () => {
  assert.equal(
    formatEvent({
      schema: 1,
      node: "n1",
      type: "state",
      service: "web",
      from: "running",
      to: "backoff",
      reason: "exited with code 1",
      at: "2026-01-01T00:00:00.000Z",
      pid: null,
    }),
    "2026-01-01T00:00:00.000Z n1/web: running -> backoff (exited with code 1)",
  );
});

Deno.test("natsRunOptions() gives the fleet group and the rollback window, and always a node", () => {
  assert.deepEqual(natsRunOptions({ fleetGroup: "line1", rollbackWindow: 0.5 }, ctx()), {
    fleet: { group: "line1", rollbackWindowMs: 500 },
  });
  assert.equal(natsRunOptions({ rollbackWindow: 60 }, ctx()).fleet, undefined);
  const { nats, fleet } = natsRunOptions({ nats: "nats://h:4222", fleetGroup: "g" }, ctx());
  assert.equal(nats?.node, nodeFromHostname(Deno.hostname()));
  assert.deepEqual(fleet, { group: "g", rollbackWindowMs: 60_000 });
});

const report = {
  group: "line1",
  revision: 61,
  source: "group" as const,
  state: "rolled_back" as const,
  at: "2026-01-01T00:00:00.000Z",
  service: "web",
  reason: 'service "web" went to cooldown',
  running: { revision: 57, source: "group" as const },
};

Deno.test("formatDeviceConfigs() shows what runs, the last state and the drift", () => {
  const table = formatDeviceConfigs([
    {
      node: "rpi7",
      state: "alive",
      heartbeat_age: 1,
      config: report,
      follows: { key: "group.line1", revision: 61 },
      drift: true,
    },
    {
      node: "rpi8",
      state: "alive",
      heartbeat_age: 1,
      config: {
        ...report,
        revision: null,
        source: "local",
        state: "applied",
        reason: undefined,
        running: { revision: null, source: "local" },
      },
      follows: { key: "group.line1", revision: null },
      drift: false,
    },
  ]);
  assert.match(
    table,
    /^rpi7\s+alive\s+line1\s+57 \(group\)\s+rolled_back 61\s+behind \(group\.line1 is 61\)\s+service "web" went to cooldown$/m,
  );
  assert.match(table, /^rpi8\s+alive\s+line1\s+local\s+applied\s+no\s*$/m);
  assert.equal(formatDeviceConfigs([]), "no device follows a fleet group");
});

Deno.test("formatOutcomes() and formatConfigDiff() print one line per device and per kind", () => {
  assert.match(
    formatOutcomes([{ node: "rpi7", revision: 61, report }]),
    /^rpi7\s+rolled_back revision 61: service "web" went to cooldown$/m,
  );
  assert.equal(
    formatConfigDiff("line1", 61, "next.json", {
      added: ["b"],
      removed: [],
      changed: ["c", "d"],
      untouched: ["e"],
    }),
    [
      "group line1 (revision 61) -> next.json",
      "  added: b",
      "  removed: none",
      "  changed: c, d",
      "  untouched: 1",
    ].join("\n"),
  );
});
