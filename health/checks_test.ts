import * as assert from "node:assert/strict";
import { Hono } from "hono";
import { groupMembers, waitFor } from "../tests/harness.ts";
import { createCheck, type Launcher, LogWatch, runCheck } from "./checks.ts";

const enc = new TextEncoder();

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("tcpCheck() passes on a listening port and fails on a closed one", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })().catch(() => {});
  try {
    const up = await runCheck(createCheck({ type: "tcp", port }), 2000);
    assert.deepEqual(up, { ok: true, message: `connected to 127.0.0.1:${port}` });
  } finally {
    listener.close();
    await accepting;
  }
  const down = await runCheck(createCheck({ type: "tcp", port: closedPort() }), 2000);
  assert.equal(down.ok, false);
  assert.match(down.message, /^cannot connect to 127\.0\.0\.1:\d+: /);
});

Deno.test("httpCheck() follows a server that answers 200, then 500, and checks the body", async () => {
  let healthy = true;
  const app = new Hono();
  app.get("/health", (c) => healthy ? c.text("all good") : c.text("broken", 500));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const port = server.addr.port;
  try {
    const check = createCheck({ type: "http", port, path: "/health" });
    assert.deepEqual(await runCheck(check, 2000), { ok: true, message: "HTTP 200" });
    healthy = false;
    assert.deepEqual(await runCheck(check, 2000), {
      ok: false,
      message: "HTTP 500 (expected 200-399)",
    });
    healthy = true;
    const body = createCheck({
      type: "http",
      url: `http://127.0.0.1:${port}/health`,
      body_contains: "nope",
    });
    assert.deepEqual(await runCheck(body, 2000), {
      ok: false,
      message: 'HTTP 200; body lacks "nope"',
    });
    const range = createCheck({
      type: "http",
      port,
      path: "/missing",
      expected_status: [404, 404],
    });
    assert.equal((await runCheck(range, 2000)).ok, true);
  } finally {
    await server.shutdown();
  }
});

Deno.test("runCheck() aborts an HTTP check that outlives its timeout", async () => {
  const { promise: never, resolve: release } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async () => {
      await never;
      return new Response("late");
    },
  );
  try {
    const started = performance.now();
    const result = await runCheck(createCheck({ type: "http", port: server.addr.port }), 200);
    assert.deepEqual(result, { ok: false, message: "timed out after 0.2s" });
    assert.ok(performance.now() - started < 1500);
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("execCheck() passes on exit 0, fails otherwise, and kills a command at its timeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const flag = `${dir}/flag`;
    await Deno.writeTextFile(flag, "");
    const check = createCheck({
      type: "exec",
      command: "sh",
      args: ["-c", `test -e ${flag} || { echo gone >&2; exit 3; }`],
    });
    assert.equal((await runCheck(check, 2000)).ok, true);
    await Deno.remove(flag);
    assert.deepEqual(await runCheck(check, 2000), { ok: false, message: "exit code 3: gone" });

    const marker = `${dir}/slept`;
    const slow = createCheck({
      type: "exec",
      command: "sh",
      args: ["-c", `sleep 5; touch ${marker}`],
    });
    const started = performance.now();
    assert.deepEqual(await runCheck(slow, 200), { ok: false, message: "timed out after 0.2s" });
    assert.ok(performance.now() - started < 1500);
    const missing = await runCheck(createCheck({ type: "exec", command: "no-such-cmd-xyz" }), 2000);
    assert.equal(missing.ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("execCheck() spawns through a launcher, and its timeout kills the whole group", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const launched: string[] = [];
    const launch: Launcher = (cmd, args) => {
      launched.push(cmd);
      return { cmd: "setsid", args: ["--", cmd, ...args], detached: false };
    };
    const ok = await runCheck(createCheck({ type: "exec", command: "true" }, { launch }), 2000);
    assert.deepEqual(ok, { ok: true, message: "exit code 0" });
    assert.deepEqual(launched, ["true"]);

    const script = `echo $$ > ${dir}/pid; sleep 30 & wait`;
    const slow = createCheck({ type: "exec", command: "sh", args: ["-c", script] }, { launch });
    assert.deepEqual(await runCheck(slow, 300), { ok: false, message: "timed out after 0.3s" });
    const group = Number(await Deno.readTextFile(`${dir}/pid`));
    await waitFor(async () => (await groupMembers(group)).length === 0, {
      message: "the check's shell and its sleep are gone",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileCheck() fails until the file appears and honours max_age", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ready`;
    const check = createCheck({ type: "file", path });
    assert.deepEqual(await runCheck(check, 2000), {
      ok: false,
      message: `${path} does not exist`,
    });
    await Deno.writeTextFile(path, "");
    assert.deepEqual(await runCheck(check, 2000), { ok: true, message: `${path} exists` });
    await Deno.utime(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const fresh = await runCheck(createCheck({ type: "file", path, max_age: 30 }), 2000);
    assert.equal(fresh.ok, false);
    assert.match(fresh.message, /last modified 60s ago \(max_age 30s\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogWatch matches a line split across chunks, on the chosen stream only", async () => {
  const watch = new LogWatch({ pattern: "listening on \\d+", stream: "stdout" });
  const check = createCheck({ type: "log", pattern: "unused" }, { logWatch: watch });
  watch.feed("stderr", enc.encode("listening on 80\n"));
  assert.equal((await runCheck(check, 100)).ok, false);
  watch.feed("stdout", enc.encode("booting\nlisten"));
  assert.equal(watch.seen, false);
  watch.feed("stdout", enc.encode("ing on 8080\nmore\n"));
  assert.deepEqual(await runCheck(check, 100), { ok: true, message: 'seen "listening on 8080"' });
  watch.reset();
  assert.equal(watch.seen, false);
});
