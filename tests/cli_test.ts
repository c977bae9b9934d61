/**
 * The `edgevisor` command line as a subprocess, against a real running
 * orchestrator: output, `--json`, exit codes, and `validate`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FAST,
  freePort,
  processAlive,
  processesMatching,
  ROOT,
  runMain,
  serviceStatus,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

Deno.test("edgevisor CLI drives a running orchestrator", async (t) => {
  const secs = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [
        { ...FAST, name: "web", cmd: "sleep", args: [String(secs)] },
        { ...FAST, name: "idle", cmd: "sleep", args: [String(secs)], autostart: false },
        {
          ...FAST,
          name: "counter",
          ...sh(`for i in 1 2 3 4 5; do echo "l$i"; done; echo e1 >&2; exec sleep ${secs}`),
        },
      ],
    },
  });
  const url = orch.url;
  const cli = (...args: string[]) => runMain([...args, "--url", url]);
  await waitFor(async () => {
    const { body } = await runMainJson("ls", "--json", "--url", url);
    return body.services.every((s: { name: string; status: string }) =>
      s.name === "idle" || s.status === "running"
    );
  }, { message: "web and counter running" });
  await waitFor(async () =>
    (await cli("logs", "counter", "-n", "1", "--stream", "stderr")).stdout
      .includes("e1"), { timeoutMs: 60_000, message: "counter output" });

  await t.step("ls prints a table of every service", async () => {
    const r = await cli("ls");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME\s+STATUS\s+PID/);
    // Problems first, then by name.
    assert.match(lines[1]!, /^counter\s+running\s+\d+/);
    assert.match(lines[2]!, /^idle\s+stopped\s+-/);
    assert.match(lines[3]!, /^web\s+running\s+\d+/);
    assert.equal(lines.length, 4);
  });

  await t.step("ls --json prints the API answer", async () => {
    const { code, body } = await runMainJson("ls", "--json", "--url", url);
    assert.equal(code, 0);
    assert.equal(body.ok, true);
    assert.deepEqual(body.services.map((s: { name: string }) => s.name), [
      "web",
      "idle",
      "counter",
    ]);
  });

  await t.step("status shows one service; --json matches the API", async () => {
    const r = await cli("status", "web");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^name:\s+web$/m);
    assert.match(r.stdout, /^status:\s+running$/m);
    const { code, body } = await runMainJson("status", "web", "--json", "--url", url);
    assert.equal(code, 0);
    const api = await serviceStatus(url, "web");
    assert.equal(body.pid, api.pid);
    assert.equal(body.status, "running");
  });

  await t.step("an unknown service exits 1 with the server's message", async () => {
    const r = await cli("status", "nope");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: Unknown service "nope"$/m);
  });

  await t.step("start on a running service exits 1 (conflict)", async () => {
    const r = await cli("start", "web");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already running/);
    assert.equal((await processesMatching(String(secs))).length, 2, "web and counter only");
  });

  await t.step("stop, start and restart change the real process", async () => {
    const before = await serviceStatus(url, "web");
    const stop = await cli("stop", "web");
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /Service "web" stopped: stopped/);
    assert.ok(!(await processAlive(before.pid)), "stopped process gone");
    assert.equal((await serviceStatus(url, "web")).status, "stopped");

    const again = await cli("stop", "web");
    assert.equal(again.code, 1, "stop on stopped is a conflict");
    assert.match(again.stderr, /not running/);

    const start = await cli("start", "web");
    assert.equal(start.code, 0, start.stderr);
    const pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
    assert.ok(await processAlive(pid), `started pid ${pid} is alive`);

    const restart = await runMainJson("restart", "web", "--json", "--url", url);
    assert.equal(restart.code, 0);
    assert.notEqual(restart.body.pid, pid);
    assert.ok(!(await processAlive(pid)), "the process before the restart is gone");
    assert.ok(await processAlive(restart.body.pid), "the new process runs");
  });

  await t.step("stop --force kills at once", async () => {
    const r = await runMainJson("stop", "counter", "--force", "--json", "--url", url);
    assert.equal(r.code, 0);
    assert.equal(r.body.status, "stopped");
    assert.equal(r.body.last_exit.signal, "SIGKILL");
  });

  await t.step("logs prints the tail of each stream", async () => {
    const both = await cli("logs", "counter", "-n", "2");
    assert.equal(both.code, 0, both.stderr);
    // Both streams merged in time order, the last 2 lines, with the start (and exit) markers.
    const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`;
    const shown = both.stdout.trimEnd().split("\n");
    for (const line of shown) assert.match(line, new RegExp(`^${time} (out|err|---) `));
    assert.match(shown[0]!, new RegExp(`^${time} --- started \\(pid \\d+\\)$`));
    const text = shown.filter((l) => !l.includes(" --- ")).map((l) => l.slice(24));
    assert.deepEqual(text.toSorted(), ["err e1", "out l5"]);
    const out = await cli("logs", "counter", "-n", "3", "--stream", "stdout");
    assert.deepEqual(
      out.stdout.trimEnd().split("\n").filter((l) => !l.includes(" --- ")).map((l) => l.slice(24)),
      ["out l3", "out l4", "out l5"],
    );
    const json = await runMainJson("logs", "counter", "-n", "1", "--json", "--url", url);
    assert.deepEqual(json.body.stdout, ["l5"]);
    assert.deepEqual(json.body.stderr, ["e1"]);
  });

  await t.step("usage errors exit 2 without calling the server", async () => {
    for (
      const args of [
        ["logs", "counter", "-n", "abc"],
        ["logs", "counter", "-n", "-1"],
        ["status", "../etc/passwd"],
        ["stop"],
        ["frobnicate"],
      ]
    ) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /error/);
    }
  });

  await t.step(
    "reload of an invalid registry exits 2 with every problem; nothing changes",
    async () => {
      const written = await Deno.readTextFile(orch.registryPath);
      const registry = JSON.parse(written);
      registry.services[0].restart_policy = "sometimes";
      await Deno.writeTextFile(orch.registryPath, JSON.stringify(registry));
      try {
        const r = await cli("reload");
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^error: Invalid registry .*\n {2}services\[0\]\.restart_policy: /);
      } finally {
        await Deno.writeTextFile(orch.registryPath, written);
      }
      const r = await cli("reload");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "reloaded: 3 untouched\n");
    },
  );

  await t.step("an unreachable orchestrator exits 1 with a clear message", async () => {
    const port = freePort();
    const r = await runMain(["ls", "--url", `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot reach edgevisor at http:\/\/127\.0\.0\.1:\d+/);
  });
});

Deno.test("edgevisor validate exits 2 and lists every problem with its path", async () => {
  const invalid = `${ROOT}/tests/fixtures/registries/invalid.json`;
  const r = await runMain(["validate", invalid]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.ok(r.stderr.includes("4 problems"), r.stderr);
  for (
    const line of [
      `services[0].restart_policy: expected one of never, on-failure, always; got "sometimes"`,
      `services[1].cmd: required`,
      `services[1].restart_polcy: unknown key; did you mean "restart_policy"?`,
      `services[1].name: duplicate name "api", first at services[0]`,
    ]
  ) {
    assert.ok(r.stderr.includes(`  ${line}\n`), `missing ${JSON.stringify(line)} in\n${r.stderr}`);
  }

  const json = await runMain(["validate", "--json", invalid]);
  assert.equal(json.code, 2);
  const body = JSON.parse(json.stdout);
  assert.equal(body.ok, false);
  assert.deepEqual(
    body.problems.map((p: { path: string }) => p.path),
    [
      "services[0].restart_policy",
      "services[1].cmd",
      "services[1].restart_polcy",
      "services[1].name",
    ],
  );

  const dir = await tempDir();
  try {
    const good = await writeRegistry(dir, { services: [{ name: "a", cmd: "true" }] });
    const ok = await runMain(["validate", good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid, 1 service \(a\)/);
    const missing = await runMain(["validate", `${dir}/nope.json`]);
    assert.equal(missing.code, 2, missing.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  const version = await runMain(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^edgevisor \d+\.\d+\.\d+/);
});

/** Run `main.ts` with `args` and parse its standard output as JSON. */
async function runMainJson(...args: string[]) {
  const r = await runMain(args);
  let body;
  try {
    body = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, body };
}
