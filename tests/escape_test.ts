/**
 * No process of a service escapes its end: a child that made a session of
 * its own and ignores SIGTERM, a daemon that double-forks and closes its
 * output, a process that keeps the output pipes. With cgroups and without
 * (`--no-cgroup`), through a stop, a restart, edgevisor's SIGTERM, a kill -9
 * of edgevisor, and the recovery by the next edgevisor; and no descriptor of
 * the orchestrator outlives a run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SpawnError } from "../src/errors.ts";
import { parseRegistry } from "../src/registry/load.ts";
import { openInstance } from "../src/supervisor/cgroup.ts";
import { Supervisor } from "../src/supervisor/supervisor.ts";
import {
  api,
  assertRejectsWith,
  childrenOf,
  FAST,
  killMatching,
  processesMatching,
  removeDir,
  serviceStatus,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** Whether cgroups can be used here (the instance made to find out is removed at once). */
const cgroupUsable = (() => {
  const opened = openInstance("/bin/sh");
  if (!("instance" in opened)) return false;
  opened.instance.remove();
  return true;
})();

/** The two ways of holding services, with the log line that says which one is used. */
const MODES = [
  {
    name: "cgroups",
    args: [] as string[],
    says: /services run in cgroups under/,
    ignore: !cgroupUsable,
  },
  {
    name: "--no-cgroup",
    args: ["--no-cgroup"],
    says: /cgroups not used .*adopted orphans/,
    ignore: false,
  },
];

/** `sh -c` whose child leaves the session, ignores SIGTERM and keeps the output; the main process sleeps `main`. */
function escaper(escapee: number, main: number) {
  return sh(`setsid sh -c 'trap "" TERM HUP; exec sleep ${escapee}' & exec sleep ${main}`);
}

/** A classic daemon: double fork, a session of its own, output closed; the main process exits 0 at once. */
function daemon(token: number) {
  return sh(`(setsid sh -c 'exec >/dev/null 2>&1 </dev/null; exec sleep ${token}' &); exit 0`);
}

/** Live processes whose command line holds each of `tokens`, in total. */
async function count(...tokens: number[]): Promise<number> {
  let n = 0;
  for (const token of tokens) n += (await processesMatching(String(token))).length;
  return n;
}

/**
 * Wait until exactly `n` live processes hold `token` (a process in the middle of an exec can
 * show no command line for a moment, so a count right after a start is not final).
 */
function untilCount(token: number, n: number, message: string): Promise<true> {
  return waitFor(async () => (await count(token)) === n, { message });
}

/** Wait until no process holds any of `tokens`. */
function allGone(what: string, ...tokens: number[]): Promise<true> {
  return waitFor(async () => (await count(...tokens)) === 0, { message: `${what} to be gone` });
}

/** Whether the pid record of service `name` lists processes that left its group. */
function escapeesRecorded(stateDir: string, name: string): boolean {
  try {
    return JSON.parse(Deno.readTextFileSync(`${stateDir}/${name}.pid.json`)).escapees?.length > 0;
  } catch {
    return false;
  }
}

async function post(url: string, path: string): Promise<void> {
  const answer = await api(url, "POST", path);
  assert.equal(answer.status, 200, `POST ${path}: ${JSON.stringify(answer.body)}`);
}

