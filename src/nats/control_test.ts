import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import { PATHS } from "../api/paths.ts";
import { CONTROL_ENDPOINTS, type ControlEndpoint, restRequest } from "./control.ts";

Deno.test("restRequest() maps each endpoint to its REST request", () => {
  assert.deepEqual(restRequest("list", {}), { method: "GET", path: "/api/services/list" });
  assert.deepEqual(restRequest("health", {}), { method: "GET", path: "/api/health" });
  assert.deepEqual(restRequest("health", { name: "web" }), {
    method: "GET",
    path: "/api/services/health/web",
  });
  assert.deepEqual(restRequest("status", { name: "web" }), {
    method: "GET",
    path: "/api/services/status/web",
  });
  assert.deepEqual(restRequest("stop", { name: "web", force: true }), {
    method: "POST",
    path: "/api/services/stop/web?force=true",
  });
  assert.deepEqual(restRequest("restart", { name: "a.b" }), {
    method: "POST",
    path: "/api/services/restart/a.b",
  });
  assert.deepEqual(restRequest("logs", { name: "web", lines: 3, stream: "stderr" }), {
    method: "GET",
    path: "/api/services/logs/web?lines=3&stream=stderr",
  });
});

Deno.test("restRequest() passes on only the query fields of the endpoint", () => {
  assert.deepEqual(restRequest("start", { name: "web", force: true, lines: 3 }), {
    method: "POST",
    path: "/api/services/start/web",
  });
  // `follow` would turn the answer into an event stream: not a control field.
  assert.deepEqual(
    restRequest("logs", { name: "web", follow: true } as Record<string, unknown>),
    { method: "GET", path: "/api/services/logs/web" },
  );
});

Deno.test("restRequest() keeps a hostile name inside one path segment", () => {
  assert.deepEqual(restRequest("status", { name: "../x" }), {
    method: "GET",
    path: "/api/services/status/..%2Fx",
  });
});

Deno.test("restRequest() refuses a request without a name as invalid", () => {
  for (const endpoint of ["status", "start", "stop", "restart", "logs"] as const) {
    for (const request of [{}, { name: "" }]) {
      assert.throws(() => restRequest(endpoint, request), (error) => {
        assert.ok(error instanceof BadRequestError);
        assert.equal(error.kind, "invalid");
        assert.equal(error.message, 'Missing "name": the service name');
        return true;
      });
    }
  }
  assert.throws(() => restRequest("start", { name: 3 as unknown as string }), {
    name: "BadRequestError",
    message: 'Invalid "name": expected a string',
  });
});

Deno.test("CONTROL_ENDPOINTS are the control routes of the table, as docs/nats.md lists them", () => {
  assert.deepEqual(Object.keys(CONTROL_ENDPOINTS), [
    "list",
    "status",
    "start",
    "stop",
    "restart",
    "logs",
    "health",
  ]);
  const operations = Object.fromEntries(
    Object.entries(CONTROL_ENDPOINTS).map(([endpoint, r]) => [
      endpoint,
      [r.named?.name ?? null, r.unnamed?.name ?? null, [...r.query]],
    ]),
  );
  assert.deepEqual(operations, {
    list: [null, "list", []],
    status: ["status", null, []],
    start: ["start", null, []],
    stop: ["stop", null, ["force"]],
    restart: ["restart", null, []],
    logs: ["logs", null, ["lines", "stream"]],
    health: ["health", "orchestrator", []],
  });
  for (const route of Object.values(CONTROL_ENDPOINTS).flatMap((r) => [r.named, r.unnamed])) {
    if (route) assert.equal(route.method, PATHS[route.name].method);
  }
  const endpoint: ControlEndpoint = "logs";
  // @ts-expect-error: not a control endpoint
  const other: ControlEndpoint = "reload";
  assert.ok(endpoint && other);
});

Deno.test("CONTROL_ENDPOINTS changes services with POST only", () => {
  const posts = Object.entries(CONTROL_ENDPOINTS).filter(([, r]) =>
    [r.named, r.unnamed].some((route) => route?.method === "POST")
  );
  assert.deepEqual(posts.map(([name]) => name), ["start", "stop", "restart"]);
});
