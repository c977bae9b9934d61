/**
 * Lifecycle hooks with real processes: `pre_start`, `post_start` and
 * `post_stop` in order, a failing `pre_start` that keeps the service from
 * starting, and `on_exit: "shutdown_everything"` ending a real orchestrator
 * with exit code 1.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FAST,
  removeDir,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

const hook = (script: string) => ({ cmd: "sh", args: ["-c", script], timeout: 5 });

Deno.test("hooks: pre_start, post_start and post_stop run in order around the process", async () => {
  const secs = uniqueSeconds();
  const dir = await tempDir();
  const trace = `${dir}/trace`;
  const read = async () => (await Deno.readTextFile(trace).catch(() => "")).trim().split("\n");
  try {
    await withSupervisor(
      [{
        name: "app",
        ...sh(`echo main >> ${trace}; echo up; exec sleep ${secs}`),
        readiness: { type: "log", pattern: "^up$", interval: 0.05 },
        pre_start: hook(`echo "pre $EDGEVISOR_HOOK $EDGEVISOR_SERVICE" >> ${trace}`),
        post_start: hook(`echo post_start >> ${trace}`),
        post_stop: hook(`echo post_stop >> ${trace}`),
      }],
      async ({ sup, until }) => {
        await until("app", (s) => s.status === "running", "app running");
        await waitFor(async () => (await read()).includes("post_start"), {
          message: "post_start ran",
        });
        await sup.stop("app");
        assert.deepEqual(await read(), ["pre pre_start app", "main", "post_start", "post_stop"]);
      },
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("hooks: a failing pre_start keeps the service from starting, with its output", async () => {
  await withSupervisor(
    [{
      name: "api",
      cmd: "sleep",
      args: ["1"],
      pre_start: hook("echo checking; echo database unreachable >&2; exit 4"),
    }],
    async ({ until, events, sup }) => {
      const failed = await until("api", (s) => s.status === "failed", "api failed");
      assert.equal(
        failed.reason,
        "pre_start hook failed (exit code 4: checking / database unreachable)",
      );
      assert.equal(failed.pid, null);
      assert.deepEqual(
        events.filter((e) => e.service === "api").map((e) => [e.to, e.pid]),
        [["starting", null], ["failed", null]],
      );
      await assert.rejects(sup.start("api"), /pre_start hook failed/);
    },
  );
});

Deno.test("on_exit shutdown_everything: the orchestrator stops everything and exits 1", async () => {
  const secs = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "main",
          ...sh("sleep 0.5; exit 0"),
          restart_policy: "on-failure",
          on_exit: "shutdown_everything",
        },
        { ...FAST, name: "other", cmd: "sleep", args: [String(secs)] },
      ],
    },
  });
  const status = await waitFor(() => Promise.race([orch.status, null]), {
    timeoutMs: 15_000,
    message: "orchestrator exits",
  });
  assert.equal(status.code, 1);
  assert.match(orch.stderr(), /on_exit "shutdown_everything": stopping everything/);
  assert.match(orch.stderr(), /service "other": running -> stopping/);
});
