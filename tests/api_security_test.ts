/**
 * The API token against a real `edgevisor run`: every change needs it, reads
 * are open on loopback only, a non-loopback address without a token is
 * refused, bodies are bounded, there is no CORS, the CLI sends the token
 * and nothing prints it.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  FAST,
  freePort,
  removeDir,
  runArgs,
  runMain,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

const TOKEN = "tok-7f3a9c51e2b84d06a1c3";

async function tokenFile(dir: string, token = TOKEN): Promise<string> {
  const path = `${dir}/token`;
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  return path;
}

/** One request, its answer checked against the OpenAPI document (see `api` in the harness). */
async function call(
  url: string,
  method: string,
  path: string,
  options: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const answer = await api(url, method, path, { body: options.body, headers });
  const body = typeof answer.body === "object" && answer.body !== null
    ? answer.body
    : { text: answer.body };
  return { status: answer.status, headers: answer.headers, body };
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function outsideAddress(): string | undefined {
  return Deno.networkInterfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    ?.address;
}

function registry(secs: number) {
  return {
    services: [
      { ...FAST, name: "web", cmd: "sleep", args: [String(secs)], restart_policy: "always" },
      { ...FAST, name: "spare", cmd: "sleep", args: [String(secs)], autostart: false },
      { ...FAST, name: "once", kind: "job", autostart: false, ...sh("exit 0") },
    ],
  };
}

Deno.test({
  name:
    "api security: changes need the token; reads open on loopback; 413; no CORS; the CLI sends it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await tempDir();
    const secs = uniqueSeconds();
    await using orch = await startOrchestrator({
      registry: registry(secs),
      dir,
      extraArgs: ["--token-file", await tokenFile(dir)],
    });
    try {
      const added = JSON.stringify({ ...FAST, name: "extra", cmd: "sleep", args: [String(secs)] });
      const replaced = JSON.stringify({ ...FAST, name: "extra", cmd: "sleep", args: ["1000"] });
      const changes: [string, string, number, string?][] = [
        ["POST", "/api/services/start/spare", 200],
        ["POST", "/api/services/restart/web", 200],
        ["POST", "/api/services/stop/spare", 200],
        ["POST", "/api/services/run/once", 200],
        ["POST", "/api/services/reload", 200],
        ["POST", "/api/services", 201, added],
        ["PUT", "/api/services/extra", 200, replaced],
        ["DELETE", "/api/services/extra", 200],
      ];
      for (const [method, path, ok, body] of changes) {
        const before = await call(orch.url, "GET", "/api/services/list");
        for (const token of [undefined, "wrong", TOKEN.slice(0, -1), TOKEN + "x"]) {
          const res = await call(orch.url, method, path, { token, body });
          assert.equal(res.status, 401, `${method} ${path} with ${token}`);
          assert.equal(res.body.ok, false);
          assert.equal(typeof res.body.error, "string");
          assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        }
        // Nothing happened: same pids and restarts.
        const after = await call(orch.url, "GET", "/api/services/list");
        assert.deepEqual(pidsOf(after.body), pidsOf(before.body), `${method} ${path} did nothing`);
        const res = await call(orch.url, method, path, { token: TOKEN, body });
        assert.equal(res.status, ok, `${method} ${path}: ${JSON.stringify(res.body)}`);
      }

      // Reads are open on loopback.
      for (
        const path of [
          "/api/services/list",
          "/api/services/status/web",
          "/api/services/logs/web?lines=5",
          "/api/services/health/web",
          "/api/health",
          "/api/openapi.json",
          "/metrics",
          "/services",
        ]
      ) {
        assert.equal((await call(orch.url, "GET", path)).status, 200, path);
      }

      // Bounded input.
      const big = JSON.stringify({ name: "big", cmd: "x".repeat(2 * 1024 * 1024) });
      const tooBig = await call(orch.url, "POST", "/api/services", { token: TOKEN, body: big });
      assert.equal(tooBig.status, 413);
      assert.match(String(tooBig.body.error), /too large/);
      const badJson = await call(orch.url, "POST", "/api/services", {
        token: TOKEN,
        body: '{"name": ',
      });
      assert.equal(badJson.status, 400);
      assert.match(String(badJson.body.error), /^Invalid JSON body: /);
      const tooMany = await call(orch.url, "GET", "/api/services/logs/web?lines=10001");
      assert.equal(tooMany.status, 400);

      // No CORS, not even to a preflight.
      for (const method of ["GET", "OPTIONS"]) {
        const res = await call(orch.url, method, "/api/services/list", {
          headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
        });
        const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
        assert.deepEqual(cors, [], method);
      }

      // The CLI: without a token a change fails; --token-file, EDGEVISOR_TOKEN and --token work.
      const denied = await runMain(["restart", "web", "--url", orch.url]);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /Missing API token/);
      const viaFile = await runMain([
        "restart",
        "web",
        "--url",
        orch.url,
        "--token-file",
        `${dir}/token`,
      ]);
      assert.equal(viaFile.code, 0, viaFile.stderr);
      const viaEnv = await runMain(["restart", "web", "--url", orch.url], {
        env: { EDGEVISOR_TOKEN: TOKEN },
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      const wrong = await runMain(["reload", "--url", orch.url, "--token", "nope"]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /Wrong API token/);
      const help = await runMain(["run", "--help"], { env: { EDGEVISOR_TOKEN: TOKEN } });
      assert.match(help.stdout, /--token-file <file>/);
      assert.match(help.stdout, /--public-read/);
      assert.match(help.stdout, /--insecure/);
      for (const out of [denied, viaFile, viaEnv, wrong, help]) {
        assert.ok(!(out.stdout + out.stderr).includes(TOKEN), "the CLI printed the token");
      }
    } finally {
      const stderr = orch.stderr();
      await orch.stop();
      assert.ok(!orch.stderr().includes(TOKEN), "the orchestrator logged the token");
      assert.ok(!stderr.includes(TOKEN));
      await removeDir(dir);
    }
  },
});

Deno.test({
  name: "api security: a token file that is empty (exit 2) or unreadable (exit 1) stops run",
  fn: async () => {
    const dir = await tempDir();
    try {
      await Deno.writeTextFile(`${dir}/registry.json`, JSON.stringify({ services: [] }));
      const args = (file: string) => [
        ...runArgs(`${dir}/registry.json`, freePort(), dir),
        "--token-file",
        file,
      ];
      await Deno.writeTextFile(`${dir}/empty`, "\n");
      const empty = await runMain(args(`${dir}/empty`));
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /token file .*empty/);
      const missing = await runMain(args(`${dir}/missing`));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Cannot read the token file/);
    } finally {
      await removeDir(dir);
    }
  },
});

