import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import {
  bearerMatches,
  checkToken,
  isLoopback,
  MAX_BODY_BYTES,
  planAccess,
  readTokenFile,
  TokenFileError,
} from "./auth.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";

const TOKEN = "s3cret-token";

function setup(publicRead: boolean) {
  const control = new FakeControl([
    fakeStatus("api", { status: "running", pid: 10 }),
    fakeStatus("worker"),
  ]);
  const app = createApp(control, { auth: { token: TOKEN, publicRead }, log: () => {} });
  return { control, app };
}

const MUTATING: [string, string, string?][] = [
  ["POST", "/api/services/start/worker"],
  ["POST", "/api/services/stop/api"],
  ["POST", "/api/services/restart/api"],
  ["POST", "/api/services/run/worker"],
  ["POST", "/api/services/reload"],
  ["POST", "/api/services", JSON.stringify({ name: "new", cmd: "sleep", args: ["1"] })],
  ["PUT", "/api/services/worker", JSON.stringify({ name: "worker", cmd: "sleep" })],
  ["DELETE", "/api/services/worker"],
];

const READS = [
  "/api/services/list",
  "/api/services/status/api",
  "/api/services/logs/api",
  "/api/services/health/api",
  "/api/health",
  "/api/openapi.json",
  "/metrics",
];

Deno.test("authMiddleware() answers 401 with WWW-Authenticate to changes without the token", async () => {
  const { app, control } = setup(true);
  for (const [method, path, body] of MUTATING) {
    for (const authorization of [undefined, "Bearer wrong", `Basic ${TOKEN}`, TOKEN, "Bearer "]) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await app.request(path, { method, body, headers });
      assert.equal(res.status, 401, `${method} ${path} with ${authorization}`);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
      const answer = await res.json();
      assert.equal(answer.ok, false);
      assert.match(answer.error, authorization ? /Wrong API token/ : /Missing API token/);
      assert.ok(!JSON.stringify(answer).includes(TOKEN));
    }
  }
  assert.deepEqual(control.calls.filter((c) => c.method !== "list"), []);
});

Deno.test("authMiddleware() lets changes with the token through", async () => {
  const { app, control } = setup(true);
  const res = await app.request("/api/services/start/worker", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, "running");
  const lower = await app.request("/api/services/restart/worker", {
    method: "POST",
    headers: { authorization: `bearer  ${TOKEN} ` },
  });
  assert.equal(lower.status, 200);
  assert.deepEqual(control.calls.map((c) => c.method), ["start", "restart"]);
});

Deno.test("authMiddleware() leaves reads open with publicRead, and asks the token without", async () => {
  const open = setup(true).app;
  const closed = setup(false).app;
  for (const path of READS) {
    assert.equal((await open.request(path)).status, 200, path);
    const res = await closed.request(path);
    assert.equal(res.status, 401, path);
    assert.equal(
      (await closed.request(path, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      200,
      path,
    );
  }
  // The page holds no data: a browser must be able to load it to ask for the token.
  assert.equal((await closed.request("/services")).status, 200);
  assert.equal((await closed.request("/")).status, 302);
  const events = await closed.request("/api/services/events");
  assert.equal(events.status, 401);
});

Deno.test("createApp() answers 413 to a body over the limit, before reading it all", async () => {
  const { app } = setup(true);
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const big = JSON.stringify({ name: "big", cmd: "x".repeat(MAX_BODY_BYTES) });
  const res = await app.request("/api/services", { method: "POST", body: big, headers });
  assert.equal(res.status, 413);
  assert.match((await res.json()).error, /too large/);
  // Without Content-Length (a stream): counted while read.
  const stream = new Blob([big]).stream();
  const chunked = await app.request("/api/services", {
    method: "POST",
    body: stream,
    headers,
    // @ts-ignore: Deno's fetch needs it for a stream body
    duplex: "half",
  });
  assert.equal(chunked.status, 413);
  const bad = await app.request("/api/services", { method: "POST", body: "{", headers });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^Invalid JSON body: /);
});

Deno.test("createApp() sends no CORS headers", async () => {
  const { app } = setup(true);
  for (
    const [method, path] of [["GET", "/api/services/list"], ["OPTIONS", "/api/services/list"]]
  ) {
    const res = await app.request(path!, {
      method,
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    await res.body?.cancel();
    const cors = [...res.headers.keys()].filter((k) => k.startsWith("access-control-"));
    assert.deepEqual(cors, [], `${method} ${path}`);
  }
});

Deno.test("bearerMatches() needs the exact token after Bearer", async () => {
  assert.equal(await bearerMatches(`Bearer ${TOKEN}`, TOKEN), true);
  assert.equal(await bearerMatches(`Bearer ${TOKEN}x`, TOKEN), false);
  assert.equal(await bearerMatches(`Bearer ${TOKEN.slice(1)}`, TOKEN), false);
  assert.equal(await bearerMatches(`Bearer ${TOKEN} extra`, TOKEN), false);
  assert.equal(await bearerMatches(undefined, TOKEN), false);
  assert.equal(await bearerMatches("", TOKEN), false);
});

Deno.test("isLoopback() knows loopback addresses and nothing else", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(isLoopback(host), true, host);
  }
  for (
    const host of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "127.0.0.1.nip.io"]
  ) {
    assert.equal(isLoopback(host), false, host);
  }
});

