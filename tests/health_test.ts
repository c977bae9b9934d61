/**
 * Health checks end to end in one process: readiness gating `starting →
 * running` (log line, late file, implied TCP port), liveness restarts
 * through the policy after exactly `failure_threshold` failures of a real
 * HTTP server, and the health route with its history and `?now=1`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createApp } from "../src/api/app.ts";
import { freePort, removeDir, sh, tempDir, uniqueSeconds } from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

const FAST_CHECK = { interval: 0.05, timeout: 1 };

Deno.test("readiness: a log line gates starting -> running; start_grace is not used", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{
      name: "app",
      ...sh(`echo booting; sleep 0.4; echo "server READY"; exec sleep ${secs}`),
      start_grace: 0,
      readiness: { type: "log", pattern: "READY$", ...FAST_CHECK },
    }],
    async ({ st, until, events }) => {
      const first = await until("app", (s) => s.pid !== null, "app spawned");
      assert.equal(first.status, "starting");
      assert.equal(first.reason, "waiting for the readiness check");
      const running = await until("app", (s) => s.status === "running", "app running");
      assert.equal(running.reason, 'readiness check passed (seen "server READY")');
      assert.equal(running.health.healthy, true);
      assert.equal(running.health.state, "healthy");
      const toRunning = events.find((e) => e.service === "app" && e.to === "running");
      const started = events.find((e) => e.service === "app" && e.to === "starting");
      assert.ok(toRunning && started);
      assert.ok(Date.parse(toRunning.at) - Date.parse(started.at) >= 300, "waited for the line");
      assert.equal(st("app").restarts, 0);
    },
  );
});

Deno.test("readiness: a file that appears late, and an implied tcp check on port", async () => {
  const secs = uniqueSeconds();
  const port = freePort();
  const dir = await tempDir();
  try {
    await withSupervisor(
      [
        {
          name: "filer",
          ...sh(`sleep 0.3; touch ${dir}/ready.flag; exec sleep ${secs}`),
          readiness: { type: "file", path: `${dir}/ready.flag`, ...FAST_CHECK },
        },
        {
          name: "listener",
          cmd: Deno.execPath(),
          args: [
            "eval",
            `for await (const c of Deno.listen({ hostname: "127.0.0.1", port: ${port} })) c.close();`,
          ],
          port,
        },
      ],
      async ({ until }) => {
        const spawned = await until("filer", (s) => s.pid !== null, "filer spawned");
        assert.equal(spawned.status, "starting");
        const filer = await until("filer", (s) => s.status === "running", "filer running");
        assert.match(filer.reason ?? "", /ready\.flag exists/);
        const listener = await until("listener", (s) => s.status === "running", "listener up");
        assert.equal(listener.reason, `readiness check passed (connected to 127.0.0.1:${port})`);
        assert.equal(listener.health.healthy, true);
      },
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("liveness: exactly failure_threshold failures of an HTTP server restart the service", async () => {
  const secs = uniqueSeconds();
  let healthy = true;
  let failures = 0;
  const app = new Hono();
  app.get("/health", (c) => {
    if (healthy) return c.text("ok");
    failures++;
    return c.text("broken", 500);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  try {
    await withSupervisor(
      [{
        name: "api",
        cmd: "sleep",
        args: [String(secs)],
        health_check: "api_http",
      }],
      async ({ sup, until, events }) => {
        const up = await until("api", (s) => s.status === "running", "api running");
        assert.equal(up.health.message, "HTTP 200");
        const api = createApp(sup);
        const before = await (await api.request("/api/services/health/api")).json();
        assert.equal(before.ok, true);
        assert.equal(before.state, "healthy");
        assert.ok(before.history.length >= 1);
        assert.equal(before.history[0].ok, true);

        let failuresAtRestart = -1;
        const healthEvents: string[] = [];
        const seen = new Promise<string>((resolve) => {
          sup.events.subscribe((e) => {
            if (e.type === "health" && e.service === "api") {
              healthEvents.push(`${e.role} ${e.from}->${e.to}`);
            }
            if (e.type === "state" && e.service === "api" && e.to === "backoff") {
              failuresAtRestart = failures;
              resolve(e.reason ?? "");
            }
          });
        });
        healthy = false;
        const reason = await seen;
        assert.equal(failuresAtRestart, 3, "restarted after exactly failure_threshold failures");
        assert.ok(
          healthEvents.includes("health healthy->unhealthy"),
          `a health event on the bus: ${healthEvents}`,
        );
        assert.match(
          reason,
          /^liveness check failed 3 times in a row \(HTTP 500 \(expected 200-399\)\); killed by SIGTERM; restarting in /,
        );
        const failing = await (await api.request("/api/services/health/api")).json();
        assert.deepEqual(failing.history.slice(0, 3).map((h: { ok: boolean }) => h.ok), [
          false,
          false,
          false,
        ]);
        healthy = true;
        const again = await until(
          "api",
          (s) => s.status === "running" && s.restarts === 1,
          "api back",
        );
        assert.equal(again.crash_count, 1);
        assert.ok(events.some((e) => e.service === "api" && e.to === "backoff"));

        const now = await (await api.request("/api/services/health/api?now=1")).json();
        assert.equal(now.healthy, true);
        assert.equal(now.message, "HTTP 200");
        assert.ok(Date.parse(now.last_checked) >= Date.parse(again.started_at!));
        const bad = await api.request("/api/services/health/api?now=maybe");
        assert.equal(bad.status, 400);
      },
      {
        health_checks: {
          api_http: {
            type: "http",
            port: server.addr.port,
            path: "/health",
            interval: 0.05,
            failure_threshold: 3,
          },
        },
      },
    );
  } finally {
    await server.shutdown();
  }
});
