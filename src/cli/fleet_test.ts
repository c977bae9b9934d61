import assert from "node:assert/strict";
import { formatCounts, formatEvent, natsRunOptions, parseTarget } from "./fleet.ts";

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