for (const mode of MODES) {
  Deno.test({
    name: `edgevisor run (${mode.name}) leaves no escaped process after stop, restart and SIGTERM`,
    ignore: mode.ignore,
    async fn() {
      const [a, b, c, d, e] = [0, 0, 0, 0, 0].map(() => uniqueSeconds()) as [
        number,
        number,
        number,
        number,
        number,
      ];
      try {
        await using orch = await startOrchestrator({
          registry: {
            services: [
              { ...FAST, name: "esc", ...escaper(a, b) },
              { ...FAST, name: "daemon", ...daemon(c), restart_policy: "always" },
              { ...FAST, name: "holder", ...sh(`setsid sleep ${d} & exec sleep ${e}`) },
            ],
          },
          extraArgs: mode.args,
        });
        assert.match(orch.stderr(), mode.says);
        await waitFor(async () => (await count(a)) === 1 && (await count(d)) === 1, {
          message: "the escapee and the pipe holder",
        });
        // Several cycles of the daemon: each one's leftover is ended with its run.
        await waitFor(async () => (await serviceStatus(orch.url, "daemon")).restarts >= 4, {
          message: "4 restarts of the daemon",
        });
        assert.ok((await count(c)) <= 1, "daemons never pile up");

        await post(orch.url, "/api/services/stop/esc");
        assert.equal(await count(a, b), 0, "stopping esc ended its escapee");
        await post(orch.url, "/api/services/restart/holder");
        await waitFor(async () => (await count(d)) === 1 && (await count(e)) === 1, {
          message: "one pipe holder after the restart",
        });
        await post(orch.url, "/api/services/stop/daemon");
        assert.equal(await count(c), 0, "stopping the daemon service ended the daemon");
        await post(orch.url, "/api/services/start/esc");
        await waitFor(async () => (await count(a)) === 1, { message: "a new escapee" });

        assert.equal((await orch.stop()).code, 0);
        assert.equal(await count(a, b, c, d, e), 0, "SIGTERM of edgevisor ended everything");
        if (mode.name === "cgroups") {
          assert.doesNotMatch(orch.stderr(), /cannot remove the cgroup/);
        }
      } finally {
        for (const token of [a, b, c, d, e]) await killMatching(String(token));
      }
    },
  });

  Deno.test({
    name:
      `edgevisor run (${mode.name}): a kill -9 ends every service, chatty or quiet; the next run starts one copy of each`,
    ignore: mode.ignore,
    async fn() {
      const [chatty, quiet, a, b] = [0, 0, 0, 0].map(() => uniqueSeconds()) as [
        number,
        number,
        number,
        number,
      ];
      const dir = await tempDir();
      try {
        const registry = {
          services: [
            {
              ...FAST,
              name: "chatty",
              ...sh(`: ${chatty}; while :; do echo tick; sleep 0.05; done`),
            },
            { ...FAST, name: "quiet", cmd: "sleep", args: [String(quiet)] },
            { ...FAST, name: "esc", ...escaper(a, b) },
          ],
        };
        await using first = await startOrchestrator({ registry, dir, extraArgs: mode.args });
        await waitFor(async () => (await count(chatty, quiet, a, b)) === 4, {
          message: "every service and the escapee",
        });
        if (mode.name === "--no-cgroup") {
          // Without a cgroup, an escapee is ended with the rest once edgevisor has seen it.
          await waitFor(() => escapeesRecorded(first.stateDir, "esc"), {
            message: "the escapee of esc seen",
          });
        }
        await first.kill();
        await allGone("every service of the killed edgevisor", chatty, quiet, a, b);

        await using second = await startOrchestrator({
          registry: first.registryPath,
          dir,
          extraArgs: mode.args,
        });
        // Never two copies of anything, until each service runs again.
        await waitFor(async () => {
          const counts = await Promise.all([chatty, quiet, a, b].map((t) => count(t)));
          assert.ok(counts.every((n) => n <= 1), `no duplicate: ${counts}`);
          return counts.every((n) => n === 1);
        }, { message: "one fresh copy of each" });
        assert.equal((await second.stop()).code, 0);
        assert.equal(await count(chatty, quiet, a, b), 0);
      } finally {
        for (const token of [chatty, quiet, a, b]) await killMatching(String(token));
        await removeDir(dir);
      }
    },
  });

  Deno.test({
    name:
      `edgevisor run (${mode.name}) ends what a killed run left before starting, answering 409 meanwhile`,
    ignore: mode.ignore,
    async fn() {
      const [stubborn, a, b] = [0, 0, 0].map(() => uniqueSeconds()) as [number, number, number];
      const dir = await tempDir();
      try {
        const registry = {
          services: [
            {
              ...FAST,
              name: "stub",
              ...sh(`trap "" TERM; exec sleep ${stubborn}`),
              // Long enough that the second run is up while its leftover still ignores SIGTERM.
              stop_timeout: 10,
            },
            { ...FAST, name: "esc", ...escaper(a, b), stop_timeout: 3 },
          ],
        };
        await using first = await startOrchestrator({ registry, dir, extraArgs: mode.args });
        await waitFor(async () => (await count(stubborn, a, b)) === 3, { message: "services" });
        if (mode.name === "--no-cgroup") {
          // Without a cgroup, the next run knows of an escapee once this one has seen it.
          await waitFor(() => escapeesRecorded(first.stateDir, "esc"), {
            message: "the escapee of esc seen",
          });
        }
        // As if the watchdog had failed: stopped, then killed after edgevisor.
        const watchdog = await waitFor(async () => {
          const mine = new Set(await childrenOf(first.pid));
          return (await processesMatching("edgevisor-watchdog")).find((pid) => mine.has(pid));
        }, { message: "the watchdog" });
        Deno.kill(watchdog, "SIGSTOP");
        await first.kill();
        Deno.kill(watchdog, "SIGKILL");
        assert.equal(await count(stubborn, a), 2, "the leftovers outlive the kill");

        await using second = await startOrchestrator({
          registry: first.registryPath,
          dir,
          extraArgs: mode.args,
        });
        const refused = await api(second.url, "POST", "/api/services/start/stub");
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.match(
          refused.body.error,
          /^Cannot start service "stub": its previous copy \(pid \d+, left by an earlier run\) is still being ended$/,
        );
        const meanwhile = await serviceStatus(second.url, "stub");
        assert.equal(meanwhile.status, "stopped");
        assert.match(meanwhile.reason, /left by an earlier run\) is still being ended/);

        await waitFor(async () => (await serviceStatus(second.url, "stub")).status === "running", {
          message: "stub started once its leftover is gone",
          timeoutMs: 30_000,
        });
        await waitFor(async () => (await serviceStatus(second.url, "esc")).status === "running", {
          message: "esc started again",
        });
        await untilCount(stubborn, 1, "one copy of stub");
        await untilCount(a, 1, "one escapee: the new one");
        assert.match(second.stderr(), /left by a previous run/);
        assert.equal((await second.stop(30_000)).code, 0);
      } finally {
        for (const token of [stubborn, a, b]) await killMatching(String(token));
        await removeDir(dir);
      }
    },
  });

  Deno.test({
    name:
      `edgevisor run (${mode.name}): 30 restarts of a service whose escapee holds its output leak no descriptor`,
    ignore: mode.ignore,
    async fn() {
      const [d, e] = [uniqueSeconds(), uniqueSeconds()];
      try {
        await using orch = await startOrchestrator({
          registry: {
            services: [{ ...FAST, name: "holder", ...sh(`setsid sleep ${d} & exec sleep ${e}`) }],
          },
          extraArgs: mode.args,
        });
        await waitFor(async () => (await count(d)) === 1, { message: "the pipe holder" });
        const fds = () => [...Deno.readDirSync(`/proc/${orch.pid}/fd`)].length;
        const before = fds();
        for (let i = 0; i < 30; i++) await post(orch.url, "/api/services/restart/holder");
        await waitFor(async () => (await count(d)) === 1, { message: "one pipe holder" });
        await waitFor(() => fds() <= before + 1, {
          message: `the descriptors of edgevisor back to ${before} (+1 for a connection)`,
        });
        assert.equal((await orch.stop()).code, 0);
      } finally {
        await killMatching(String(d));
        await killMatching(String(e));
      }
    },
  });
}

