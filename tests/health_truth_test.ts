/**
 * Health that tells the truth, against a real orchestrator: a service whose
 * check fails every time reads `unhealthy` through its restarts, backoff
 * included, and `unknown` only before its first check and after a
 * requested stop.
 *
 * @module
 */
import assert from "node:assert/strict";
import { api, FAST, freePort, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";

Deno.test("GET /api/services/health/{name} says unhealthy through the liveness restarts of a failing service", async () => {
  const closed = freePort(); // nothing listens there
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "sick",
        cmd: "sleep",
        args: [String(uniqueSeconds())],
        restart_policy: "always",
        backoff: { initial: 0.3, factor: 1, max: 0.3 },
        health_check: {
          type: "tcp",
          port: closed,
          interval: 0.05,
          timeout: 0.5,
          failure_threshold: 2,
        },
      }],
    },
  });
  const health = async () => (await api(orch.url, "GET", "/api/services/health/sick")).body;
  const status = async () => (await api(orch.url, "GET", "/api/services/status/sick")).body;

  const first = await waitFor(async () => {
    const h = await health();
    return h.healthy === false && h;
  }, { message: "sick to read unhealthy" });
  assert.equal(first.state, "unhealthy");
  assert.match(first.message, /refused|connect/i);
  const restarts = (await status()).restarts;

  // Through two more liveness restarts, every answer says unhealthy, with the check's message.
  const seen = new Set<string>();
  const wrong: string[] = [];
  await waitFor(async () => {
    const [h, s] = await Promise.all([health(), status()]);
    if (h.healthy !== false || h.state !== "unhealthy" || h.message !== first.message) {
      wrong.push(`health in ${s.status}: ${JSON.stringify(h)}`);
    }
    if (s.health.healthy !== false) {
      wrong.push(`status in ${s.status}: ${JSON.stringify(s.health)}`);
    }
    seen.add(s.status);
    return s.restarts >= restarts + 2 && seen.has("backoff");
  }, { timeoutMs: 15_000, intervalMs: 10, message: "two more restarts, one seen in backoff" });
  assert.deepEqual(wrong, []);

  // A requested stop: unknown.
  assert.equal((await api(orch.url, "POST", "/api/services/stop/sick")).status, 200);
  const stopped = await health();
  assert.equal(stopped.healthy, null);
  assert.equal(stopped.state, "unknown");
  assert.equal(stopped.message, "service is not running");
  assert.equal(stopped.last_checked, null, "no time of a verdict no longer shown");
  const events = (await api(orch.url, "GET", "/api/services/history/sick")).body.events as {
    type: string;
    to?: string;
  }[];
  const changes = events.filter((e) => e.type === "health").map((e) => e.to);
  assert.deepEqual(changes.slice(-2), ["unhealthy", "unknown"]);
  assert.equal(changes.filter((to) => to === "unknown").length, 1, JSON.stringify(changes));
});
