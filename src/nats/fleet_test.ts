import assert from "node:assert/strict";
import { fakeStatus } from "../api/fake_control.ts";
import { checkEvent, checkHeartbeat, checkStatus, liveness } from "./fleet.ts";

Deno.test("liveness() is stale after 2 missed heartbeats and expired after 3", () => {
  assert.equal(liveness(0, 5), "alive");
  assert.equal(liveness(10, 5), "alive");
  assert.equal(liveness(10.1, 5), "stale");
  assert.equal(liveness(15, 5), "stale");
  assert.equal(liveness(15.1, 5), "expired");
  assert.equal(liveness(6, 1, { staleAfter: 5, expireAfter: 10 }), "stale");
  assert.equal(liveness(11, 1, { staleAfter: 5, expireAfter: 10 }), "expired");
});

const heartbeat = (fields: Record<string, unknown> = {}) => ({
  schema: 1,
  node: "e5",
  version: "0.1.0",
  heartbeat_interval: 5,
  services: { running: 1, total: 1 },
  ...fields,
});

Deno.test("checkHeartbeat() believes a heartbeat of the node it arrived for", () => {
  const checked = checkHeartbeat("e5", heartbeat());
  assert.ok("value" in checked);
  assert.equal(checked.value.offline, false, "offline defaults to false");
  const offline = checkHeartbeat("e5", heartbeat({ offline: true }));
  assert.ok("value" in offline && offline.value.offline);
});

Deno.test("checkHeartbeat() ignores another node's name and an interval outside 0.1 s to 1 h", () => {
  assert.deepEqual(checkHeartbeat("e5", heartbeat({ node: "e6" })), {
    reason: 'its body names node "e6", not "e5"',
  });
  assert.deepEqual(checkHeartbeat("e5", heartbeat({ heartbeat_interval: 3600.5 })), {
    reason: "heartbeat_interval 3600.5 s is outside 0.1 to 3600 s",
  });
  assert.ok("reason" in checkHeartbeat("e5", heartbeat({ heartbeat_interval: 0.05 })));
  assert.ok("reason" in checkHeartbeat("e5", heartbeat({ heartbeat_interval: "5" })));
  assert.ok("reason" in checkHeartbeat("e5", heartbeat({ services: undefined })));
  assert.ok("reason" in checkHeartbeat("e5", [1]));
  assert.ok("reason" in checkHeartbeat("e5", undefined));
  assert.ok("value" in checkHeartbeat("e5", heartbeat({ heartbeat_interval: 3600 })));
  assert.ok("value" in checkHeartbeat("e5", heartbeat({ heartbeat_interval: 0.1 })));
});

Deno.test("checkStatus() wants a whole status of the node and service it arrived for", () => {
  const status = { schema: 1, node: "e5", at: "2026-01-01T00:00:00.000Z", ...fakeStatus("web") };
  assert.ok("value" in checkStatus("e5", "web", status));
  assert.deepEqual(checkStatus("e5", "web", { ...status, node: "e6" }), {
    reason: 'its body names node "e6", not "e5"',
  });
  assert.deepEqual(checkStatus("e5", "api", status), {
    reason: 'its body names name "web", not "api"',
  });
  const partial = checkStatus("e5", "web", { node: "e5", name: "web", status: "running" });
  assert.ok("reason" in partial && partial.reason.startsWith("not an edgevisor status ("));
  assert.ok("reason" in checkStatus("e5", "web", { ...status, last_exit: { code: 1 } }));
  assert.ok("reason" in checkStatus("e5", "web", "hello"));
});

Deno.test("checkEvent() wants the node and service of its subject", () => {
  const event = { schema: 1, node: "e5", type: "state", service: "web", at: "x" };
  assert.ok("value" in checkEvent("e5", "web", event));
  assert.ok("reason" in checkEvent("e5", "web", { ...event, node: "e6" }));
  assert.ok("reason" in checkEvent("e5", "api", event));
  assert.ok("reason" in checkEvent("e5", "web", { ...event, type: undefined }));
});
