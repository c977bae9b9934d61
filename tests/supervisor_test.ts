/**
 * Integration tests of the `Supervisor` class with real child processes, in
 * this process (no HTTP): restarts, give-up, cooldown, stops of whole
 * process trees, SIGKILL escalation, and log capture.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConflictError, NotFoundError, SpawnError } from "../src/errors.ts";
import { parseProcStat } from "../src/supervisor/proc_stat.ts";
import {
  assertAtLeast,
  assertBelow,
  assertRejectsWith,
  exists,
  groupMembers,
  processAlive,
  processesMatching,
  sh,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

Deno.test("Supervisor restarts a service killed by SIGKILL with a new pid", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{ name: "sleeper", cmd: "sleep", args: [String(secs)], restart_policy: "on-failure" }],
    async ({ st, until }) => {
      const first = await until("sleeper", (s) => s.status === "running", "sleeper running");
      assert.deepEqual(first.restarts, 0);
      assert.deepEqual(first.crash_count, 0);
      assert.deepEqual(first.last_exit, null);
      const oldPid = first.pid!;
      assert.ok(await processAlive(oldPid), "the first process is alive");
      Deno.kill(oldPid, "SIGKILL");
      const second = await until(
        "sleeper",
        (s) => s.status === "running" && s.pid !== null && s.pid !== oldPid,
        "sleeper running again with a new pid",
      );
      assert.deepEqual(second.restarts, 1);
      assert.deepEqual(second.crash_count, 1);
      assert.deepEqual(second.last_exit?.signal, "SIGKILL");
      assert.deepEqual(second.last_exit?.code, null);
      assert.ok(second.last_restart !== null, "last_restart is set");
      assert.ok(!(await processAlive(oldPid)), "the old pid is gone");
      assert.ok(await processAlive(second.pid!), "the new pid is alive");
      assert.deepEqual(await processesMatching(String(secs)), [second.pid!]);
      assert.deepEqual(st("sleeper").next_restart_at, null);
    },
  );
});

Deno.test("Supervisor gives up on-failure after max_restarts and marks the service failed", async () => {
  await withSupervisor(
    [{ name: "bad", ...sh("exit 3"), restart_policy: "on-failure", max_restarts: 2 }],
    async ({ events, until }) => {
      const s = await until("bad", (s) => s.status === "failed", "bad to fail");
      assert.ok(s.reason?.includes("max_restarts 2"), `reason mentions max_restarts: ${s.reason}`);
      assert.deepEqual(s.restarts, 2);
      assert.deepEqual(s.crash_count, 3);
      assert.deepEqual(s.last_exit?.code, 3);
      assert.deepEqual(s.last_exit?.signal, null);
      assert.deepEqual(s.pid, null);
      assert.deepEqual(s.next_restart_at, null);
      const starts = events.filter((e) => e.service === "bad" && e.to === "starting");
      assert.deepEqual(starts.length, 3, "the first start and two restarts");
      assert.deepEqual(events.filter((e) => e.to === "backoff").length, 2);
    },
  );
});

Deno.test("Supervisor does not restart a clean exit under on-failure", async () => {
  await withSupervisor(
    [{ name: "oneshot", ...sh("echo done"), restart_policy: "on-failure" }],
    async ({ events, until }) => {
      const s = await until("oneshot", (s) => s.status === "exited", "oneshot to exit");
      assert.deepEqual(s.last_exit?.code, 0);
      assert.deepEqual(s.restarts, 0);
      assert.deepEqual(s.crash_count, 0);
      assert.deepEqual(s.next_restart_at, null);
      assert.deepEqual(s.reason, "exited with code 0");
      // `exited` is only left by a request: no timer is pending.
      assert.deepEqual(events.filter((e) => e.to === "backoff" || e.to === "cooldown"), []);
    },
  );
});

Deno.test("Supervisor puts a crash loop into cooldown, then tries once more", async () => {
  await withSupervisor(
    [{
      name: "crasher",
      ...sh("exit 1"),
      restart_policy: "always",
      backoff: { initial: 0.05, factor: 1, max: 0.05 },
      crash_loop: { max_crashes: 3, window: 60, cooldown: 1 },
    }],
    async ({ events, until }) => {
      const cool = await until("crasher", (s) => s.status === "cooldown", "first cooldown");
      const coolEvent = events.find((e) => e.to === "cooldown")!;
      assert.ok(cool.next_restart_at !== null, "next_restart_at is set in cooldown");
      const dueMs = Date.parse(cool.next_restart_at);
      const wait = dueMs - Date.parse(coolEvent.at);
      assert.ok(wait >= 950 && wait <= 1100, `cooldown lasts about 1 s, got ${wait} ms`);
      assert.ok(cool.reason?.includes("cooling down"), `reason: ${cool.reason}`);
      assert.deepEqual(cool.crash_count, 3);
      assert.deepEqual(cool.restarts, 2);
      assert.deepEqual(events.filter((e) => e.to === "starting").length, 3);

      // The single trial after the cooldown crashes too: back to cooldown.
      const again = await until(
        "crasher",
        (s) => s.status === "cooldown" && s.crash_count === 4,
        "second cooldown after the trial",
        5000,
      );
      const starts = events.filter((e) => e.to === "starting");
      assert.deepEqual(starts.length, 4, "exactly one more try after the cooldown");
      const trial = starts[3]!;
      assert.deepEqual(trial.reason, "trial start after cooldown");
      assertAtLeast(Date.parse(trial.at), dueMs - 20, "the trial waits for the cooldown");
      assert.ok(again.reason?.includes("crashed again after cooldown"), `reason: ${again.reason}`);
      assert.deepEqual(again.restarts, 3);
      assert.ok(again.next_restart_at !== null, "next_restart_at is set again");
    },
  );
});

Deno.test("Supervisor.stop() of a service in cooldown cancels the pending retry", async () => {
  await withSupervisor(
    [{
      name: "crasher",
      ...sh("exit 1"),
      restart_policy: "always",
      crash_loop: { max_crashes: 1, window: 60, cooldown: 30 },
    }],
    async ({ sup, until }) => {
      await until("crasher", (s) => s.status === "cooldown", "cooldown");
      const s = await sup.stop("crasher");
      assert.deepEqual(s.status, "stopped");
      assert.deepEqual(s.next_restart_at, null);
      await assertRejectsWith(() => sup.stop("crasher"), ConflictError);
    },
  );
});

Deno.test("Supervisor.stop() ends a whole process tree", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{ name: "tree", ...sh(`sleep ${secs} & sleep ${secs}; wait`) }],
    async ({ sup, until }) => {
      const s = await until("tree", (s) => s.status === "running", "tree running");
      const pgid = s.pid!;
      await waitFor(async () => (await groupMembers(pgid)).length === 3, {
        message: "sh and its two sleeps in one process group",
      });
      // sh and its two sleeps all carry the marker.
      assert.deepEqual(
        await processesMatching(String(secs)),
        (await groupMembers(pgid)).sort((a, b) => a - b),
      );
      const stopped = await sup.stop("tree");
      assert.deepEqual(stopped.status, "stopped");
      assert.deepEqual(stopped.pid, null);
      // stop() resolves once the whole group is gone: no waiting here.
      assert.deepEqual(await groupMembers(pgid), []);
      assert.deepEqual(await processesMatching(String(secs)), []);
    },
  );
});

Deno.test("Supervisor.stop() escalates to SIGKILL after stop_timeout", async () => {
  await withSupervisor(
    [{
      name: "stubborn",
      ...sh(`trap "" TERM; while true; do sleep 0.1; done`),
      stop_timeout: 0.5,
    }],
    async ({ sup, until, lines }) => {
      const s = await until("stubborn", (s) => s.status === "running", "stubborn running");
      const pgid = s.pid!;
      // A `sleep` in the group means the trap is set and the loop runs.
      await waitFor(async () => (await groupMembers(pgid)).length >= 2, {
        message: "stubborn loop running",
      });
      const t0 = performance.now();
      const stopped = await sup.stop("stubborn");
      const elapsed = performance.now() - t0;
      assertAtLeast(elapsed, 450, "the process is given its stop_timeout");
      assertBelow(elapsed, 3000, "SIGKILL follows the stop_timeout promptly");
      assert.deepEqual(stopped.status, "stopped");
      assert.deepEqual(stopped.last_exit?.signal, "SIGKILL");
      assert.deepEqual(await groupMembers(pgid), []);
      assert.ok(lines.some((l) => l.includes("sending SIGKILL")), "the escalation is logged");
    },
  );
});

Deno.test("Supervisor.stop() with force kills at once", async () => {
  await withSupervisor(
    [{
      name: "stubborn",
      ...sh(`trap "" TERM; while true; do sleep 0.1; done`),
      stop_timeout: 10,
    }],
    async ({ sup, until }) => {
      const s = await until("stubborn", (s) => s.status === "running", "stubborn running");
      const t0 = performance.now();
      const stopped = await sup.stop("stubborn", { force: true });
      const elapsed = performance.now() - t0;
      assertBelow(elapsed, 2000, "no waiting for the 10 s stop_timeout");
      assert.deepEqual(stopped.status, "stopped");
      assert.deepEqual(stopped.last_exit?.signal, "SIGKILL");
      assert.deepEqual(await groupMembers(s.pid!), []);
    },
  );
});

Deno.test("Supervisor captures stdout and stderr, including the last line before a crash", async () => {
  const pad = "x".repeat(100);
  await withSupervisor(
    [{
      name: "talker",
      // ~220 KB, more than a pipe holds, then the last words and a crash: the
      // end of the output is still in the pipe when the process is reaped.
      ...sh(
        `for i in 1 2 3; do echo "err-$i" >&2; done; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo "out-$i ${pad}"; done; echo "last words"; kill -9 $$$$`,
      ),
      restart_policy: "never",
      autostart: false,
    }],
    async ({ sup, until, dir }) => {
      const logDir = `${dir}/logs`;
      // What the files hold at the very moment the service is seen as exited.
      let atExit: { stdout: string; stderr: string } | undefined;
      sup.events.subscribe((e) => {
        if (e.service === "talker" && e.to === "exited") {
          // Each line begins with its arrival time (log.timestamps); the text follows.
          const text = (file: string) =>
            Deno.readTextFileSync(file).replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, "");
          atExit = {
            stdout: text(`${logDir}/talker.stdout.log`),
            stderr: text(`${logDir}/talker.stderr.log`),
          };
        }
      });
      await sup.start("talker");
      const s = await until("talker", (s) => s.status === "exited", "talker to end");
      assert.equal(s.last_exit?.signal, "SIGKILL");
      assert.equal(s.crash_count, 1);
      assert.ok(atExit, "the exited transition was seen");
      const lines = atExit.stdout.split("\n");
      assert.equal(lines.length, 2002, "2000 lines, the last words, and the final newline");
      assert.equal(lines[1999], `out-2000 ${pad}`);
      assert.equal(lines[2000], "last words");
      assert.equal(atExit.stderr, "err-1\nerr-2\nerr-3\n");
      const tail = await sup.logs("talker", 2, "both");
      assert.deepEqual(tail.stdout, [`out-2000 ${pad}`, "last words"]);
      assert.deepEqual(tail.stderr, ["err-2", "err-3"]);
      const onlyErr = await sup.logs("talker", 10, "stderr");
      assert.equal(onlyErr.stdout, undefined);
      assert.deepEqual(onlyErr.stderr, ["err-1", "err-2", "err-3"]);
    },
  );
});

Deno.test("Supervisor rotates log files and keeps only `keep` of them", async () => {
  await withSupervisor(
    [{
      name: "chatty",
      // 30 bursts of 5 lines (200 bytes), a pause between bursts so that they
      // arrive as separate chunks, against a limit of 1048 bytes.
      ...sh(
        `i=0; while [ $i -lt 30 ]; do i=$((i+1)); for j in 1 2 3 4 5; do printf 'burst %02d line %d %s\\n' $i $j xxxxxxxxxxxxxxxxxxxx; done; sleep 0.01; done`,
      ),
      restart_policy: "never",
      log: { max_size_mb: 0.001, keep: 2 },
    }],
    async ({ sup, until, dir }) => {
      const logDir = `${dir}/logs`;
      await until("chatty", (s) => s.status === "exited", "chatty to end");
      const base = `${logDir}/chatty.stdout.log`;
      assert.ok(exists(base), "current file");
      assert.ok(exists(`${base}.1`), "first rotated file");
      assert.ok(exists(`${base}.2`), "second rotated file");
      assert.ok(!exists(`${base}.3`), "no third rotated file with keep: 2");
      for (const path of [base, `${base}.1`, `${base}.2`]) {
        const size = Deno.statSync(path).size;
        assert.ok(size > 0 && size <= 1048, `${path} holds 1 to 1048 bytes, got ${size}`);
      }
      const tail = await sup.logs("chatty", 7, "stdout");
      assert.deepEqual(tail.stdout, [
        "burst 29 line 4 xxxxxxxxxxxxxxxxxxxx",
        "burst 29 line 5 xxxxxxxxxxxxxxxxxxxx",
        ...[1, 2, 3, 4, 5].map((j) => `burst 30 line ${j} xxxxxxxxxxxxxxxxxxxx`),
      ]);
    },
  );
});

Deno.test("Supervisor answers conflicts and unknown names with typed errors", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "up", cmd: "sleep", args: [String(secs)] },
      { name: "idle", cmd: "sleep", args: [String(secs)], autostart: false },
    ],
    async ({ sup, until }) => {
      await until("up", (s) => s.status === "running", "up running");
      assert.deepEqual(sup.status("idle").status, "stopped");
      await assertRejectsWith(() => sup.start("up"), ConflictError, "already running");
      await assertRejectsWith(() => sup.stop("idle"), ConflictError, "not running");
      await assertRejectsWith(() => sup.start("nope"), NotFoundError, `Unknown service "nope"`);
      await assertRejectsWith(() => sup.stop("nope"), NotFoundError);
      await assertRejectsWith(() => sup.restart("nope"), NotFoundError);
      await assertRejectsWith(() => sup.logs("nope", 5, "both"), NotFoundError);
      assert.equal((await processesMatching(String(secs))).length, 1, "still one copy of up");
    },
  );
});

Deno.test("Supervisor.restart() replaces the process and counts the restart", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{ name: "svc", cmd: "sleep", args: [String(secs)] }],
    async ({ sup, until }) => {
      const before = await until("svc", (s) => s.status === "running", "svc running");
      const after = await sup.restart("svc");
      assert.ok(after.pid !== null && after.pid !== before.pid, "a new pid");
      assert.deepEqual(after.restarts, 1);
      assert.deepEqual(after.crash_count, 0, "a requested restart is no crash");
      assert.ok(after.last_restart !== null, "last_restart is set");
      assert.ok(!(await processAlive(before.pid!)), "the old process is gone");
      assert.deepEqual(await processesMatching(String(secs)), [after.pid!]);
    },
  );
});

Deno.test("Supervisor marks a service with a missing command failed, and start() throws SpawnError", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "ghost", cmd: "edgevisor-no-such-command-xyz" },
      { name: "fine", cmd: "sleep", args: [String(secs)] },
    ],
    async ({ sup, until }) => {
      const s = await until("ghost", (s) => s.status === "failed", "ghost failed");
      assert.ok(s.reason?.includes("not found"), `reason: ${s.reason}`);
      await until("fine", (s) => s.status === "running", "the other service still runs");
      await assertRejectsWith(() => sup.start("ghost"), SpawnError, "not found");
      assert.deepEqual(sup.status("ghost").status, "failed");
    },
  );
});

Deno.test("Supervisor.shutdown() stops every service in reverse order", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "first", cmd: "sleep", args: [String(secs)] },
      { name: "second", ...sh(`sleep ${secs} & wait`) },
      { name: "third", cmd: "sleep", args: [String(secs)] },
    ],
    async ({ sup, events, until }) => {
      const pids: number[] = [];
      for (const name of ["first", "second", "third"]) {
        pids.push((await until(name, (s) => s.status === "running", `${name} running`)).pid!);
      }
      await waitFor(async () => (await groupMembers(pids[1]!)).length === 2, {
        message: "sh and its sleep in the group of second",
      });
      await sup.shutdown();
      const stopping = events.filter((e) => e.to === "stopping").map((e) => e.service);
      assert.deepEqual(stopping, ["third", "second", "first"]);
      for (const name of ["first", "second", "third"]) {
        assert.deepEqual(sup.status(name).status, "stopped");
      }
      for (const pid of pids) assert.deepEqual(await groupMembers(pid), []);
      assert.deepEqual(await processesMatching(String(secs)), []);
    },
  );
});

Deno.test("Supervisor keeps a new process starting for start_grace, then running", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "slow", cmd: "sleep", args: [String(secs)], start_grace: 0.3, autostart: false },
      {
        name: "early",
        ...sh("exit 2"),
        start_grace: 5,
        restart_policy: "on-failure",
        max_restarts: 0,
      },
    ],
    async ({ sup, events, until }) => {
      const t0 = performance.now();
      await sup.start("slow");
      assert.equal(sup.status("slow").status, "starting");
      await until("slow", (s) => s.status === "running", "slow running");
      assertAtLeast(performance.now() - t0, 290, "time in starting");
      // A process that dies within its grace period never counts as running.
      const early = await until("early", (s) => s.status === "failed", "early failed");
      assert.equal(early.last_exit?.code, 2);
      const path = events.filter((e) => e.service === "early").map((e) => e.to);
      assert.deepEqual(path, ["starting", "failed"]);
    },
  );
});

Deno.test("Supervisor reports a missing working_dir as such", async () => {
  await withSupervisor(
    [{ name: "lost", cmd: "true", working_dir: "/nonexistent-edgevisor-dir" }],
    async ({ until }) => {
      const s = await until("lost", (s) => s.status === "failed", "lost failed");
      assert.match(
        s.reason ?? "",
        /working directory "\/nonexistent-edgevisor-dir" does not exist/,
      );
    },
  );
});

Deno.test("Supervisor spawns each service as the leader of a session and group of its own", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{ name: "svc", cmd: "sleep", args: [String(secs)] }],
    async ({ until }) => {
      const s = await until("svc", (s) => s.status === "running", "svc running");
      const pid = s.pid!;
      // setsid makes the session, then execs the command in place: wait for both.
      await waitFor(async () => {
        const row = parseProcStat(await Deno.readTextFile(`/proc/${pid}/stat`));
        return row?.pgrp === pid && row.session === pid &&
          (await Deno.readTextFile(`/proc/${pid}/comm`)).trim() === "sleep";
      }, { message: "the service's pid is sleep, leading its own group and session" });
      assert.deepEqual(
        await processesMatching(String(secs)),
        [pid],
        "one process, no wrapper left",
      );
    },
  );
});

Deno.test("Supervisor.stop() right after start() ends the new process", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [{ name: "svc", cmd: "sleep", args: [String(secs)], autostart: false, stop_timeout: 5 }],
    async ({ sup, until }) => {
      for (let i = 0; i < 5; i++) {
        const started = await sup.start("svc");
        assert.ok(started.pid !== null);
        await sup.stop("svc");
        const stopped = await until(
          "svc",
          (s) => s.status === "stopped",
          `stopped after start ${i + 1}`,
        );
        assert.equal(stopped.last_exit?.signal, "SIGTERM", `start ${i + 1}: ended by stop_signal`);
        assert.ok(!(await processAlive(started.pid!)), `process ${i + 1} is gone`);
      }
      assert.deepEqual(await processesMatching(String(secs)), []);
    },
  );
});

Deno.test("Supervisor reports a command that is not executable as such", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/script.sh`, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
    await withSupervisor(
      [
        { name: "plain", cmd: "./script.sh", working_dir: dir },
        { name: "dir", cmd: dir },
      ],
      async ({ sup, until }) => {
        const s = await until("plain", (s) => s.status === "failed", "plain failed");
        assert.match(s.reason ?? "", /permission denied running "\.\/script\.sh"/);
        await until("dir", (s) => s.status === "failed", "dir failed");
        await assertRejectsWith(() => sup.start("plain"), SpawnError, "permission denied");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
