import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import {
  BadRequestError,
  ConflictError,
  EdgevisorError,
  type ErrorKind,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  NotImplementedError,
  RegistryError,
  SpawnError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
} from "../errors.ts";
import type { ServiceHistory } from "../types.ts";
import { checkedRequest } from "./answer_check.ts";
import { createApp } from "./app.ts";
import { STATUS_OF_KIND } from "./error_status.ts";
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

/** One request through the app, its answer checked against the OpenAPI document. */
async function call(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
  body?: string,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = body === undefined ? undefined : { "content-type": "application/json" };
  const answer = await checkedRequest(app, method, path, { body, headers });
  return { status: answer.status, body: answer.body ?? {}, headers: answer.headers };
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
});

Deno.test("createApp() keeps the status of an HTTPException", async () => {
  const { app, control } = setup();
  control.failWith(new HTTPException(503, { message: "Shutting down" }));
  const res = await call(app, "GET", "/api/health");
  assert.equal(res.status, 503);
  assert.deepEqual(res.body, { ok: false, error: "Shutting down" });
});

Deno.test("createApp() answers 500 Internal error to an unexpected error and logs its cause once", async () => {
  for (const error of [new Error("disk on fire"), new EdgevisorError("disk on fire")]) {
    const { app, control, logged } = setup();
    control.failWith(error);
    const res = await call(app, "GET", "/api/services/status/api");
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { ok: false, error: "Internal error" });
    assert.equal(logged.length, 1);
    assert.match(
      logged[0] ?? "",
      new RegExp(`^api: GET /api/services/status/api failed: ${error.name}: disk on fire`),
    );
  }
});

Deno.test("createApp() answers each kind of error with its status, once for all", async () => {
  const errors: [ErrorKind, EdgevisorError][] = [
    ["invalid", new BadRequestError("bad")],
    ["unauthorized", new UnauthorizedError("who")],
    ["forbidden", new ForbiddenError("no")],
    ["not_found", new NotFoundError("gone")],
    ["method_not_allowed", new MethodNotAllowedError("not so", ["POST"])],
    ["conflict", new ConflictError("busy")],
    ["too_large", new TooLargeError("big")],
    ["unsupported_media_type", new UnsupportedMediaTypeError("form")],
    ["unprocessable", new SpawnError("cannot spawn")],
    ["not_implemented", new NotImplementedError("not here")],
    ["unavailable", new UnavailableError("later")],
  ];
  assert.deepEqual(
    errors.map(([kind]) => kind).sort(),
    (Object.keys(STATUS_OF_KIND) as ErrorKind[]).filter((k) => k !== "internal").sort(),
  );
  for (const [kind, error] of errors) {
    const { app, control, logged } = setup();
    assert.equal(error.kind, kind);
    control.failWith(error);
    const res = await app.request("/api/services/status/api");
    assert.equal(res.status, STATUS_OF_KIND[kind], kind);
    assert.deepEqual(await res.json(), { ok: false, error: error.message });
    assert.deepEqual(logged, [], kind);
    if (kind === "unauthorized") assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
    if (kind === "method_not_allowed") assert.equal(res.headers.get("allow"), "POST");
  }
});

Deno.test("createApp() answers 405 with Allow on every path of the table", async () => {
  const { app, control } = setup();
  const cases: [string, string, string][] = [
    ["POST", "/api/services/events", "GET, HEAD"],
    ["PUT", "/api/services/reload", "POST"],
    ["GET", "/api/services", "POST"],
    ["GET", "/api/services/web", "PUT, DELETE"],
    ["POST", "/api/services/start", "PUT, DELETE"],
    ["DELETE", "/api/openapi.json", "GET, HEAD"],
    ["POST", "/metrics", "GET, HEAD"],
    ["PUT", "/api/services/history/x", "GET, HEAD"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await call(app, method, path);
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
  }
  assert.deepEqual(control.calls, []);
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
      "/api/services/status/a/b",
      "/api/services/list/",
    ]
  ) {
    const res = await call(app, "GET", path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(res.body, { ok: false, error: `Not found: GET ${path}` });
  }
});

Deno.test("POST /api/services/reload answers the diff", async () => {
  const { app, control } = setup();
  control.reloadResult = { added: ["x"], removed: [], changed: ["api"], untouched: [] };
  const res = await call(app, "POST", "/api/services/reload");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, {
    ok: true,
    message: "Registry reloaded",
    added: ["x"],
    removed: [],
    changed: ["api"],
    untouched: [],
  });
});

Deno.test("POST /api/services/reload answers 400 with every problem of an invalid registry", async () => {
  const { app, control } = setup();
  const problems = [{ path: "services[0].cmd", message: "required" }, {
    path: "services[1].name",
    message: "bad",
  }];
  control.failWith(new RegistryError("r.json", problems));
  const res = await call(app, "POST", "/api/services/reload");
  assert.equal(res.status, 400);
  assert.equal(res.body.ok, false);
  assert.deepEqual(res.body.problems, problems);
  assert.match(res.body.error, /^Invalid registry "r.json":/);
});

Deno.test("POST /api/services adds (201); a taken name is 409; bad JSON is 400", async () => {
  const { app, control } = setup();
  const added = await call(app, "POST", "/api/services", '{"name": "new", "cmd": "x"}');
  assert.equal(added.status, 201);
  assert.equal(added.body.message, 'Service "new" added');
  assert.equal(added.body.name, "new");
  assert.deepEqual(control.calls.at(-1), {
    method: "addService",
    args: [{ name: "new", cmd: "x" }],
  });
  assert.equal((await call(app, "POST", "/api/services", '{"name": "new"}')).status, 409);
  const bad = await call(app, "POST", "/api/services", "{nope");
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /^Invalid JSON body: /);
  const wrong = await call(app, "GET", "/api/services");
  assert.equal(wrong.status, 405);
});

