import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { ConflictError, SpawnError } from "../errors.ts";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";

function setup() {
  const control = new FakeControl([
    fakeStatus("api", { status: "running", pid: 10, uptime: 5 }),
    fakeStatus("worker"),
  ]);
  control.logLines.set("api", { stdout: ["o1", "o2", "o3"], stderr: ["e1", "e2"] });
  const logged: string[] = [];
  const app = createApp(control, { log: (line) => logged.push(line) });
  return { control, app, logged };
}

async function call(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await app.request(path, { method });
  const body = method === "HEAD" ? {} : await res.json();
  return { status: res.status, body, headers: res.headers };
}

Deno.test("createApp() GET /api/services/list returns every service", async () => {
  const { app } = setup();
  const { status, body } = await call(app, "GET", "/api/services/list");
  assert.equal(status, 200);
  assert.equal(body.ok, true);
  const services = body.services as { name: string; status: string }[];
  assert.deepEqual(services.map((s) => [s.name, s.status]), [
    ["api", "running"],
    ["worker", "stopped"],
  ]);
});

Deno.test("createApp() GET /api/services/status/:name flattens the status", async () => {
  const { app } = setup();
  const { status, body } = await call(app, "GET", "/api/services/status/api");
  assert.equal(status, 200);
  assert.equal(body.ok, true);
  assert.equal(body.name, "api");
  assert.equal(body.status, "running");
  assert.equal(body.pid, 10);
  assert.deepEqual(body.health, { healthy: null, message: "no check" });
});

Deno.test("createApp() POST start/stop/restart answer a message and the new status", async () => {
  const { app, control } = setup();
  let res = await call(app, "POST", "/api/services/start/worker");
  assert.equal(res.status, 200);
  assert.equal(res.body.ok, true);
  assert.equal(res.body.message, 'Service "worker" started');
  assert.equal(res.body.status, "running");
  assert.equal(typeof res.body.pid, "number");

  res = await call(app, "POST", "/api/services/restart/worker");
  assert.equal(res.status, 200);
  assert.equal(res.body.message, 'Service "worker" restarted');
  assert.equal(res.body.restarts, 1);

  res = await call(app, "POST", "/api/services/stop/worker");
  assert.equal(res.status, 200);
  assert.equal(res.body.message, 'Service "worker" stopped');
  assert.equal(res.body.status, "stopped");
  assert.equal(res.body.pid, null);

  assert.deepEqual(control.calls.map((c) => [c.method, ...c.args]), [
    ["start", "worker"],
    ["restart", "worker"],
    ["stop", "worker", { force: false }],
  ]);
});

Deno.test("createApp() POST stop parses force", async () => {
  for (
    const [query, force] of [
      ["", false],
      ["?force=false", false],
      ["?force=0", false],
      ["?force=true", true],
      ["?force=1", true],
      ["?force=TRUE", true],
    ] as const
  ) {
    const { app, control } = setup();
    const res = await call(app, "POST", `/api/services/stop/api${query}`);
    assert.equal(res.status, 200, query);
    assert.deepEqual(control.calls[0]?.args, ["api", { force }], query);
  }
});

Deno.test("createApp() POST stop rejects a bad force with 400", async () => {
  for (const value of ["yes", "", "2", "maybe"]) {
    const { app, control } = setup();
    const res = await call(app, "POST", `/api/services/stop/api?force=${value}`);
    assert.equal(res.status, 400, value);
    assert.equal(res.body.ok, false);
    assert.match(String(res.body.error), /^Invalid "force"/);
    assert.deepEqual(control.calls, [], value);
  }
});

Deno.test("createApp() GET logs defaults to 50 lines of both streams", async () => {
  const { app, control } = setup();
  const { status, body } = await call(app, "GET", "/api/services/logs/api");
  assert.equal(status, 200);
  assert.deepEqual(body, {
    ok: true,
    name: "api",
    stream: "both",
    lines: 50,
    stdout: ["o1", "o2", "o3"],
    stderr: ["e1", "e2"],
  });
  assert.deepEqual(control.calls[0]?.args, ["api", 50, "both"]);
});

Deno.test("createApp() GET logs returns only the requested stream", async () => {
  const { app } = setup();
  let res = await call(app, "GET", "/api/services/logs/api?lines=2&stream=stdout");
  assert.deepEqual(res.body, {
    ok: true,
    name: "api",
    stream: "stdout",
    lines: 2,
    stdout: ["o2", "o3"],
  });
  res = await call(app, "GET", "/api/services/logs/api?lines=0&stream=stderr");
  assert.deepEqual(res.body, { ok: true, name: "api", stream: "stderr", lines: 0, stderr: [] });
  res = await call(app, "GET", "/api/services/logs/api?lines=10000");
  assert.equal(res.status, 200);
});

Deno.test("createApp() GET logs rejects bad lines and stream with 400", async () => {
  for (const lines of ["-1", "abc", "1.5", "100000", "10001", "", "1e3", " 5"]) {
    const { app, control } = setup();
    const res = await call(
      app,
      "GET",
      `/api/services/logs/api?lines=${encodeURIComponent(lines)}`,
    );
    assert.equal(res.status, 400, lines);
    assert.equal(
      res.body.error,
      `Invalid "lines": expected an integer from 0 to 10000; got ${JSON.stringify(lines)}`,
    );
    assert.deepEqual(control.calls, []);
  }
  const { app, control } = setup();
  const res = await call(app, "GET", "/api/services/logs/api?stream=all");
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'Invalid "stream": expected one of stdout, stderr, both; got "all"');
  assert.deepEqual(control.calls, []);
});

