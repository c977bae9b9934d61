/**
 * Dependencies with real processes: readiness of a dependency gating its
 * dependent (seen in the order of the start events), independent services
 * starting in parallel, `completed_successfully`, `restart_with`, the
 * waiting reason during a cooldown, and the reverse stop order.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { StateEvent } from "../src/types.ts";
import { sh, uniqueSeconds } from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

function indexOf(events: StateEvent[], service: string, to: string, from = 0): number {
  return events.findIndex((e, i) => i >= from && e.service === service && e.to === to);
}

Deno.test("depends_on: healthy waits for readiness; independents start at once; stop in reverse", async () => {
  const secs = uniqueSeconds();
  let events: StateEvent[] = [];
  await withSupervisor(
    [
      {
        name: "api",
        cmd: "sleep",
        args: [String(secs)],
        depends_on: [{ service: "db", condition: "healthy" }, "cache"],
      },
      {
        name: "db",
        ...sh(`sleep 0.4; echo ready; exec sleep ${secs}`),
        readiness: { type: "log", pattern: "ready", interval: 0.05 },
      },
      { name: "cache", cmd: "sleep", args: [String(secs)] },
      { name: "worker", cmd: "sleep", args: [String(secs)] },
    ],
    async (f) => {
      events = f.events;
      const waiting = await f.until("db", (s) => s.status === "starting", "db starting");
      void waiting;
      const api = f.st("api");
      assert.equal(api.status, "stopped");
      assert.equal(api.reason, "waiting for db (healthy): db is starting");
      await f.until("api", (s) => s.status === "running", "api running");
      const dbStart = indexOf(f.events, "db", "starting");
      const dbReady = indexOf(f.events, "db", "running");
      const apiStart = indexOf(f.events, "api", "starting");
      assert.ok(dbStart >= 0 && dbReady > dbStart && apiStart > dbReady, "api after db is ready");
      assert.ok(indexOf(f.events, "worker", "starting") < dbReady, "worker did not wait");
      assert.ok(indexOf(f.events, "cache", "starting") < dbReady, "cache did not wait");
      assert.equal(f.st("api").reason, null);
      await f.sup.shutdown();
    },
  );
  const apiStopped = indexOf(events, "api", "stopped");
  const dbStopping = indexOf(events, "db", "stopping");
  const cacheStopping = indexOf(events, "cache", "stopping");
  assert.ok(apiStopped >= 0 && dbStopping > apiStopped, "db stops after api is stopped");
  assert.ok(cacheStopping > apiStopped, "cache stops after api is stopped");
});

Deno.test("depends_on: completed_successfully waits for a migration; restart_with follows a restart", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      {
        name: "server",
        cmd: "sleep",
        args: [String(secs)],
        depends_on: [
          { service: "migrate", condition: "completed_successfully" },
          "db",
        ],
        restart_with: ["db"],
      },
      { name: "migrate", ...sh("sleep 0.3; exit 0"), restart_policy: "never" },
      { name: "db", cmd: "sleep", args: [String(secs)], restart_policy: "always" },
    ],
    async (f) => {
      const first = await f.until("server", (s) => s.status === "running", "server running");
      assert.ok(
        indexOf(f.events, "server", "starting") > indexOf(f.events, "migrate", "exited"),
        "server after the migration",
      );
      const db = f.st("db");
      Deno.kill(db.pid!, "SIGKILL");
      const again = await f.until(
        "server",
        (s) => s.status === "running" && s.pid !== first.pid,
        "server restarted with db",
      );
      assert.ok(again.pid !== first.pid);
      assert.ok(f.lines.includes('service "server": restarting with "db"'));
      const dbRestart = indexOf(f.events, "db", "starting", indexOf(f.events, "db", "backoff"));
      assert.ok(indexOf(f.events, "server", "stopping") > dbRestart, "after db restarted");
    },
  );
});

Deno.test("depends_on: a dependent waiting on a dependency in cooldown says so", async () => {
  await withSupervisor(
    [
      { name: "app", cmd: "true", depends_on: [{ service: "db", condition: "healthy" }] },
      {
        name: "db",
        cmd: "false",
        start_grace: 5,
        restart_policy: "always",
        crash_loop: { max_crashes: 1, window: 60, cooldown: 30 },
      },
    ],
    async (f) => {
      await f.until("db", (s) => s.status === "cooldown", "db in cooldown");
      const app = await f.until("app", (s) => /cooldown/.test(s.reason ?? ""), "app reason");
      assert.equal(app.status, "stopped");
      assert.match(app.reason!, /^waiting for db \(healthy\): db is in cooldown until \d{4}-/);
    },
  );
});
