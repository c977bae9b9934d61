import assert from "node:assert/strict";
import {
  bucketConfig,
  CONFIG_HISTORY,
  configBucketConfig,
  configBucketName,
  groupKey,
  nodeKey,
  streamConfig,
} from "./jetstream.ts";

Deno.test("streamConfig() holds events only, with the limits given", () => {
  const config = streamConfig({ prefix: "edgevisor" }, {
    streamMaxAgeMs: 7 * 86_400_000,
    streamMaxBytes: 1 << 30,
    replicas: 3,
  });
  assert.equal(config.name, "EDGEVISOR_EVENTS");
  assert.deepEqual(config.subjects, ["edgevisor.*.events.*"]);
  assert.equal(config.max_age, 7 * 86_400_000 * 1_000_000);
  assert.equal(config.max_bytes, 1 << 30);
  assert.equal(config.num_replicas, 3);
  assert.equal(config.discard, "old");
  assert.equal(config.sources, undefined);
  const leaf = streamConfig({ prefix: "edgevisor", node: "rpi7" });
  assert.deepEqual(leaf.subjects, ["edgevisor.rpi7.events.*"]);
  assert.equal(leaf.max_age, 86_400_000 * 1_000_000);
  assert.equal(leaf.max_bytes, 256 * 1024 * 1024);
});

Deno.test("streamConfig() of a hub sources each domain's stream and captures no subject", () => {
  const config = streamConfig({ prefix: "edgevisor", sources: ["rpi7", "rpi8"] });
  assert.deepEqual(config.subjects, []);
  assert.deepEqual(config.sources, [
    { name: "EDGEVISOR_EVENTS", external: { api: "$JS.rpi7.API", deliver: "" } },
    { name: "EDGEVISOR_EVENTS", external: { api: "$JS.rpi8.API", deliver: "" } },
  ]);
});

Deno.test("bucketConfig() keeps one value per key, ages keys out, and refuses roll-ups", () => {
  const config = bucketConfig({ prefix: "edgevisor" }, { kvMaxAgeMs: 3_600_000 });
  assert.equal(config.name, "KV_edgevisor");
  assert.deepEqual(config.subjects, ["$KV.edgevisor.>"]);
  assert.equal(config.max_msgs_per_subject, 1);
  assert.equal(config.max_age, 3_600_000 * 1_000_000);
  assert.equal(config.max_bytes, 64 * 1024 * 1024);
  assert.equal(config.allow_rollup_hdrs, false);
  assert.equal(config.discard, "old");
  const hub = bucketConfig({ prefix: "edgevisor", sources: ["rpi7"] });
  assert.deepEqual(hub.subjects, ["$KV.edgevisor.>"]);
  assert.deepEqual(hub.sources, [
    { name: "KV_edgevisor", external: { api: "$JS.rpi7.API", deliver: "" } },
  ]);
});

Deno.test("configBucketConfig() keeps 10 revisions of each key, never expires, allows direct gets", () => {
  const config = configBucketConfig("edgevisor");
  assert.equal(configBucketName("edgevisor"), "edgevisor_config");
  assert.equal(config.name, "KV_edgevisor_config");
  assert.deepEqual(config.subjects, ["$KV.edgevisor_config.>"]);
  assert.ok(CONFIG_HISTORY >= 10);
  assert.equal(config.max_msgs_per_subject, CONFIG_HISTORY);
  assert.equal(config.max_age, 0);
  assert.equal(config.allow_direct, true);
  assert.equal(config.allow_rollup_hdrs, false);
  assert.equal(config.deny_delete, true);
});

Deno.test("groupKey() and nodeKey() name the two keys a device follows", () => {
  assert.equal(groupKey("line1"), "group.line1");
  assert.equal(nodeKey("rpi7"), "node.rpi7");
  assert.throws(() => groupKey("a.b"), TypeError);
  assert.throws(() => nodeKey("*"), TypeError);
});
