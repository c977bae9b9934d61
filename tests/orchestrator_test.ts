/**
 * Process-level behaviour of `edgevisor run`: recovery after a SIGKILL of the
 * orchestrator, shutdown on SIGTERM, and the cases in which it must refuse
 * to start anything.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  assertBelow,
  childrenOf,
  exists,
  FAST,
  freePort,
  groupMembers,
  killMatching,
  processAlive,
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

/** Wait until every named service runs (with a pid not in `notPids`); their pids. */
async function allRunning(url: string, names: string[], notPids: number[] = []) {
  const pids: Record<string, number> = {};
  for (const name of names) {
    const s = await waitFor(async () => {
      const s = await serviceStatus(url, name);
      return s.status === "running" && !notPids.includes(s.pid) && s;
    }, { message: `${name} running` });
    pids[name] = s.pid;
  }
  return pids;
}

Deno.test("edgevisor run after a SIGKILL of the previous one ends the leftovers and runs one copy", async () => {
  const a = uniqueSeconds();
  const b = uniqueSeconds();
  const dir = await tempDir();
  try {
    const registry = {
      services: [
        { ...FAST, name: "alpha", cmd: "sleep", args: [String(a)] },
        { ...FAST, name: "beta", ...sh(`sleep ${b} & sleep ${b}; wait`) },
      ],
    };
    await using first = await startOrchestrator({ registry, dir });
    const old = await allRunning(first.url, ["alpha", "beta"]);
    await waitFor(async () => (await groupMembers(old.beta!)).length === 3, {
      message: "beta's sh and two sleeps",
    });
    const leftovers = [
      ...await processesMatching(String(a)),
      ...await processesMatching(String(b)),
    ];
    assert.equal(leftovers.length, 4);

    // As if its watchdog had failed (it ends the services when edgevisor dies): stopped, then killed.
    const mine = new Set(await childrenOf(first.pid));
    const watchdog = (await processesMatching("edgevisor-watchdog")).find((pid) => mine.has(pid))!;
    Deno.kill(watchdog, "SIGSTOP");
    await first.kill();
    Deno.kill(watchdog, "SIGKILL");
    for (const pid of leftovers) {
      assert.ok(await processAlive(pid), `service process ${pid} outlives the SIGKILL`);
    }
    // beta's leader dies too: its two sleeps are left in a group without a leader.
    Deno.kill(old.beta!, "SIGKILL");
    await waitFor(async () => !(await processAlive(old.beta!)), { message: "beta's leader gone" });
    assert.equal((await groupMembers(old.beta!)).length, 2, "beta's sleeps outlive their leader");

    await using second = await startOrchestrator({ registry: first.registryPath, dir });
    const fresh = await allRunning(second.url, ["alpha", "beta"], Object.values(old));
    // Leftovers are ended before anything starts: no waiting here.
    for (const pid of leftovers) {
      assert.ok(!(await processAlive(pid)), `leftover ${pid} is gone`);
    }
    assert.deepEqual(await processesMatching(String(a)), [fresh.alpha]);
    await waitFor(async () => (await groupMembers(fresh.beta!)).length === 3, {
      message: "the new beta's sh and two sleeps",
    });
    assert.deepEqual(
      await processesMatching(String(b)),
      (await groupMembers(fresh.beta!)).sort((x, y) => x - y),
      "every beta process belongs to the new group",
    );
    assert.match(second.stderr(), /left by a previous run/);
  } finally {
    await killMatching(String(a));
    await killMatching(String(b));
    await removeDir(dir);
  }
});

Deno.test("edgevisor run stops every service on SIGTERM, in reverse order, and exits 0", async () => {
  const n = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [
        { ...FAST, name: "first", cmd: "sleep", args: [String(n)] },
        { ...FAST, name: "tree", ...sh(`sleep ${n} & sleep ${n}; wait`) },
        {
          ...FAST,
          name: "stubborn",
          ...sh(`trap "" TERM; while true; do sleep 0.1; done`),
          stop_timeout: 0.5,
        },
      ],
    },
  });
  const pids = await allRunning(orch.url, ["first", "tree", "stubborn"]);
  await waitFor(async () => (await processesMatching(String(n))).length === 4, {
    message: "first's sleep, and tree's sh and two sleeps",
  });
  const t0 = performance.now();
  const status = await orch.stop();
  assertBelow(performance.now() - t0, 5000, "shutdown time");
  assert.equal(status.code, 0, orch.stderr());
  for (const pid of Object.values(pids)) {
    assert.deepEqual(await groupMembers(pid), [], `group ${pid} is gone at exit`);
  }
  assert.deepEqual(await processesMatching(String(n)), []);
  const stderr = orch.stderr();
  assert.match(stderr, /SIGTERM: stopping every service/);
  assert.match(stderr, /sending SIGKILL/, "stubborn needed the escalation");
  const stopping = [...stderr.matchAll(/service "(\w+)": \w+ -> stopping/g)].map((m) => m[1]);
  assert.deepEqual(stopping, ["stubborn", "tree", "first"]);
  assert.match(stderr.trimEnd(), /stopped$/);
});