Deno.test("planAccess() refuses a non-loopback address without a token unless insecure", () => {
  const refused = planAccess({ hostname: "0.0.0.0" });
  assert.equal(refused.ok, false);
  assert.match(!refused.ok ? refused.error : "", /refusing to listen .*"0\.0\.0\.0".*--token-file/);
  const insecure = planAccess({ hostname: "0.0.0.0", insecure: true });
  assert.ok(insecure.ok && /^warning: /.test(insecure.warning ?? ""));
  assert.deepEqual(planAccess({ hostname: "127.0.0.1" }), { ok: true, auth: { publicRead: true } });
  assert.deepEqual(planAccess({ hostname: "10.0.0.1", token: "t" }), {
    ok: true,
    auth: { token: "t", publicRead: false },
  });
  assert.deepEqual(planAccess({ hostname: "10.0.0.1", token: "t", publicRead: true }), {
    ok: true,
    auth: { token: "t", publicRead: true },
  });
});

Deno.test("readTokenFile() trims one newline; empty is exit 2, unreadable exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t`, "abc\n");
    assert.equal(readTokenFile(`${dir}/t`), "abc");
    await Deno.writeTextFile(`${dir}/t`, "abc\r\n");
    assert.equal(readTokenFile(`${dir}/t`), "abc");
    await Deno.writeTextFile(`${dir}/t`, "\n");
    assert.throws(() => readTokenFile(`${dir}/t`), (e) => {
      return e instanceof TokenFileError && e.exitCode === 2 && /is empty/.test(e.message);
    });
    await Deno.writeTextFile(`${dir}/t`, "a\nb\n");
    assert.throws(() => readTokenFile(`${dir}/t`), (e) => {
      return e instanceof TokenFileError && e.exitCode === 2 && !e.message.includes("a\nb");
    });
    assert.throws(() => readTokenFile(`${dir}/missing`), (e) => {
      return e instanceof TokenFileError && e.exitCode === 1 && /Cannot read/.test(e.message);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTokenFile() and checkToken() refuse whitespace and control characters (exit 2), never showing the token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/t`;
    for (
      const token of [
        "abc ",
        " abc",
        "a b",
        "a\tb",
        "a\u00a0b",
        "a\u2028b",
        "a\u0000b",
        "a\u007fb",
        "a\u0085b",
      ]
    ) {
      await Deno.writeTextFile(path, token + "\n");
      assert.throws(() => readTokenFile(path), (e) => {
        return e instanceof TokenFileError && e.exitCode === 2 &&
          e.message ===
            `The API token from ${
              JSON.stringify(path)
            } holds whitespace or control characters; use printable characters without spaces`;
      }, JSON.stringify(token));
      assert.throws(() => checkToken(token, "EDGEVISOR_TOKEN"), (e) => {
        return e instanceof TokenFileError && e.exitCode === 2 &&
          e.message.startsWith("The API token from EDGEVISOR_TOKEN holds whitespace") &&
          !e.message.includes(token);
      }, JSON.stringify(token));
    }
    for (const token of ["s3cret-token", "a.b_c~d+e/f=", "tökén", "\u{1F511}"]) {
      assert.equal(checkToken(token, "EDGEVISOR_TOKEN"), token);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkToken() refuses the tokens with whitespace, which bearerMatches() never matches", async () => {
  for (const token of ["abc", "a b", "a\tb", "ab ", "a\u00a0b", "a\u3000b", "tökén", "a.b~c"]) {
    let accepted = true;
    try {
      checkToken(token, "EDGEVISOR_TOKEN");
    } catch {
      accepted = false;
    }
    assert.equal(accepted, await bearerMatches(`Bearer ${token}`, token), JSON.stringify(token));
  }
});