Deno.test({
  name: "api security: a non-loopback address needs a token (or --insecure); reads need it too",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const outside = outsideAddress();
    if (outside === undefined) {
      console.warn("api_security_test.ts: no non-loopback IPv4 address: using 0.0.0.0 only");
    }
    const dir = await tempDir();
    const secs = uniqueSeconds();
    try {
      await Deno.writeTextFile(`${dir}/registry.json`, JSON.stringify(registry(secs)));
      const base = (port: number) => [
        "run",
        "--registry",
        `${dir}/registry.json`,
        "--listen",
        `${outside ?? "0.0.0.0"}:${port}`,
        "--log-dir",
        `${dir}/logs`,
        "--state-dir",
        `${dir}/state`,
      ];

      await t.step("refused without a token: exit 2, nothing started", async () => {
        const refused = await runMain(base(freePort()), { env: { EDGEVISOR_TOKEN: "" } });
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /refusing to listen on the non-loopback address/);
        assert.match(refused.stderr, /--token-file/);
      });

      await t.step("--insecure starts with a warning, open to all", async () => {
        const port = freePort();
        await using orch = await startOrchestrator({
          registry: `${dir}/registry.json`,
          dir,
          port,
          extraArgs: ["--listen", `0.0.0.0:${port}`, "--insecure"],
        });
        await waitFor(() => /warning: the API listens on the non-loopback/.test(orch.stderr()), {
          message: "the --insecure warning",
        });
        assert.equal((await call(orch.url, "POST", "/api/services/restart/web")).status, 200);
        await orch.stop();
      });

      await t.step("with a token, reads need it too, unless --public-read", async () => {
        for (const publicRead of [false, true]) {
          const port = freePort();
          const host = outside ?? "127.0.0.1";
          await using orch = await startOrchestrator({
            registry: `${dir}/registry.json`,
            dir,
            port,
            waitHealthy: false,
            env: { EDGEVISOR_TOKEN: TOKEN },
            extraArgs: ["--listen", `0.0.0.0:${port}`, ...(publicRead ? ["--public-read"] : [])],
          });
          const url = `http://${host}:${port}`;
          await waitFor(async () => {
            try {
              return (await call(url, "GET", "/api/health", { token: TOKEN })).status === 200;
            } catch {
              return false;
            }
          }, { message: "the API to answer", timeoutMs: 20_000 });
          for (const path of ["/api/services/list", "/api/health", "/metrics"]) {
            const open = await call(url, "GET", path);
            assert.equal(open.status, publicRead ? 200 : 401, `${path} publicRead=${publicRead}`);
            assert.equal((await call(url, "GET", path, { token: TOKEN })).status, 200);
          }
          // The page itself is static: always served, it asks for the token.
          assert.equal((await call(url, "GET", "/services")).status, 200);
          assert.equal((await call(url, "POST", "/api/services/restart/web")).status, 401);
          const ls = await runMain(["ls", "--url", url], { env: { EDGEVISOR_TOKEN: TOKEN } });
          assert.equal(ls.code, 0, ls.stderr);
          assert.match(ls.stdout, /web/);
          await orch.stop();
          assert.ok(!orch.stderr().includes(TOKEN));
        }
      });
    } finally {
      await removeDir(dir);
    }
  },
});

function pidsOf(body: Record<string, unknown>): string {
  const services = (body.services ?? []) as {
    name: string;
    pid: number | null;
    restarts: number;
  }[];
  return services.filter((s) => s.name !== "once").map((s) => `${s.name}:${s.pid}:${s.restarts}`)
    .join(",");
}
