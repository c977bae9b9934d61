import assert from "node:assert/strict";
import { FakeControl, fakeStatus } from "../api/fake_control.ts";
import { createApp } from "../api/app.ts";
import { ConflictError } from "../errors.ts";
import { managedControl, managedMessage, REGISTRY_CHANGES } from "./managed.ts";

Deno.test("managedControl() refuses registry changes with 409 and passes the rest through", async () => {
  const control = new FakeControl([fakeStatus("web")]);
  const managed = managedControl(control, "line1");
  for (const method of REGISTRY_CHANGES) {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => (managed[method] as any)("web", { name: "web", cmd: "true" }),
      (err: unknown) =>
        err instanceof ConflictError && err.message === "managed by fleet group line1",
      method,
    );
  }
  assert.equal(managed.list()[0]?.name, "web");
  assert.equal((await managed.start("web")).status, "running");
  assert.deepEqual(
    control.calls.map((c) => c.method),
    ["list", "start"],
    "the refused changes never reached the control",
  );
});

Deno.test("managedControl() answers 409 on the API's registry routes; start, stop and restart work", async () => {
  const app = createApp(managedControl(new FakeControl([fakeStatus("web")]), "line1"));
  const json = { "Content-Type": "application/json" };
  for (
    const [method, path, body] of [
      ["POST", "/api/services", '{"name": "new", "cmd": "true"}'],
      ["PUT", "/api/services/web", '{"name": "web", "cmd": "true"}'],
      ["DELETE", "/api/services/web", undefined],
      ["POST", "/api/services/reload", undefined],
    ] as const
  ) {
    const response = await app.request(path, { method, headers: json, body });
    assert.equal(response.status, 409, `${method} ${path}`);
    assert.deepEqual(await response.json(), { ok: false, error: managedMessage("line1") });
  }
  for (const action of ["start", "stop", "restart"]) {
    const response = await app.request(`/api/services/${action}/web`, { method: "POST" });
    assert.equal(response.status, 200, action);
  }
});
