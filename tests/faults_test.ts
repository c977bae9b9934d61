/**
 * Faults the orchestrator must survive: a service flooding its output, a
 * hundred services crashing at once, a service whose hundred children ignore
 * SIGTERM, a full log directory, and registries that cannot be read, are
 * empty, huge or invalid. Each measures what it claims and prints the
 * figures; the bounds asserted are generous, to hold on a loaded CI machine.
 *
 * The other faults are covered elsewhere: a taken API port and an invalid
 * registry in `orchestrator_test.ts` (with a SIGKILL of the orchestrator and
 * a second start), NATS going away while services crash in `nats_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  assertBelow,
  FAST,
  freePort,
  groupMembers,
  killMatching,
  processesMatching,
  removeDir,
  rssKiB,
  runArgs,
  runMain,
  serviceStatus,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

/** CPU time of `pid` so far (utime + stime), in seconds. */
function cpuSeconds(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/** Latencies of `GET path` in milliseconds, polled until `until()` is true (at least once). */
async function pollLatency(
  url: string,
  path: string,
  until: () => boolean,
): Promise<{ count: number; p50: number; max: number }> {
  const times: number[] = [];
  do {
    const t0 = performance.now();
    const answer = await api(url, "GET", path);
    times.push(performance.now() - t0);
    assert.equal(answer.status, 200, `GET ${path}: ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  } while (!until());
  times.sort((a, b) => a - b);
  return {
    count: times.length,
    p50: Math.round(times[Math.floor(times.length / 2)]!),
    max: Math.round(times.at(-1)!),
  };
}

/** Total size in bytes of the files in `dir`; a file renamed away by a rotation meanwhile counts 0. */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile) continue;
    try {
      total += Deno.statSync(`${dir}/${entry.name}`).size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return total;
}

Deno.test("faults: a service flooding stdout and stderr leaves the API, memory, disk and a neighbour alone", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [
        {
          ...FAST,
          name: "flood",
          ...sh("yes edgevisor-flood-out & yes edgevisor-flood-err >&2; wait"),
          log: { max_size_mb: 1, keep: 1 },
        },
        {
          ...FAST,
          name: "neighbour",
          ...sh("while :; do echo tick; sleep 0.05; done"),
        },
      ],
    },
  });
  const flood = await waitFor(async () => {
    const s = await serviceStatus(orch.url, "flood");
    return s.status === "running" && s;
  }, { message: "flood running" });
  const neighbour = await serviceStatus(orch.url, "neighbour");
  await waitFor(() => dirBytes(orch.logDir) > 2 * 1024 * 1024, { message: "2 MiB of flood" });

  // The heap settles in the first second or two of flood: RSS is compared after that.
  const t0 = performance.now();
  const warm = await pollLatency(
    orch.url,
    "/api/services/list",
    () => performance.now() - t0 > 1500,
  );
  const rssBefore = (await rssKiB(orch.pid))!;
  const neighbourLog = `${orch.logDir}/neighbour.stdout.log`;
  const ticksBefore = Deno.statSync(neighbourLog).size;
  const t1 = performance.now();
  const latency = await pollLatency(
    orch.url,
    "/api/services/list",
    () => performance.now() - t1 > 3000,
  );
  const rssAfter = (await rssKiB(orch.pid))!;
  latency.max = Math.max(latency.max, warm.max);
  const ticksAfter = Deno.statSync(neighbourLog).size;
  const disk = dirBytes(orch.logDir);
  console.log(
    `flood: GET /api/services/list x${latency.count}: p50 ${latency.p50} ms, max ${latency.max} ms; ` +
      `RSS ${rssBefore} -> ${rssAfter} KiB; log dir ${(disk / 1024 / 1024).toFixed(2)} MiB; ` +
      `neighbour wrote ${ticksAfter - ticksBefore} bytes in 3 s`,
  );
  assertBelow(latency.max, 2000, "slowest API answer (ms) during the flood");
  assertBelow(rssAfter - rssBefore, 24 * 1024, "RSS growth (KiB) over 3 s of flood, after 1.5 s");
  // Two streams of flood (current + 1 rotated, 1 MiB each) plus the neighbour's few KiB.
  assertBelow(disk, 4 * 1024 * 1024 + 256 * 1024, "bytes in the log directory");
  assert.ok(ticksAfter - ticksBefore >= 5 * 5, "the neighbour's lines keep arriving");
  const s = await serviceStatus(orch.url, "neighbour");
  assert.equal(s.status, "running");
  assert.equal(s.pid, neighbour.pid, "the neighbour was never restarted");
  assert.equal((await serviceStatus(orch.url, "flood")).pid, flood.pid);
});

Deno.test("faults: 100 services crashing at once all reach cooldown; CPU stays low and the API answers", async () => {
  const services = Array.from({ length: 100 }, (_, i) => ({
    ...FAST,
    name: `crash${i}`,
    cmd: "sh",
    args: ["-c", "exit 3"],
    restart_policy: "always",
    max_restarts: 1000,
    crash_loop: { max_crashes: 3, window: 60, cooldown: 60 },
  }));
  await using orch = await startOrchestrator({ registry: { services } });
  const cpu0 = cpuSeconds(orch.pid);
  const t0 = performance.now();
  let states: Record<string, number> = {};
  const allCooling = async () => {
    const list = (await api(orch.url, "GET", "/api/services/list")).body.services as {
      status: string;
      crash_count: number;
    }[];
    states = {};
    for (const s of list) states[s.status] = (states[s.status] ?? 0) + 1;
    return list.length === 100 && list.every((s) => s.status === "cooldown" && s.crash_count >= 3);
  };
  let cooling = false;
  const untilCooling = async () => {
    try {
      await waitFor(allCooling, { timeoutMs: 30_000, message: "every service in cooldown" });
    } catch (error) {
      throw new Error(`${(error as Error).message}; states ${JSON.stringify(states)}`);
    } finally {
      cooling = true;
    }
  };
  // The API is polled all along, while the services crash.
  const [crashing] = await Promise.all([
    pollLatency(orch.url, "/api/health", () => cooling),
    untilCooling(),
  ]);
  const crashSeconds = (performance.now() - t0) / 1000;
  const crashCpu = cpuSeconds(orch.pid) - cpu0;

  // In cooldown: nothing to do but answer the API and sample metrics.
  const cpu1 = cpuSeconds(orch.pid);
  const t1 = performance.now();
  const latency = await pollLatency(
    orch.url,
    "/api/services/list",
    () => performance.now() - t1 > 3000,
  );
  const idleSeconds = (performance.now() - t1) / 1000;
  const idleCpu = cpuSeconds(orch.pid) - cpu1;
  assert.ok(await allCooling(), `still all in cooldown: ${JSON.stringify(states)}`);
  console.log(
    `100 crashing services: all in cooldown after ${crashSeconds.toFixed(1)} s ` +
      `(orchestrator CPU ${(100 * crashCpu / crashSeconds).toFixed(0)}% of one core meanwhile); ` +
      `(GET /api/health x${crashing.count}: p50 ${crashing.p50} ms, max ${crashing.max} ms); ` +
      `then ${(100 * idleCpu / idleSeconds).toFixed(1)}% of one core while polling the list ` +
      `x${latency.count}: p50 ${latency.p50} ms, max ${latency.max} ms`,
  );
  assertBelow(crashing.max, 2000, "slowest GET /api/health (ms) while crashing");
  assertBelow(latency.max, 2000, "slowest GET /api/services/list (ms) in cooldown");
  // Polling the list of 100 services every 10 ms is the only load left.
  assertBelow(idleCpu / idleSeconds, 0.6, "orchestrator CPU share of one core in cooldown");
  assertBelow(crashCpu / crashSeconds, 1.5, "orchestrator CPU share while crashing");
});

Deno.test("faults: stopping a service whose 100 children ignore SIGTERM leaves no process behind", async () => {
  const n = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "forker",
        // The loop runs in a subshell that exits: its 100 sleeps are orphans in the group.
        ...sh(`trap '' TERM; seq 100 | while read x; do sleep ${n} & done; exec sleep ${n}`),
        stop_timeout: 0.5,
      }],
    },
  });
  try {
    const s = await waitFor(async () => {
      const s = await serviceStatus(orch.url, "forker");
      return s.status === "running" && s;
    }, { message: "forker running" });
    await waitFor(async () => (await groupMembers(s.pid)).length === 101, {
      message: "the leader and its 100 sleeps",
    });
    const t0 = performance.now();
    const answer = await api(orch.url, "POST", "/api/services/stop/forker");
    const stopMs = performance.now() - t0;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, "stopped");
    // Checked as soon as stop answers: it answers only once the group is gone.
    assert.deepEqual(await groupMembers(s.pid), [], "live members of the group after stop");
    assert.deepEqual(await processesMatching(String(n)), [], "sleeps left anywhere");
    console.log(`stop of 101 processes ignoring SIGTERM: ${stopMs.toFixed(0)} ms`);
    assertBelow(stopMs, 5000, "stop time (ms)");
  } finally {
    await killMatching(String(n));
  }
});

/** Run a shell command; whether it succeeded. */
async function run(cmd: string, ...args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  return out.success;
}

Deno.test("faults: a full log directory is reported once; supervision goes on and logging resumes", async () => {
  const dir = await tempDir();
  const logDir = `${dir}/logs`;
  await Deno.mkdir(logDir);
  // A 256 KiB tmpfs where mounting is allowed (root); else, once running, the directory
  // is moved away and a file takes its place: the next rotation cannot reopen the log.
  const tmpfs = await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", logDir);
  try {
    await using orch = await startOrchestrator({
      dir,
      registry: {
        services: [
          {
            ...FAST,
            name: "writer",
            log: { max_size_mb: tmpfs ? 1 : 0.1, keep: 1 },
            ...sh(
              "while :; do date +%s%N; head -c 2000 /dev/zero | tr '\\\\0' x; echo; sleep 0.01; done",
            ),
          },
          { ...FAST, name: "crasher", ...sh("sleep 0.2; exit 1"), max_restarts: 1000 },
        ],
      },
    });
    if (!tmpfs) {
      await Deno.rename(logDir, `${logDir}.moved`);
      await Deno.writeTextFile(logDir, "not a directory\n");
    }
    const report = /Cannot write log file "[^"]*writer\.stdout\.log": [^\n]*/g;
    await waitFor(() => (orch.stderr().match(report) ?? []).length > 0, {
      message: "a report of the full log directory",
    });
    const crashes = (await serviceStatus(orch.url, "crasher")).crash_count;
    await waitFor(
      async () => (await serviceStatus(orch.url, "crasher")).crash_count >= crashes + 5,
      {
        message: "crasher restarted 5 more times while the disk is full",
      },
    );
    const writer = await serviceStatus(orch.url, "writer");
    assert.equal(writer.status, "running");
    assert.equal(writer.restarts, 0, "the writer is not disturbed by the full disk");
    const reports = orch.stderr().match(report) ?? [];
    assert.equal(reports.length, 1, `one report per interval:\n${orch.stderr()}`);
    console.log(`full log directory (${tmpfs ? "256 KiB tmpfs" : "a file"}): ${reports[0]}`);

    // Space returns.
    const path = `${logDir}/writer.stdout.log`;
    let before = 0;
    if (tmpfs) {
      before = Deno.statSync(path).size;
      assert.ok(await run("mount", "-o", "remount,size=8m", logDir), "remount with more space");
    } else {
      await Deno.remove(logDir);
    }
    await waitFor(() => {
      try {
        return Deno.statSync(path).size > before + 50_000;
      } catch {
        return false;
      }
    }, { message: "the writer's log to grow again" });
    assert.equal((await serviceStatus(orch.url, "writer")).restarts, 0);
    const status = await orch.stop();
    assert.equal(status.code, 0);
  } finally {
    if (tmpfs) await run("umount", "-l", logDir);
    await removeDir(dir);
  }
});

/** `edgevisor run` on `registry` (a path); returns the result and the time it took. */
async function runRegistry(dir: string, registry: string) {
  const t0 = performance.now();
  const r = await runMain(runArgs(registry, freePort(), dir), { timeoutMs: 15_000 });
  return { ...r, ms: performance.now() - t0 };
}

Deno.test("faults: a registry that is a directory, a FIFO or empty exits 2 with a clear message", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/registry.json`);
    await run("mkfifo", `${dir}/fifo.json`);
    await Deno.writeTextFile(`${dir}/empty.json`, "");
    await Deno.writeTextFile(`${dir}/blank.yaml`, "# nothing here\n");
    const cases: [string, RegExp][] = [
      ["registry.json", /cannot read file: it is a directory, not a file/],
      // Reading a FIFO without a writer would block for ever.
      ["fifo.json", /cannot read file: it is not a regular file/],
      ["empty.json", /registry is empty/],
      ["blank.yaml", /registry is empty/],
      ["missing.json", /cannot read file: No such file or directory/],
    ];
    for (const [file, message] of cases) {
      const r = await runRegistry(dir, `${dir}/${file}`);
      assert.equal(r.code, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message, file);
      assert.ok(r.stderr.includes(`${dir}/${file}`), `${file}: the message names the file`);
    }
  } finally {
    await removeDir(dir);
  }
});