Deno.test("PUT and DELETE /api/services/{name} check the name", async () => {
  const { app, control } = setup();
  const put = await call(app, "PUT", "/api/services/api", '{"cmd": "y"}');
  assert.equal(put.status, 200);
  assert.equal(put.body.message, 'Service "api" replaced');
  assert.deepEqual(control.calls.at(-1), { method: "replaceService", args: ["api", { cmd: "y" }] });
  assert.equal((await call(app, "PUT", "/api/services/nope", "{}")).status, 404);
  assert.equal((await call(app, "PUT", "/api/services/..%2Fx", "{}")).status, 400);
  const del = await call(app, "DELETE", "/api/services/api");
  assert.deepEqual(del.body, { ok: true, message: 'Service "api" removed', name: "api" });
  assert.equal((await call(app, "DELETE", "/api/services/api")).status, 404);
});

Deno.test("PUT and DELETE on fixed paths are wrong methods, not service names", async () => {
  const { app, control } = setup();
  for (const path of ["/api/services/list", "/api/services/reload"]) {
    for (const method of ["PUT", "DELETE"]) {
      const res = await call(app, method, path, "{}");
      assert.equal(res.status, 405, `${method} ${path}`);
    }
  }
  assert.deepEqual(control.calls, []);
});

Deno.test("POST and PUT /api/services answer 400 to a body nested too deeply, before the control sees it", async () => {
  const { app, control } = setup();
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  for (const [method, path] of [["POST", "/api/services"], ["PUT", "/api/services/api"]]) {
    for (const depth of [65, 100_000]) {
      const res = await call(app, method!, path!, nested(depth));
      assert.equal(res.status, 400, `${method} ${path} ${depth}`);
      assert.deepEqual(res.body, {
        ok: false,
        error: "Invalid JSON body: nested more than 64 levels deep",
      });
    }
  }
  assert.deepEqual(control.calls.filter((c) => c.method !== "list"), []);
  // 64 levels are read, and left to validation.
  await call(app, "POST", "/api/services", nested(64));
  assert.deepEqual(control.calls.map((c) => c.method), ["addService"]);
});

Deno.test("GET /api/services/history/{name} answers the control's history, 501 without one", async () => {
  const { app, control } = setup();
  let res = await call(app, "GET", "/api/services/history/api");
  assert.equal(res.status, 501);
  assert.deepEqual(res.body, { ok: false, error: "History is not available here" });
  assert.equal((await call(app, "GET", "/api/services/history/nope")).status, 404);
  assert.equal((await call(app, "GET", "/api/services/history/..%2Fx")).status, 400);

  const history: ServiceHistory = {
    events: [
      {
        at: "2026-12-02T10:00:00.000Z",
        type: "state",
        from: "starting",
        to: "running",
        reason: null,
        pid: 1234,
      },
      { at: "2026-12-02T10:05:00.000Z", type: "exit", pid: 1234, code: 1, signal: null },
      {
        at: "2026-12-02T10:06:00.000Z",
        type: "health",
        role: "liveness",
        from: "healthy",
        to: "unhealthy",
        message: "timed out after 2s",
      },
      { at: "2026-12-02T10:07:00.000Z", type: "action", action: "restart" },
    ],
    series: {
      step: 10,
      end: "2026-12-02T10:07:10.000Z",
      cpu_percent: [0.5, null],
      memory_rss_bytes: [12345678, null],
    },
  };
  Object.assign(control, {
    history: (name: string) => (control.status(name), history),
  });
  res = await call(app, "GET", "/api/services/history/api");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true, name: "api", ...history });
});

Deno.test("GET logs?since= answers 501 from a control without log times, and passes it on to one with them", async () => {
  const { app, control } = setup();
  let res = await call(app, "GET", "/api/services/logs/api?since=10m");
  assert.equal(res.status, 501);
  assert.deepEqual(control.calls, []);
  res = await call(app, "GET", "/api/services/logs/api?since=yesterday");
  assert.equal(res.status, 400);
  assert.equal(
    res.body.error,
    'Invalid "since": expected an ISO 8601 time or a duration such as 90s, 10m or 2h; got "yesterday"',
  );

  const merged = [
    { at: "2026-12-02T10:00:00.001Z", marker: "start", text: "started (pid 1234)" },
    { at: "2026-12-02T10:00:00.123Z", stream: "stdout", line: "o3" },
    { at: null, stream: "stderr", line: "e2" },
  ] as const;
  let asked: unknown;
  Object.assign(control, {
    logTimes: true,
    logs: (name: string, _lines: number, _stream: string, options: unknown) => {
      asked = options;
      return Promise.resolve({ name, stdout: ["o3"], stderr: ["e2"], merged: [...merged] });
    },
  });
  const before = Date.now();
  res = await call(app, "GET", "/api/services/logs/api?since=90s&lines=1");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.merged, merged);
  const sinceMs = (asked as { sinceMs: number }).sinceMs;
  assert.ok(sinceMs >= before - 90_000 && sinceMs <= Date.now() - 90_000, String(sinceMs));
  res = await call(app, "GET", "/api/services/logs/api?since=2026-12-02T10:00:00Z");
  assert.deepEqual(asked, { sinceMs: Date.parse("2026-12-02T10:00:00Z") });
});

Deno.test("createApp() answers HEAD of a GET route with its status and no body", async () => {
  const { app } = setup();
  for (const [path, status] of [["/api/services/list", 200], ["/api/services/status/no", 404]]) {
    const res = await call(app, "HEAD", path as string);
    assert.equal(res.status, status, path as string);
  }
});