Deno.test("Supervisor.start() fails and kills the process when its pid cannot be recorded", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  const stateDir = `${dir}/state`;
  const lines: string[] = [];
  const sup = new Supervisor(
    parseRegistry(
      JSON.stringify({
        services: [{ ...FAST, name: "web", cmd: "sleep", args: [String(n)], autostart: false }],
      }),
      { env: {} },
    ),
    { logDir: `${dir}/logs`, stateDir, log: (line) => lines.push(line) },
  );
  try {
    await sup.boot();
    // The state directory becomes a file: no pid can be written there (root or not).
    await Deno.remove(stateDir, { recursive: true });
    await Deno.writeTextFile(stateDir, "");
    await assertRejectsWith(
      () => sup.start("web"),
      SpawnError,
      `Cannot start service "web": cannot record its pid in "${stateDir}": Not a directory`,
    );
    const status = sup.status("web");
    assert.equal(status.status, "failed");
    assert.match(status.reason ?? "", /cannot record its pid/);
    await waitFor(async () => (await count(n)) === 0, { message: "the unrecorded copy killed" });

    await Deno.remove(stateDir);
    await Deno.mkdir(stateDir);
    await waitFor(async () => {
      try {
        await sup.start("web");
        return true;
      } catch (err) {
        // While the killed copy is being ended, a start is refused.
        assert.match((err as Error).message, /still being ended/);
        return false;
      }
    }, { message: "a start once the state directory is back" });
    assert.equal(sup.status("web").status, "running");
    await untilCount(n, 1, "one copy of web");
  } finally {
    await sup.shutdown();
    await killMatching(String(n));
    await removeDir(dir);
  }
});

