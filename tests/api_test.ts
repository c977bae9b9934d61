/**
 * API tests over real HTTP against a real `edgevisor run` subprocess: the
 * shapes of the answers, every error case, control of real processes, logs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkAnswer } from "../src/api/answer_check.ts";
import {
  api,
  assertBelow,
  exists,
  FAST,
  groupMembers,
  processAlive,
  processesMatching,
  serviceStatus,
  sh,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** Every field of `ServiceStatus` in src/types.ts. */
const STATUS_FIELDS = [
  "autostart",
  "cpu_percent",
  "cpu_seconds",
  "crash_count",
  "description",
  "display_name",
  "health",
  "health_check",
  "kind",
  "last_exit",
  "last_restart",
  "memory_rss_bytes",
  "name",
  "next_restart_at",
  "pid",
  "port",
  "reason",
  "restart_policy",
  "restarts",
  "started_at",
  "status",
  "threads",
  "type",
  "uptime",
];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Wait until the status of `name` satisfies `check`. */
function untilStatus(
  url: string,
  name: string,
  // deno-lint-ignore no-explicit-any
  check: (s: any) => boolean,
  message: string,
  timeoutMs = 10_000,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  return waitFor(async () => {
    const s = await serviceStatus(url, name);
    return check(s) && s;
  }, { timeoutMs, message });
}