Deno.test("edgevisor run reloads on SIGHUP (same process) and stops cleanly on SIGINT", async () => {
  await using orch = await startOrchestrator({
    registry: { services: [{ ...FAST, name: "svc", ...sh(`sleep ${uniqueSeconds()}`) }] },
  });
  const { svc } = await allRunning(orch.url, ["svc"]);
  Deno.kill(orch.pid, "SIGHUP");
  await waitFor(() => orch.stderr().includes("registry: 1 untouched"), { message: "reload" });
  assert.equal((await serviceStatus(orch.url, "svc")).pid, svc, "same process after SIGHUP");
  Deno.kill(orch.pid, "SIGINT");
  const status = await orch.status;
  assert.equal(status.code, 0, orch.stderr());
  assert.deepEqual(await groupMembers(svc!), []);
  assert.match(orch.stderr(), /SIGINT: stopping every service/);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`edgevisor run takes one ${signal} delivered twice (to the group and by deno task) as one`, async () => {
    await using orch = await startOrchestrator({
      registry: {
        services: [{
          ...FAST,
          name: "graceful",
          // Takes a second to exit 0 on SIGTERM, so the second signal comes mid-shutdown; a SIGKILL
          // would show in the log line of its exit.
          ...sh(`trap 'sleep 1; exit 0' TERM; while true; do sleep 0.1; done`),
          stop_timeout: 10,
        }],
      },
    });
    const { graceful } = await allRunning(orch.url, ["graceful"]);
    await waitFor(async () => (await groupMembers(graceful!)).length >= 2, {
      message: "the trap is set and the loop runs",
    });
    Deno.kill(orch.pid, signal);
    // The forwarded copy arrives once the first one is being handled.
    await waitFor(() => orch.stderr().includes(`${signal}: stopping every service`), {
      message: `first ${signal} handled`,
      intervalMs: 5,
    });
    Deno.kill(orch.pid, signal);
    const status = await orch.status;
    assert.equal(status.code, 0, orch.stderr());
    assert.doesNotMatch(orch.stderr(), /again: killing/);
    assert.match(
      orch.stderr(),
      /service "graceful": stopping -> stopped \(stopped by request \(exited with code 0\)\)/,
    );
  });
}

Deno.test("edgevisor run kills at once on a second SIGTERM", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "stubborn",
        ...sh(`trap "" TERM; while true; do sleep 0.1; done`),
        stop_timeout: 30,
      }],
    },
  });
  const { stubborn } = await allRunning(orch.url, ["stubborn"]);
  Deno.kill(orch.pid, "SIGTERM");
  await waitFor(async () => (await serviceStatus(orch.url, "stubborn")).status === "stopping", {
    message: "stubborn stopping",
  });
  // A second SIGTERM within 250 ms of the first is taken for a copy of it: this one comes later
  // than 250 ms after the first was handled (it was, since the service is stopping).
  const t1 = performance.now();
  await waitFor(() => performance.now() - t1 > 300, { message: "the duplicate window to pass" });
  const t0 = performance.now();
  Deno.kill(orch.pid, "SIGTERM");
  const status = await orch.status;
  assertBelow(performance.now() - t0, 5000, "exit after the second signal (stop_timeout is 30 s)");
  assert.equal(status.code, 1, "not a clean stop");
  assert.deepEqual(await groupMembers(stubborn!), []);
  assert.match(orch.stderr(), /SIGTERM again: killing every service now/);
});

/** A registry whose only valid service leaves a marker file when it starts. */
async function markerRegistry(dir: string, n: number, extra: unknown[] = []) {
  const marker = `${dir}/started`;
  const path = await writeRegistry(dir, {
    services: [
      { ...FAST, name: "marker", ...sh(`touch '${marker}'; exec sleep ${n}`) },
      ...extra,
    ],
  });
  return { marker, path };
}