Deno.test({
  name: "Supervisor with cgroups counts the CPU of a process that left the group",
  ignore: !cgroupUsable,
  async fn() {
    const n = uniqueSeconds();
    const dir = await tempDir();
    const sup = new Supervisor(
      parseRegistry(
        JSON.stringify({
          metrics_interval: 0,
          services: [{
            ...FAST,
            name: "busy",
            ...sh(`setsid sh -c ': ${n}; while :; do :; done' & exec sleep ${n}`),
          }],
        }),
        { env: {} },
      ),
      { logDir: `${dir}/logs`, stateDir: `${dir}/state`, log: () => {} },
    );
    try {
      await sup.boot();
      await waitFor(() => sup.status("busy").status === "running", { message: "busy running" });
      await waitFor(() => {
        sup.sampleMetrics();
        const s = sup.status("busy");
        return (s.cpu_percent ?? 0) > 20 && s.cpu_seconds > 0 && s.memory_rss_bytes !== null;
      }, { intervalMs: 200, message: "the busy escapee's CPU in the service's figures" });
    } finally {
      await sup.shutdown();
      await killMatching(String(n));
      await removeDir(dir);
    }
  },
});

Deno.test({
  name: "Supervisor removes a service's cgroup with the service, and its own at shutdown",
  ignore: !cgroupUsable,
  async fn() {
    const n = uniqueSeconds();
    const dir = await tempDir();
    const registry = (names: string[]) =>
      parseRegistry(
        JSON.stringify({
          services: names.map((name) => ({ ...FAST, name, cmd: "sleep", args: [String(n)] })),
        }),
        { env: {} },
      );
    const lines: string[] = [];
    const sup = new Supervisor(registry(["keep", "drop"]), {
      logDir: `${dir}/logs`,
      stateDir: `${dir}/state`,
      log: (line) => lines.push(line),
    });
    try {
      await sup.boot();
      const instance = /services run in cgroups under "([^"]+)"/.exec(lines.join("\n"))?.[1];
      assert.ok(instance, lines.join("\n"));
      await waitFor(() => sup.list().every((s) => s.status === "running"), { message: "running" });
      const cgroupOf = (name: string) => `${instance}/svc-${name}`;
      assert.ok(Deno.statSync(cgroupOf("drop")).isDirectory);
      await sup.applyRegistry(registry(["keep"]));
      assert.throws(() => Deno.statSync(cgroupOf("drop")), Deno.errors.NotFound);
      assert.ok(Deno.statSync(cgroupOf("keep")).isDirectory);
      await sup.shutdown();
      assert.throws(() => Deno.statSync(instance), Deno.errors.NotFound);
      assert.equal(await count(n), 0);
    } finally {
      await sup.shutdown();
      await killMatching(String(n));
      await removeDir(dir);
    }
  },
});

Deno.test({
  name:
    "Supervisor with cgroups: a hook whose child keeps its output does not hang, and the child ends with the service",
  ignore: !cgroupUsable,
  async fn() {
    const [n, m] = [uniqueSeconds(), uniqueSeconds()];
    const dir = await tempDir();
    const sup = new Supervisor(
      parseRegistry(
        JSON.stringify({
          services: [{
            ...FAST,
            name: "hooked",
            cmd: "sleep",
            args: [String(m)],
            // The hook ends once its child has left its session (and holds the output).
            pre_start: {
              cmd: "sh",
              args: [
                "-c",
                `setsid sh -c 'echo $$$$ > ${dir}/escaped; exec sleep ${n}' & ` +
                `until [ -s ${dir}/escaped ]; do :; done`,
              ],
            },
            autostart: false,
          }],
        }),
        { env: {} },
      ),
      { logDir: `${dir}/logs`, stateDir: `${dir}/state`, log: () => {} },
    );
    try {
      await sup.boot();
      await sup.start("hooked");
      await waitFor(() => sup.status("hooked").status === "running", { message: "running" });
      await untilCount(n, 1, "the hook's child lives on, in the service's cgroup");
      await sup.stop("hooked");
      assert.equal(await count(n, m), 0, "it ended with the service");
    } finally {
      await sup.shutdown();
      await killMatching(String(n));
      await killMatching(String(m));
      await removeDir(dir);
    }
  },
});