Deno.test("API: shapes, conflicts, unknown names, bad parameters and control over HTTP", async (t) => {
  const secs = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "web",
          display_name: "Web server",
          description: "sleeps",
          type: "shell",
          port: 8123,
          health_check: { type: "exec", command: "true", interval: 60 },
          cmd: "sleep",
          args: [String(secs)],
          restart_policy: "always",
        },
        { ...FAST, name: "idle", cmd: "sleep", args: [String(secs)], autostart: false },
        { ...FAST, name: "ghost", cmd: "edgevisor-no-such-command-xyz" },
        {
          ...FAST,
          name: "stubborn",
          ...sh(`trap "" TERM; while true; do sleep 0.1; done`),
          stop_timeout: 10,
        },
      ],
    },
  });
  const { url } = orch;
  await untilStatus(url, "web", (s) => s.status === "running", "web running");
  await untilStatus(url, "stubborn", (s) => s.status === "running", "stubborn running");

  await t.step("GET /api/services/list has every ServiceStatus field", async () => {
    const { status, body } = await api(url, "GET", "/api/services/list");
    assert.equal(status, 200);
    assert.equal(body.ok, true);
    assert.deepEqual(body.services.map((s: { name: string }) => s.name), [
      "web",
      "idle",
      "ghost",
      "stubborn",
    ]);
    for (const s of body.services) {
      assert.deepEqual(Object.keys(s).sort(), STATUS_FIELDS, `fields of ${s.name}`);
      if (s.name === "web") continue;
      assert.deepEqual(s.health, {
        healthy: null,
        message: "no check",
        state: "unknown",
        last_checked: null,
        consecutive_failures: 0,
      });
    }
    const [web, idle] = body.services;
    assert.equal(web.status, "running");
    assert.equal(web.display_name, "Web server");
    assert.equal(web.description, "sleeps");
    assert.equal(web.type, "shell");
    assert.equal(web.port, 8123);
    assert.equal(web.restart_policy, "always");
    assert.equal(web.autostart, true);
    assert.ok(Number.isInteger(web.pid) && await processAlive(web.pid), "web has a live pid");
    assert.match(web.started_at, ISO);
    assert.equal(typeof web.uptime, "number");
    assert.equal(web.restarts, 0);
    assert.equal(web.crash_count, 0);
    assert.equal(web.last_exit, null);
    assert.equal(idle.status, "stopped");
    assert.equal(idle.pid, null);
    assert.equal(idle.started_at, null);
    assert.equal(idle.uptime, 0);
    assert.equal(idle.autostart, false);
    assert.equal(idle.display_name, "idle");
    assert.equal(idle.description, null);
    assert.equal(idle.type, null);
    assert.equal(idle.port, null);
    assert.equal(idle.restart_policy, "on-failure");
  });

  await t.step("GET /api/services/status/NAME flattens the status into the envelope", async () => {
    const { status, body } = await api(url, "GET", "/api/services/status/web");
    assert.equal(status, 200);
    assert.equal(body.ok, true);
    assert.deepEqual(Object.keys(body).sort(), ["ok", ...STATUS_FIELDS].sort());
    assert.equal(body.name, "web");
    assert.equal(body.status, "running");
  });

  await t.step("GET /api/health counts services by state", async () => {
    const { status, body } = await api(url, "GET", "/api/health");
    assert.equal(status, 200);
    assert.equal(body.ok, true);
    assert.equal(body.pid, orch.pid);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof body.uptime, "number");
    assert.deepEqual(body.services, {
      stopped: 1,
      starting: 0,
      running: 2,
      backoff: 0,
      cooldown: 0,
      stopping: 0,
      exited: 0,
      failed: 1,
      total: 4,
    });
  });

  await t.step("GET /api/services/health/NAME gives the check's state and history", async () => {
    // The first check runs at the start; running does not wait for it.
    await waitFor(
      async () => (await api(url, "GET", "/api/services/health/web")).body.last_checked !== null,
      {
        message: "the first check of web",
      },
    );
    const { status, body } = await api(url, "GET", "/api/services/health/web");
    assert.equal(status, 200);
    assert.equal(body.healthy, true);
    assert.equal(body.state, "healthy");
    assert.equal(body.message, "exit code 0");
    assert.equal(body.consecutive_failures, 0);
    assert.match(body.last_checked, ISO);
    assert.equal(body.history.length, 1);
    const now = await api(url, "GET", "/api/services/health/web?now=1");
    assert.equal(now.body.history.length, 2);
    const idle = await api(url, "GET", "/api/services/health/idle");
    assert.deepEqual(idle.body.history, []);
    assert.equal(idle.body.message, "no check");
  });

  await t.step(
    "a missing command is a failed service with a clear reason, not a crash",
    async () => {
      const ghost = await serviceStatus(url, "ghost");
      assert.equal(ghost.status, "failed");
      assert.match(ghost.reason, /not found/);
      const { status, body } = await api(url, "POST", "/api/services/start/ghost");
      assert.equal(status, 422);
      assert.equal(body.ok, false);
      assert.match(body.error, /command "edgevisor-no-such-command-xyz" not found/);
      assert.equal((await api(url, "GET", "/api/health")).status, 200, "still serving");
      assert.equal((await serviceStatus(url, "ghost")).status, "failed");
    },
  );

  await t.step("start on running and stop on stopped are 409 conflicts", async () => {
    const start = await api(url, "POST", "/api/services/start/web");
    assert.equal(start.status, 409);
    assert.equal(start.body.ok, false);
    assert.match(start.body.error, /already running/);
    const stop = await api(url, "POST", "/api/services/stop/idle");
    assert.equal(stop.status, 409);
    assert.equal(stop.body.ok, false);
    assert.match(stop.body.error, /not running/);
    // Still exactly one copy of web (idle shares the command line but is stopped).
    assert.equal((await processesMatching(String(secs))).length, 1);
  });

  await t.step("an unknown service is 404 on every route", async () => {
    for (
      const [method, path] of [
        ["GET", "/api/services/status/nope"],
        ["POST", "/api/services/start/nope"],
        ["POST", "/api/services/stop/nope"],
        ["POST", "/api/services/restart/nope"],
        ["GET", "/api/services/logs/nope"],
        ["GET", "/api/services/health/nope"],
      ] as const
    ) {
      const { status, body } = await api(url, method, path);
      assert.equal(status, 404, `${method} ${path}`);
      assert.deepEqual(body, { ok: false, error: `Unknown service "nope"` }, `${method} ${path}`);
    }
  });

  await t.step("bad parameters are 400 with the offending value", async () => {
    for (const lines of ["-1", "abc", "100000", "1.5", ""]) {
      const { status, body } = await api(url, "GET", `/api/services/logs/web?lines=${lines}`);
      assert.equal(status, 400, `lines=${lines}`);
      assert.equal(body.ok, false);
      assert.ok(body.error.includes(`"lines"`) && body.error.includes(JSON.stringify(lines)));
    }
    const stream = await api(url, "GET", "/api/services/logs/web?stream=both2");
    assert.equal(stream.status, 400);
    assert.match(stream.body.error, /"stream"/);
    const force = await api(url, "POST", "/api/services/stop/web?force=maybe");
    assert.equal(force.status, 400);
    assert.match(force.body.error, /"force"/);
    assert.equal((await serviceStatus(url, "web")).status, "running", "a bad stop did nothing");
    const name = await api(url, "GET", "/api/services/status/-bad");
    assert.equal(name.status, 400);
    const method = await api(url, "GET", "/api/services/start/web");
    assert.equal(method.status, 405);
    assert.equal(method.body.ok, false);
  });

  await t.step("a name with a path in it never reaches the filesystem", async () => {
    for (
      const path of [
        "/api/services/logs/..%2F..%2Fetc%2Fpasswd",
        "/api/services/logs/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd?lines=5",
        "/api/services/logs/%2Fetc%2Fpasswd",
        "/api/services/logs/..",
      ]
    ) {
      const { status, body } = await api(url, "GET", path);
      assert.ok(status === 400 || status === 404, `${path}: ${status}`);
      assert.equal(body.ok, false, path);
      assert.ok(!JSON.stringify(body).includes("root:"), `${path} leaked a file`);
    }
    const { status, body } = await api(url, "GET", "/api/services/logs/..%2F..%2Fetc%2Fpasswd");
    assert.equal(status, 400);
    assert.match(body.error, /Invalid service name/);
  });

  await t.step("a service killed by SIGKILL comes back with a new pid", async () => {
    const before = await serviceStatus(url, "web");
    Deno.kill(before.pid, "SIGKILL");
    const after = await untilStatus(
      url,
      "web",
      (s) => s.status === "running" && s.pid !== before.pid,
      "web running with a new pid",
    );
    assert.equal(after.restarts, 1);
    assert.equal(after.crash_count, 1);
    assert.equal(after.last_exit.signal, "SIGKILL");
    assert.equal(after.last_exit.code, null);
    assert.match(after.last_exit.at, ISO);
    assert.match(after.last_restart, ISO);
    assert.ok(!(await processAlive(before.pid)), "the old process is gone");
  });

  await t.step("stop, start and restart drive the real process", async () => {
    const running = await serviceStatus(url, "web");
    const stop = await api(url, "POST", "/api/services/stop/web");
    assert.equal(stop.status, 200);
    assert.equal(stop.body.ok, true);
    assert.equal(stop.body.message, `Service "web" stopped`);
    assert.equal(stop.body.status, "stopped");
    assert.equal(stop.body.pid, null);
    assert.deepEqual(await groupMembers(running.pid), [], "the group is gone when stop answers");
    assert.deepEqual(await processesMatching(String(secs)), []);

    const start = await api(url, "POST", "/api/services/start/web");
    assert.equal(start.status, 200);
    assert.equal(start.body.ok, true);
    assert.ok(["starting", "running"].includes(start.body.status));
    assert.ok(await processAlive(start.body.pid), "started");

    const restart = await api(url, "POST", "/api/services/restart/web");
    assert.equal(restart.status, 200);
    assert.notEqual(restart.body.pid, start.body.pid);
    assert.equal(restart.body.restarts, running.restarts + 1);
    assert.ok(!(await processAlive(start.body.pid)), "the restarted process is gone");
    assert.deepEqual(await processesMatching(String(secs)), [restart.body.pid]);
  });

  await t.step(
    "GET /metrics counts the transitions seen, and shows start time and last exit",
    async () => {
      const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(20_000) });
      const text = await response.text();
      checkAnswer({
        method: "GET",
        path: "/metrics",
        status: response.status,
        headers: response.headers,
        body: text,
      });
      const sample = (series: string) =>
        Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1]);
      const web = await serviceStatus(url, "web");
      // Killed once, stopped once, restarted once (which stops it too) since the start.
      assert.ok(sample('edgevisor_service_transitions_total{service="web",to="stopped"}') >= 2);
      assert.ok(sample('edgevisor_service_transitions_total{service="web",to="backoff"}') >= 1);
      assert.equal(
        sample('edgevisor_service_start_time_seconds{service="web"}'),
        Date.parse(web.started_at) / 1000,
      );
      assert.equal(
        sample('edgevisor_service_last_exit_code{service="web"}'),
        web.last_exit.code ?? 128 + ({ SIGTERM: 15, SIGKILL: 9 } as Record<string, number>)[
              web.last_exit.signal
            ]!,
      );
      assert.match(text, /^edgevisor_build_info\{version="[^"]+",deno="[^"]+"\} 1$/m);
    },
  );

  await t.step(
    "services added, replaced and removed over HTTP; an invalid one lists its problems",
    async () => {
      const added = await api(url, "POST", "/api/services", {
        body: { name: "extra", cmd: "sleep", args: [String(secs)], autostart: false },
      });
      assert.equal(added.status, 201);
      assert.equal(added.body.message, 'Service "extra" added');
      assert.equal(added.body.status, "stopped");
      const invalid = await api(url, "PUT", "/api/services/extra", {
        body: { cmd: "sleep", restart_policy: "sometimes" },
      });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.body.problems.map((p: { path: string }) => p.path), [
        "restart_policy",
      ]);
      const replaced = await api(url, "PUT", "/api/services/extra", {
        body: { cmd: "sleep", args: [String(secs)], autostart: false, description: "new" },
      });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.description, "new");
      const removed = await api(url, "DELETE", "/api/services/extra");
      assert.deepEqual(removed.body, {
        ok: true,
        message: 'Service "extra" removed',
        name: "extra",
      });
      assert.equal((await api(url, "DELETE", "/api/services/extra")).status, 404);
      assert.equal((await api(url, "GET", "/api/services/history/extra")).status, 404);
      assert.equal((await api(url, "GET", "/api/services/history/web")).status, 200);
    },
  );

  await t.step("stop?force=true kills at once", async () => {
    const before = await serviceStatus(url, "stubborn");
    const t0 = performance.now();
    const { status, body } = await api(url, "POST", "/api/services/stop/stubborn?force=true");
    assertBelow(performance.now() - t0, 3000, "force stop time (stop_timeout is 10 s)");
    assert.equal(status, 200);
    assert.equal(body.status, "stopped");
    assert.equal(body.last_exit.signal, "SIGKILL");
    assert.deepEqual(await groupMembers(before.pid), []);
  });
});

