import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../api/app.ts";
import { FakeControl, fakeStatus } from "../api/fake_control.ts";
import { VERSION } from "../version.ts";
import { main, type ProgramIo } from "./program.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  args: string[],
  io: Partial<ProgramIo> = {},
): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: {},
    ...io,
  });
  return { code, stdout, stderr };
}

/** Serve `createApp(fake)` on a free loopback port for the duration of `fn`. */
async function withServer(
  fn: (url: string, control: FakeControl) => Promise<void>,
): Promise<void> {
  const control = new FakeControl([
    fakeStatus("api", {
      status: "running",
      pid: 321,
      started_at: "2024-01-01T00:00:00Z",
      uptime: 252,
      health: { healthy: true, message: "OK" },
    }),
    fakeStatus("worker", { status: "failed", reason: "exited with code 1" }),
  ]);
  control.logLines.set("api", { stdout: ["out 1", "out 2"], stderr: ["err 1"] });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(control).fetch,
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, control);
  } finally {
    await server.shutdown();
  }
}

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await Promise.resolve();
  return port;
}

Deno.test("main() --version prints the version, deno and target", async () => {
  const { code, stdout, stderr } = await run(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout, `edgevisor ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})\n`);
  assert.equal(stderr, "");
});

Deno.test("main() --help lists every command", async () => {
  const { code, stdout } = await run(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: edgevisor/);
  for (
    const command of [
      "run",
      "validate",
      "ls|list",
      "status",
      "start",
      "stop",
      "restart",
      "logs",
      "health",
    ]
  ) {
    assert.match(stdout, new RegExp(`^  ${command.replace("|", "\\|")}\\b`, "m"), command);
  }
  assert.match(stdout, /EDGEVISOR_URL/);
});