Deno.test("faults: a registry of 10,000 services loads; with one mistake in it, exit 2 naming it", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  try {
    const services: Record<string, unknown>[] = Array.from({ length: 10_000 }, (_, i) => ({
      name: `s${i}`,
      cmd: "sleep",
      args: [String(n)],
      autostart: false,
    }));
    // Loads, answers the API, lists every service, and starts none.
    const t0 = performance.now();
    await using orch = await startOrchestrator({ dir, registry: { services } });
    const readyMs = performance.now() - t0;
    const t1 = performance.now();
    const list = await api(orch.url, "GET", "/api/services/list");
    const listMs = performance.now() - t1;
    assert.equal(list.body.services.length, 10_000);
    assert.equal((await serviceStatus(orch.url, "s9999")).status, "stopped");
    const rss = (await rssKiB(orch.pid))!;
    assert.equal((await orch.stop()).code, 0);
    console.log(
      `10,000 services: API up after ${readyMs.toFixed(0)} ms, list in ${listMs.toFixed(0)} ms, ` +
        `RSS ${(rss / 1024).toFixed(0)} MiB`,
    );

    services[9_999] = {
      name: "s9999",
      cmd: "sleep",
      args: [String(n)],
      restart_policy: "sometimes",
    };
    services[0]!.autostart = true;
    const path = await writeRegistry(dir, { services }, "invalid.json");
    const r = await runRegistry(dir, path);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /services\[9999\]\.restart_policy: expected one of/);
    console.log(`10,000 services with one mistake: exit 2 after ${r.ms.toFixed(0)} ms`);
    assert.deepEqual(await processesMatching(String(n)), [], "nothing started");
  } finally {
    await killMatching(String(n));
    await removeDir(dir);
  }
});