Deno.test("edgevisor run with an invalid registry exits 2 and starts nothing", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  try {
    const { marker, path } = await markerRegistry(dir, n, [
      { name: "bad", cmd: "true", restart_policy: "sometimes" },
    ]);
    const r = await runMain(runArgs(path, freePort(), dir));
    assert.equal(r.code, 2, r.stderr);
    assert.ok(
      r.stderr.includes(
        `services[1].restart_policy: expected one of never, on-failure, always; got "sometimes"`,
      ),
      r.stderr,
    );
    assert.ok(!exists(marker), "no service started");
    assert.deepEqual(await processesMatching(String(n)), []);
  } finally {
    await killMatching(String(n));
    await removeDir(dir);
  }
});

Deno.test("edgevisor run on a taken port exits 1 with a clear message and starts nothing", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const { marker, path } = await markerRegistry(dir, n);
    const r = await runMain(runArgs(path, port, dir));
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*already in use`),
    );
    assert.ok(!exists(marker), "no service started");
    assert.deepEqual(await processesMatching(String(n)), []);
  } finally {
    listener.close();
    await killMatching(String(n));
    await removeDir(dir);
  }
});

Deno.test("edgevisor run refuses a state directory in use by a live orchestrator", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  try {
    const { path } = await markerRegistry(dir, n);
    await using first = await startOrchestrator({ registry: path, dir });
    await allRunning(first.url, ["marker"]);
    const r = await runMain([
      "run",
      "--registry",
      path,
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--log-dir",
      `${dir}/logs2`,
      "--state-dir",
      first.stateDir,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`another edgevisor \\(pid ${first.pid}\\)`));
    assert.equal((await processesMatching(String(n))).length, 1, "still one copy");
    assert.equal((await serviceStatus(first.url, "marker")).status, "running");
  } finally {
    await killMatching(String(n));
    await removeDir(dir);
  }
});

Deno.test("edgevisor run stays responsive with bounded memory while a service floods its output", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "flood",
        cmd: "yes",
        args: ["edgevisor-flood-line"],
        log: { max_size_mb: 1, keep: 1 },
      }],
    },
  });
  await allRunning(orch.url, ["flood"]);
  const base = `${orch.logDir}/flood.stdout.log`;
  await waitFor(() => exists(`${base}.1`), { message: "a first rotation" });
  // Poll the API for 3 s of flooding; compare memory after 1 s (warmed up) and at the end.
  let slowest = 0;
  let before: number | undefined;
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) {
    const t1 = performance.now();
    const health = await api(orch.url, "GET", "/api/health");
    slowest = Math.max(slowest, performance.now() - t1);
    assert.equal(health.status, 200);
    if (before === undefined && performance.now() - t0 >= 1000) before = await rssKiB(orch.pid);
  }
  const after = (await rssKiB(orch.pid))!;
  assert.ok(before !== undefined, "RSS sampled");
  // Unawaited writes would queue hundreds of MB per second here.
  assertBelow(after - before, 48 * 1024, "RSS growth in KiB over 2 s of flooding");
  assertBelow(slowest, 2000, "slowest GET /api/health in ms during the flood");
  // Files are looked at once the flood is over: a rotation renames and re-creates them.
  const status = await orch.stop();
  assert.equal(status.code, 0);
  assert.ok(!exists(`${base}.2`), "keep: 1 keeps a single rotated file");
  for (const path of [base, `${base}.1`]) {
    const size = Deno.statSync(path).size;
    assert.ok(size <= 1024 * 1024, `${path} is at most 1 MiB, got ${size}`);
  }
});

Deno.test("edgevisor run gives start-up memory back 2 s after start, unless --no-memory-trim", async () => {
  const registry = {
    services: [{ ...FAST, name: "idle", cmd: "sleep", args: [String(uniqueSeconds())] }],
  };
  await using kept = await startOrchestrator({ registry, extraArgs: ["--no-memory-trim"] });
  await waitFor(async () => (await serviceStatus(kept.url, "idle")).status === "running");
  // Started after `kept` was up: its trim, 2 s after its own start, comes after `kept`'s would have.
  await using trimmed = await startOrchestrator({ registry });
  await waitFor(
    () => /gave start-up memory back to the kernel: \d+\.\d MiB/.test(trimmed.stderr()),
    {
      timeoutMs: 15_000,
      message: "the trim line",
    },
  );
  assert.equal((await serviceStatus(trimmed.url, "idle")).status, "running");
  assert.doesNotMatch(kept.stderr(), /gave start-up memory back/);
});
