import assert from "node:assert/strict";
import { restRequest, tokenMatches } from "./control.ts";

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

Deno.test("restRequest() keeps a hostile name inside one path segment", () => {
  assert.equal(restRequest("status", { name: "../x" }).path, "/api/services/status/..%2Fx");
});

Deno.test("restRequest() answers 400 without a name", () => {
  assert.equal(restRequest("start", {}).status, 400);
  assert.equal(restRequest("start", { name: 3 as unknown as string }).status, 400);
});

Deno.test("tokenMatches() wants the exact bearer token", () => {
  assert.equal(tokenMatches("Bearer s3cret", "s3cret"), true);
  assert.equal(tokenMatches("bearer  s3cret ", "s3cret"), true);
  assert.equal(tokenMatches("Bearer s3cre", "s3cret"), false);
  assert.equal(tokenMatches("Bearer s3cretX", "s3cret"), false);
  assert.equal(tokenMatches("s3cret", "s3cret"), false);
  assert.equal(tokenMatches(undefined, "s3cret"), false);
});