Deno.test("API: logs are captured per stream, rotated, and tailed", async (t) => {
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "counter",
          ...sh(
            `i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line-$i"; done; echo warn-1 >&2; echo warn-2 >&2; exec sleep ${uniqueSeconds()}`,
          ),
        },
        {
          ...FAST,
          name: "chatty",
          ...sh(
            `i=0; while [ $i -lt 30 ]; do i=$((i+1)); for j in 1 2 3 4 5; do printf 'burst %02d line %d %s\\n' $i $j xxxxxxxxxxxxxxxxxxxx; done; sleep 0.01; done`,
          ),
          restart_policy: "never",
          log: { max_size_mb: 0.001, keep: 2 },
        },
        {
          ...FAST,
          name: "crashy",
          ...sh(`echo starting; echo "last words before the crash"; kill -9 $$$$`),
          restart_policy: "never",
        },
      ],
    },
  });
  const { url, logDir } = orch;

  await t.step("?lines=5 returns exactly the last 5 lines", async () => {
    await waitFor(async () => {
      const { body } = await api(url, "GET", "/api/services/logs/counter?lines=1");
      return body.stdout?.[0] === "line-200" && body.stderr?.[0] === "warn-2";
    }, { message: "counter to print its 200 lines and 2 warnings" });
    const { status, body: { merged, ...body } } = await api(
      url,
      "GET",
      "/api/services/logs/counter?lines=5",
    );
    assert.equal(status, 200);
    // Both streams in arrival order, the last 5 lines of them, after the start marker.
    const lines = merged.filter((e: { marker?: string }) => e.marker === undefined);
    assert.equal(lines.length, 5);
    assert.equal(merged[0].marker, "start");
    const tails = new Set([
      "line-196",
      "line-197",
      "line-198",
      "line-199",
      "line-200",
      "warn-1",
      "warn-2",
    ]);
    for (const e of lines) assert.ok(tails.has(e.line), `${e.line} is of the tails`);
    const times = merged.map((e: { at: string }) => Date.parse(e.at));
    assert.deepEqual(times, times.toSorted((a: number, b: number) => a - b));
    assert.deepEqual(body, {
      ok: true,
      name: "counter",
      stream: "both",
      lines: 5,
      stdout: ["line-196", "line-197", "line-198", "line-199", "line-200"],
      stderr: ["warn-1", "warn-2"],
    });
    const only = await api(url, "GET", "/api/services/logs/counter?lines=2&stream=stderr");
    const { merged: stderrOnly, ...onlyBody } = only.body;
    assert.deepEqual(
      stderrOnly.filter((e: { marker?: string }) => e.marker === undefined)
        .map((e: { stream: string; line: string }) => `${e.stream} ${e.line}`),
      ["stderr warn-1", "stderr warn-2"],
    );
    assert.deepEqual(onlyBody, {
      ok: true,
      name: "counter",
      stream: "stderr",
      lines: 2,
      stderr: ["warn-1", "warn-2"],
    });
    const none = await api(url, "GET", "/api/services/logs/counter?lines=0&stream=stdout");
    assert.deepEqual(none.body.stdout, []);
    const dflt = await api(url, "GET", "/api/services/logs/counter?stream=stdout");
    assert.equal(dflt.body.lines, 50);
    assert.equal(dflt.body.stdout.length, 50);
    assert.equal(dflt.body.stdout[49], "line-200");
  });

  await t.step("output goes to {log_dir}/{name}.stdout.log and .stderr.log", () => {
    // Each line begins with its arrival time (log.timestamps defaults to true).
    const time = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
    const out = Deno.readTextFileSync(`${logDir}/counter.stdout.log`).split("\n");
    assert.equal(out.length, 201);
    assert.match(out[0]!, new RegExp(`^${time} line-1$`));
    assert.match(out[199]!, new RegExp(`^${time} line-200$`));
    assert.match(
      Deno.readTextFileSync(`${logDir}/counter.stderr.log`),
      new RegExp(`^${time} warn-1\n${time} warn-2\n$`),
    );
  });

  await t.step("the last line before a crash is in the logs", async () => {
    const s = await untilStatus(url, "crashy", (s) => s.status === "exited", "crashy to end");
    assert.equal(s.last_exit.signal, "SIGKILL");
    const { body } = await api(url, "GET", "/api/services/logs/crashy?lines=1&stream=stdout");
    assert.deepEqual(body.stdout, ["last words before the crash"]);
  });

  await t.step("rotation keeps .1 and .2 and no more; the tail spans the files", async () => {
    await untilStatus(url, "chatty", (s) => s.status === "exited", "chatty to end");
    const base = `${logDir}/chatty.stdout.log`;
    assert.ok(exists(base) && exists(`${base}.1`) && exists(`${base}.2`), "three files");
    assert.ok(!exists(`${base}.3`), "no .3 with keep: 2");
    const { body } = await api(url, "GET", "/api/services/logs/chatty?lines=5&stream=stdout");
    assert.deepEqual(
      body.stdout,
      [1, 2, 3, 4, 5].map((j) => `burst 30 line ${j} xxxxxxxxxxxxxxxxxxxx`),
    );
    const big = await api(url, "GET", "/api/services/logs/chatty?lines=10000&stream=stdout");
    const total = [base, `${base}.1`, `${base}.2`]
      .map((p) => Deno.readTextFileSync(p).split("\n").length - 1)
      .reduce((a, b) => a + b, 0);
    assert.equal(big.body.stdout.length, total, "every kept line, across the rotated files");
    assert.ok(total < 150, "older lines were rotated away");
  });
});

Deno.test("API: a crash loop goes into cooldown, then retries once", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "crasher",
        ...sh("exit 1"),
        restart_policy: "always",
        backoff: { initial: 0.05, factor: 1, max: 0.05 },
        crash_loop: { max_crashes: 3, window: 60, cooldown: 1 },
      }],
    },
  });
  const cool = await untilStatus(orch.url, "crasher", (s) => s.status === "cooldown", "cooldown");
  assert.equal(cool.crash_count, 3);
  assert.match(cool.next_restart_at, ISO);
  const due = Date.parse(cool.next_restart_at);
  assert.match(cool.reason, /cooling down for 1s/);
  const again = await untilStatus(
    orch.url,
    "crasher",
    (s) => s.status === "cooldown" && s.crash_count === 4,
    "the single retry after the cooldown, and cooldown again",
  );
  assert.ok(Date.parse(again.last_restart) >= due - 5, "the retry waited for the cooldown");
  assert.equal(again.restarts, cool.restarts + 1, "exactly one more try");
  assert.match(again.reason, /crashed again after cooldown/);
  const health = await api(orch.url, "GET", "/api/health");
  assert.equal(health.body.services.cooldown, 1);
});
