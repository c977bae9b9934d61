import assert from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";

function setup() {
  const control = new FakeControl([fakeStatus("api", { status: "running", pid: 10 })]);
  return { control, app: createApp(control, { log: () => {} }) };
}

async function call(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
  body?: string,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await app.request(path, { method, body });
  return { status: res.status, body: await res.json() };
}

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