Deno.test("main() <command> --help describes the command's options", async () => {
  const { code, stdout } = await run(["logs", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: edgevisor logs \[options\] <name>/);
  assert.match(stdout, /-n, --lines <n>/);
  assert.match(stdout, /--stream <stream>/);
  assert.match(stdout, /--url <url>/);
  assert.match(stdout, /--json/);
});

Deno.test("main() rejects an unknown command or option with exit 2", async () => {
  let result = await run(["frobnicate"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: unknown command 'frobnicate'/);
  assert.equal(result.stdout, "");

  result = await run(["ls", "--bogus"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: unknown option '--bogus'/);

  result = await run(["status"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /missing required argument 'name'/);

  result = await run([]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Usage: edgevisor/);
});

Deno.test("main() rejects bad arguments locally with exit 2", async () => {
  let result = await run(["status", "../x", "--url", "http://127.0.0.1:9"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid service name "\.\.\/x"/);

  result = await run(["logs", "api", "-n", "abc"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid "lines": expected an integer from 0 to 10000; got "abc"/);

  result = await run(["logs", "api", "--stream", "all"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Allowed choices are stdout, stderr, both/);

  result = await run(["ls", "--url", "ftp://x"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid URL "ftp:\/\/x"/);
});

Deno.test("main() run rejects a bad --listen with exit 2", async () => {
  for (const listen of ["8080", "localhost", "127.0.0.1:0", "127.0.0.1:70000", "::1:8080"]) {
    const result = await run(["run", "--listen", listen]);
    assert.equal(result.code, 2, listen);
    assert.match(result.stderr, /Invalid listen address/, listen);
  }
});

Deno.test("main() validate reports a valid registry", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "registry.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ services: [{ name: "a", cmd: "true" }, { name: "b", cmd: "true" }] }),
    );
    let result = await run(["validate", file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${file}: valid, 2 services (a, b)\n`);

    result = await run(["validate", file, "--json"]);
    assert.equal(result.code, 0);
    assert.deepEqual(JSON.parse(result.stdout), {
      ok: true,
      file,
      services: ["a", "b"],
      warnings: [],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() validate shows the warnings of a valid registry on stderr, and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "registry.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        services: [{ name: "move", cmd: "true", health_check: "movement_check", port: 8081 }],
      }),
    );
    let result = await run(["validate", file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${file}: valid, 1 service (move)\n`);
    assert.match(
      result.stderr,
      /^.*: 1 warning\n {2}services\[0\]\.health_check: "movement_check" is not defined in "health_checks"; checking TCP port 8081 instead/,
    );
    result = await run(["validate", file, "--json"]);
    assert.equal(result.code, 0);
    const body = JSON.parse(result.stdout);
    assert.equal(body.warnings.length, 1);
    assert.equal(body.warnings[0].path, "services[0].health_check");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() validate lists every problem of an invalid registry with exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "bad.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        services: [{ name: "ok", cmd: "true" }, {
          name: "a b",
          cmd: "x",
          restart_policy: "sometimes",
        }],
      }),
    );
    let result = await run(["validate", file]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines[0], `${file}: 2 problems`);
    assert.equal(lines.length, 3);
    assert.match(lines[1] ?? "", /^ {2}services\[1\]\.\w+: /);
    assert.match(lines[2] ?? "", /^ {2}services\[1\]\.\w+: /);

    result = await run(["validate", file, "--json"]);
    assert.equal(result.code, 2);
    const body = JSON.parse(result.stdout);
    assert.equal(body.ok, false);
    assert.equal(body.problems.length, 2);
    assert.equal(typeof body.problems[0].path, "string");
    assert.equal(typeof body.problems[0].message, "string");

    result = await run(["validate", join(dir, "missing.json")]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /missing\.json: 1 problem\n {2}cannot read file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() ls prints a table, or the JSON body with --json", async () => {
  await withServer(async (url) => {
    let result = await run(["ls", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        "NAME    STATUS   PID  UPTIME  CPU  MEM  RESTARTS  CRASHES  HEALTH   REASON",
        "worker  failed   -    -       -    -    0         0        -        exited with code 1",
        "api     running  321  4m12s   -    -    0         0        healthy  -",
        "",
      ].join("\n"),
    );

    result = await run(["list", "--json"], { env: { EDGEVISOR_URL: url } });
    assert.equal(result.code, 0);
    const body = JSON.parse(result.stdout);
    assert.equal(body.ok, true);
    assert.deepEqual(body.services.map((s: { name: string }) => s.name), ["api", "worker"]);
  });
});

Deno.test("main() ls colours states only on a terminal without NO_COLOR", async () => {
  await withServer(async (url) => {
    let result = await run(["ls", "--url", url], { isTerminal: true });
    assert.ok(result.stdout.includes("\x1b[32mrunning\x1b[0m"));
    result = await run(["ls", "--url", url], { isTerminal: true, env: { NO_COLOR: "1" } });
    assert.equal(result.stdout.includes("\x1b"), false);
    result = await run(["ls", "--url", url], { isTerminal: false });
    assert.equal(result.stdout.includes("\x1b"), false);
  });
});

Deno.test("main() status, start, stop, restart talk to the API", async () => {
  await withServer(async (url, control) => {
    let result = await run(["status", "api", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^name: +api$/m);
    assert.match(result.stdout, /^status: +running$/m);

    result = await run(["stop", "api", "--force", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'Service "api" stopped: stopped\n');

    result = await run(["start", "api", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Service "api" started: running, pid \d+\n$/);

    result = await run(["restart", "api", "--url", url, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.equal(body.message, 'Service "api" restarted');
    assert.equal(body.status, "running");

    assert.deepEqual(control.calls.map((c) => [c.method, ...c.args]), [
      ["status", "api"],
      ["stop", "api", { force: true }],
      ["start", "api"],
      ["restart", "api"],
    ]);
  });
});

Deno.test("main() logs prints sections for both streams", async () => {
  await withServer(async (url, control) => {
    let result = await run(["logs", "api", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "==> stdout <==\nout 1\nout 2\n\n==> stderr <==\nerr 1\n");

    result = await run(["logs", "api", "-n", "1", "--stream", "stdout", "--url", url]);
    assert.equal(result.stdout, "out 2\n");
    assert.deepEqual(control.calls.at(-1)?.args, ["api", 1, "stdout"]);
  });
});

Deno.test("main() health shows the orchestrator or one service", async () => {
  await withServer(async (url) => {
    let result = await run(["health", "--url", url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^version: +0\.0\.0-fake$/m);
    assert.match(result.stdout, /^services: +2 \(1 running, 1 failed\)$/m);

    result = await run(["health", "api", "--url", url]);
    assert.equal(result.stdout, "api: healthy (OK)\n");
  });
});

Deno.test("main() exits 1 with the server's error for an unknown service or a conflict", async () => {
  await withServer(async (url) => {
    let result = await run(["status", "nope", "--url", url]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, 'error: Unknown service "nope"\n');

    result = await run(["start", "api", "--url", url]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'error: Cannot start service "api": it is already running\n');
  });
});

Deno.test("main() exits 1 when the orchestrator cannot be reached", async () => {
  const port = await freePort();
  const result = await run(["ls", "--url", `http://127.0.0.1:${port}`]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `error: Cannot reach edgevisor at http://127.0.0.1:${port}: connection refused (is "edgevisor run" running?)\n`,
  );
});