Deno.test("createApp() GET /api/services/health/:name", async () => {
  const { app } = setup();
  const { status, body } = await call(app, "GET", "/api/services/health/api");
  assert.equal(status, 200);
  assert.deepEqual(body, { ok: true, name: "api", healthy: null, message: "no check" });
});

Deno.test("createApp() GET /api/health returns orchestrator info", async () => {
  const { app } = setup();
  const { status, body } = await call(app, "GET", "/api/health");
  assert.equal(status, 200);
  assert.equal(body.ok, true);
  assert.equal(body.pid, 4242);
  assert.equal((body.services as Record<string, number>).total, 2);
  assert.equal((body.services as Record<string, number>).running, 1);
});

Deno.test("createApp() answers 404 for an unknown service", async () => {
  const paths: [string, string][] = [
    ["GET", "/api/services/status/nope"],
    ["POST", "/api/services/start/nope"],
    ["POST", "/api/services/stop/nope"],
    ["POST", "/api/services/restart/nope"],
    ["GET", "/api/services/logs/nope"],
    ["GET", "/api/services/health/nope"],
  ];
  for (const [method, path] of paths) {
    const { app } = setup();
    const res = await call(app, method, path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(res.body, { ok: false, error: 'Unknown service "nope"' });
  }
});

Deno.test("createApp() rejects a bad name with 400 and never calls the control", async () => {
  const cases: [string, string, string][] = [
    ["GET", "/api/services/logs/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"],
    ["GET", "/api/services/status/..%2fx", "../x"],
    ["GET", "/api/services/logs/%2e%2e%2Fx", "../x"],
    ["POST", "/api/services/start/a%20b", "a b"],
    ["POST", "/api/services/stop/-x", "-x"],
    ["POST", "/api/services/restart/.hidden", ".hidden"],
    ["GET", "/api/services/health/" + "x".repeat(65), "x".repeat(65)],
  ];
  for (const [method, path, name] of cases) {
    const { app, control } = setup();
    const res = await call(app, method, path);
    assert.equal(res.status, 400, path);
    assert.deepEqual(res.body, {
      ok: false,
      error: `Invalid service name ${JSON.stringify(name)}`,
    });
    assert.deepEqual(control.calls, [], path);
  }
});

Deno.test("createApp() never reaches the control through dot segments", async () => {
  for (const path of ["/api/services/logs/../../etc/passwd", "/api/services/logs/%2e%2e"]) {
    const { app, control } = setup();
    const res = await call(app, "GET", path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(control.calls, [], path);
  }
});

Deno.test("createApp() maps ConflictError to 409 and SpawnError to 422", async () => {
  const { app, control } = setup();
  let res = await call(app, "POST", "/api/services/start/api");
  assert.equal(res.status, 409);
  assert.deepEqual(res.body, {
    ok: false,
    error: 'Cannot start service "api": it is already running',
  });
  control.failWith(new SpawnError('Cannot start service "worker": command not found'));
  res = await call(app, "POST", "/api/services/start/worker");
  assert.equal(res.status, 422);
  assert.equal(res.body.error, 'Cannot start service "worker": command not found');
  control.failWith(new ConflictError("busy"));
  res = await call(app, "GET", "/api/services/list");
  assert.equal(res.status, 409);
});

Deno.test("createApp() keeps the status of an HTTPException", async () => {
  const { app, control } = setup();
  control.failWith(new HTTPException(503, { message: "Shutting down" }));
  const res = await call(app, "GET", "/api/health");
  assert.equal(res.status, 503);
  assert.deepEqual(res.body, { ok: false, error: "Shutting down" });
});

Deno.test("createApp() answers 500 to an unexpected error and logs it once", async () => {
  const { app, control, logged } = setup();
  control.failWith(new Error("disk on fire"));
  const res = await call(app, "GET", "/api/services/status/api");
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { ok: false, error: "disk on fire" });
  assert.equal(logged.length, 1);
  assert.match(logged[0] ?? "", /GET \/api\/services\/status\/api failed: Error: disk on fire/);
});

Deno.test("createApp() answers 405 with Allow for a wrong method", async () => {
  const { app, control } = setup();
  let res = await call(app, "GET", "/api/services/start/x");
  assert.equal(res.status, 405);
  assert.deepEqual(res.body, {
    ok: false,
    error: "Method GET not allowed on /api/services/start/x; use POST",
  });
  assert.equal(res.headers.get("allow"), "POST");

  res = await call(app, "DELETE", "/api/services/list");
  assert.equal(res.status, 405);
  assert.equal(res.body.error, "Method DELETE not allowed on /api/services/list; use GET");
  assert.equal(res.headers.get("allow"), "GET, HEAD");

  res = await call(app, "POST", "/api/health");
  assert.equal(res.status, 405);
  assert.deepEqual(control.calls, []);
});

Deno.test("createApp() answers 404 to an unknown route", async () => {
  const { app } = setup();
  for (
    const path of [
      "/nope",
      "/api/nope",
      "/api/services/start",
      "/api/services/status/a/b",
      "/api/services/list/",
    ]
  ) {
    const res = await call(app, "GET", path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(res.body, { ok: false, error: `Not found: GET ${path}` });
  }
});
