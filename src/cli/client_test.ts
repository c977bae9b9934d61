import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import { FakeControl, fakeStatus } from "../api/fake_control.ts";
import { EdgevisorError } from "../errors.ts";
import { ApiClient, ApiError } from "./client.ts";

async function withServer(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("ApiClient() rejects a URL that is not http(s)", () => {
  assert.throws(() => new ApiClient("nope"), TypeError);
  assert.throws(() => new ApiClient("ftp://h"), TypeError);
  assert.throws(() => new ApiClient("http://h/?q=1"), TypeError);
  assert.equal(new ApiClient("http://127.0.0.1:8080/").baseUrl, "http://127.0.0.1:8080");
  assert.equal(new ApiClient("https://h/prefix/").baseUrl, "https://h/prefix");
});

Deno.test("ApiClient calls every route and returns the bodies", async () => {
  const control = new FakeControl([fakeStatus("api", { status: "running", pid: 1 })]);
  control.logLines.set("api", { stdout: ["a", "b"], stderr: ["c"] });
  await withServer(createApp(control).fetch, async (url) => {
    const client = new ApiClient(url);
    assert.equal((await client.list()).services.length, 1);
    assert.equal((await client.status("api")).status, "running");
    assert.equal((await client.stop("api", { force: true })).message, 'Service "api" stopped');
    assert.equal((await client.start("api")).status, "running");
    assert.equal((await client.restart("api")).restarts, 1);
    assert.deepEqual(await client.logs("api", { lines: 1, stream: "stdout" }), {
      ok: true,
      name: "api",
      stream: "stdout",
      lines: 1,
      stdout: ["b"],
    });
    assert.equal((await client.logs("api")).lines, 50);
    assert.equal((await client.serviceHealth("api")).message, "no check");
    assert.equal((await client.health()).services.total, 1);
    assert.deepEqual(control.calls.find((c) => c.method === "stop")?.args, ["api", {
      force: true,
    }]);
  });
});

Deno.test("ApiClient builds each request from the operation's method and path", async () => {
  const seen: string[] = [];
  const control = new FakeControl([
    fakeStatus("api", { status: "running", pid: 1 }),
    fakeStatus("job", { kind: "job" }),
  ]);
  Object.assign(control, {
    run: (name: string) => control.start(name).then((status) => ({ run_id: 1, status })),
  });
  const app = createApp(control);
  await withServer(async (request) => {
    const url = new URL(request.url);
    seen.push(`${request.method} ${url.pathname}${url.search}`);
    return await app.fetch(request);
  }, async (url) => {
    const client = new ApiClient(url);
    assert.equal((await client.runJob("job")).run_id, 1);
    assert.equal((await client.reload()).message, "Registry reloaded");
    const added = await client.addService({ name: "new", cmd: "sleep" });
    assert.equal(added.message, 'Service "new" added');
    assert.equal((await client.replaceService("new", { cmd: "true" })).name, "new");
    assert.deepEqual(await client.removeService("new"), {
      ok: true,
      message: 'Service "new" removed',
      name: "new",
    });
    await assert.rejects(() => client.history("api"), { status: 501, kind: "not_implemented" });
    await client.stop("api");
    await client.logs("api", { lines: 0 });
  });
  assert.deepEqual(seen, [
    "POST /api/services/run/job",
    "POST /api/services/reload",
    "POST /api/services",
    "PUT /api/services/new",
    "DELETE /api/services/new",
    "GET /api/services/history/api",
    "POST /api/services/stop/api",
    "GET /api/services/logs/api?lines=0",
  ]);
  assert.deepEqual(control.calls.find((c) => c.method === "replaceService")?.args, [
    "new",
    { cmd: "true" },
  ]);
});

Deno.test("ApiClient throws ApiError with the status and the server's message", async () => {
  await withServer(createApp(new FakeControl([])).fetch, async (url) => {
    const client = new ApiClient(url);
    await assert.rejects(() => client.status("nope"), (error) => {
      assert.ok(error instanceof ApiError);
      assert.ok(error instanceof EdgevisorError);
      assert.equal(error.status, 404);
      assert.equal(error.kind, "not_found");
      assert.equal(error.message, 'Unknown service "nope"');
      return true;
    });
    // The client encodes the name, so the server sees it whole and answers 400.
    await assert.rejects(() => client.status("../x"), { status: 400, kind: "invalid" });
  });
});

Deno.test("ApiClient reports a non-JSON error answer by its status", async () => {
  await withServer(
    () => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }),
    async (url) => {
      await assert.rejects(() => new ApiClient(url).list(), {
        name: "ApiError",
        status: 502,
        kind: "unavailable",
        message: "HTTP 502 Bad Gateway",
      });
    },
  );
});

Deno.test("ApiClient gives up after timeoutMs", async () => {
  let release = () => {};
  const hold = new Promise<void>((resolve) => (release = resolve));
  await withServer(async () => {
    await hold;
    return new Response("{}");
  }, async (url) => {
    try {
      await assert.rejects(() => new ApiClient(url, { timeoutMs: 50 }).list(), {
        kind: "unavailable",
        message:
          `Cannot reach edgevisor at ${url}: no answer within 0.05s (is "edgevisor run" running?)`,
      });
    } finally {
      release();
    }
  });
});
