/**
 * One-shot jobs with real processes: runs through the API with their
 * history and output tail, conflicts, no restart by policy, schedules that
 * never overlap, and a job as a `completed_successfully` dependency.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { RegistryError } from "../src/errors.ts";
import { parseRegistry } from "../src/registry/load.ts";
import type { JobRun } from "../src/types.ts";
import { FAST, runMain, sh, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

Deno.test("jobs: POST /api/services/run/NAME runs a job and its runs are reported", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      {
        name: "report",
        kind: "job",
        autostart: false,
        restart_policy: "always",
        ...sh("echo first line; echo to stderr >&2; exit 3"),
      },
      { name: "slow", kind: "job", autostart: false, ...sh("sleep 0.5") },
      { name: "daemon", cmd: "sleep", args: [String(secs)] },
    ],
    async ({ sup, until }) => {
      const api = createApp(sup);
      const post = (path: string) => api.request(path, { method: "POST" });
      const res = await post("/api/services/run/report");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.run_id, 1);
      assert.equal(body.message, 'Job "report" run 1 started');
      assert.equal(body.kind, "job");
      const done = await until(
        "report",
        (s) => s.runs?.[0]?.ended_at !== null && s.status === "exited",
        "run 1 ended",
      );
      const run = done.runs![0]!;
      assert.equal(run.exit_code, 3);
      assert.equal(run.signal, null);
      assert.ok(run.duration_ms >= 0 && run.duration_ms < 5000);
      assert.deepEqual(run.output_tail.toSorted(), ["first line", "to stderr"]);
      assert.equal(done.restarts, 0, "a failed job is not restarted, whatever restart_policy says");

      assert.equal((await (await post("/api/services/run/report")).json()).run_id, 2);
      const two = await until("report", (s) => s.runs?.[0]?.ended_at != null, "run 2 ended");
      assert.deepEqual(two.runs!.map((r: JobRun) => r.id), [2, 1], "newest first");
      const status = await (await api.request("/api/services/status/report")).json();
      assert.deepEqual(status.runs.map((r: JobRun) => r.id), [2, 1]);

      assert.equal((await post("/api/services/run/slow")).status, 200);
      const busy = await post("/api/services/run/slow");
      assert.equal(busy.status, 409);
      assert.match((await busy.json()).error, /^Cannot run job "slow": run 1 is still going$/);
      const notJob = await post("/api/services/run/daemon");
      assert.equal(notJob.status, 409);
      assert.equal((await post("/api/services/run/nope")).status, 404);
      assert.equal("runs" in sup.status("daemon"), false);
    },
  );
});

Deno.test("jobs: a schedule runs a job periodically and never two runs at once", async () => {
  await withSupervisor(
    [{
      name: "tick",
      kind: "job",
      autostart: false,
      schedule: { every: 0.1 },
      ...sh("echo run; sleep 0.25"),
    }],
    async ({ st, lines }) => {
      assert.match(st("tick").next_run_at ?? "", /^\d{4}-/);
      const runs = await waitFor(() => {
        const r = st("tick").runs ?? [];
        return r.filter((x) => x.ended_at !== null).length >= 3 && r;
      }, { timeoutMs: 10_000, message: "three finished runs" });
      const ended = runs.filter((r) => r.ended_at !== null).reverse();
      for (let i = 1; i < ended.length; i++) {
        assert.ok(
          Date.parse(ended[i]!.started_at) >= Date.parse(ended[i - 1]!.ended_at!),
          `run ${ended[i]!.id} started after run ${ended[i - 1]!.id} ended`,
        );
      }
      assert.ok(
        lines.some((l) => l.includes("scheduled run skipped, the previous run is still going")),
      );
    },
  );
});

Deno.test("jobs: a job is a completed_successfully dependency; schedules are validated", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "migrate", kind: "job", ...sh("sleep 0.2; echo migrated") },
      {
        name: "server",
        cmd: "sleep",
        args: [String(secs)],
        depends_on: [{ service: "migrate", condition: "completed_successfully" }],
      },
    ],
    async ({ until, st }) => {
      assert.match(st("server").reason ?? "", /^waiting for migrate \(completed_successfully\)/);
      await until("server", (s) => s.status === "running", "server after migrate");
      assert.equal(st("migrate").runs?.[0]?.exit_code, 0);
    },
  );
  assert.throws(
    () =>
      parseRegistry(
        JSON.stringify({
          services: [{ name: "j", cmd: "x", kind: "job", schedule: "*/5 * * *" }],
        }),
        { env: {} },
      ),
    (err: unknown) =>
      err instanceof RegistryError &&
      err.problems.some((p) => p.path === "services[0].schedule" && /cron/.test(p.message)),
  );
});

Deno.test("edgevisor job NAME and edgevisor graph FILE from the command line", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [
        { ...FAST, name: "hello", kind: "job", autostart: false, ...sh("echo hello") },
        {
          ...FAST,
          name: "web",
          cmd: "sleep",
          args: ["1"],
          autostart: false,
          depends_on: ["hello"],
        },
      ],
    },
  });
  const job = await runMain(["job", "hello", "--url", orch.url]);
  assert.equal(job.code, 0, job.stderr);
  assert.equal(job.stdout, 'Job "hello" run 1 started\n');
  const busyOrNot = await runMain(["job", "web", "--url", orch.url]);
  assert.equal(busyOrNot.code, 1);
  assert.match(busyOrNot.stderr, /it is not a job/);
  const graph = await runMain(["graph", orch.registryPath]);
  assert.equal(graph.code, 0, graph.stderr);
  assert.match(graph.stdout, /^digraph edgevisor \{$/m);
  assert.match(graph.stdout, /^ {2}"web" -> "hello" \[label="started"\];$/m);
});
