import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import {
  hostNameOf,
  parseHostName,
  parseOrigin,
  type RequestGuardOptions,
} from "./request_guard.ts";

function setup(guard: RequestGuardOptions) {
  const control = new FakeControl([fakeStatus("api", { status: "running", pid: 10 })]);
  const app = createApp(control, { guard, log: () => {} });
  return { control, app };
}

const SERVICE = JSON.stringify({ name: "new", cmd: "sleep", args: ["1"] });

Deno.test("parseOrigin() gives the normal form of an origin and refuses anything else", () => {
  assert.equal(parseOrigin("https://Dash.Example:443"), "https://dash.example");
  assert.equal(parseOrigin("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
  assert.equal(parseOrigin("http://[::1]:9000"), "http://[::1]:9000");
  for (
    const bad of [
      "*",
      "dash.example",
      "ftp://x",
      "https://x/path",
      "https://x/",
      "https://u@x",
      "null",
    ]
  ) {
    assert.throws(() => parseOrigin(bad), TypeError, bad);
  }
});

Deno.test("parseHostName() takes a bare name and refuses ports, schemes and paths", () => {
  assert.equal(parseHostName("Robot1.Local"), "robot1.local");
  assert.equal(parseHostName("robot1.local."), "robot1.local");
  for (const bad of ["robot:8080", "http://robot", "robot/x", "a b", "", "-x"]) {
    assert.throws(() => parseHostName(bad), TypeError, bad);
  }
});

Deno.test("hostNameOf() reads the name of a Host header, with or without port", () => {
  assert.equal(hostNameOf("LOCALHOST:8080"), "localhost");
  assert.equal(hostNameOf("127.0.0.1"), "127.0.0.1");
  assert.equal(hostNameOf("[::1]:8080"), "::1");
  assert.equal(hostNameOf("evil.example.:80"), "evil.example");
  assert.equal(hostNameOf("a b"), undefined);
  assert.equal(hostNameOf("user@host"), undefined);
});

Deno.test("requestGuard() answers only loopback names (and allowed ones) on a loopback listener", async () => {
  const { app } = setup({ loopback: true, allowHosts: ["robot1.local"] });
  const get = (host: string) =>
    app.request(`http://${host}/api/services/list`, { headers: { host } });
  for (
    const host of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2", "robot1.local:80"]
  ) {
    assert.equal((await get(host)).status, 200, host);
  }
  for (
    const host of ["evil.example:8080", "evil.example", "10.0.0.1:8080", "localhost.evil.example"]
  ) {
    const res = await get(host);
    assert.equal(res.status, 403, host);
    assert.match((await res.json()).error, /^Host .* refused: .*--allow-host/);
  }
  // Not on a loopback listener: the token guards there.
  const open = setup({ loopback: false }).app;
  const res = await open.request("http://evil.example/api/services/list", {
    headers: { host: "evil.example" },
  });
  assert.equal(res.status, 200);
});

Deno.test("requestGuard() refuses cross-site and foreign-origin requests, and changes nothing", async () => {
  const { app, control } = setup({ loopback: true });
  const attempts: Record<string, string>[] = [
    { "sec-fetch-site": "cross-site" },
    { "sec-fetch-site": "same-site" },
    { origin: "http://evil.example" },
    { origin: "http://127.0.0.1:9999" },
    { origin: "null" },
    { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", origin: "http://evil.example" },
  ];
  for (const headers of attempts) {
    for (
      const [method, path] of [["POST", "/api/services/stop/api"], [
        "GET",
        "/api/services/logs/api",
      ]]
    ) {
      const res = await app.request(`http://127.0.0.1:8080${path}`, {
        method,
        headers: { host: "127.0.0.1:8080", ...headers },
      });
      assert.equal(res.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.match((await res.json()).error, /^Cross-(origin|site) request refused/);
    }
  }
  assert.deepEqual(control.calls.filter((c) => c.method !== "list"), []);
});

Deno.test("requestGuard() lets the page's own requests and link navigations through", async () => {
  const { app, control } = setup({ loopback: true });
  const own = await app.request("http://127.0.0.1:8080/api/services/stop/api", {
    method: "POST",
    headers: {
      host: "127.0.0.1:8080",
      origin: "http://127.0.0.1:8080",
      "sec-fetch-site": "same-origin",
    },
  });
  assert.equal(own.status, 200);
  assert.deepEqual(control.calls.map((c) => c.method), ["stop"]);
  // A link from another site to the page (or to an endpoint) opens it.
  for (const path of ["/services", "/api/services/list"]) {
    const res = await app.request(`http://127.0.0.1:8080${path}`, {
      headers: {
        host: "127.0.0.1:8080",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
      },
    });
    assert.equal(res.status, 200, path);
  }
  // A form posted from another site is a navigation too, but not a GET.
  const form = await app.request("http://127.0.0.1:8080/api/services/stop/api", {
    method: "POST",
    headers: {
      host: "127.0.0.1:8080",
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
    },
  });
  assert.equal(form.status, 403);
});

Deno.test("requestGuard() serves an allowed origin, CORS preflight included", async () => {
  const { app, control } = setup({ loopback: true, allowOrigins: ["https://dash.example"] });
  const headers = {
    host: "127.0.0.1:8080",
    origin: "https://dash.example",
    "sec-fetch-site": "cross-site",
  };
  const preflight = await app.request("http://127.0.0.1:8080/api/services/restart/api", {
    method: "OPTIONS",
    headers: {
      ...headers,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "https://dash.example");
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
  const res = await app.request("http://127.0.0.1:8080/api/services/restart/api", {
    method: "POST",
    headers,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://dash.example");
  assert.equal(res.headers.get("vary"), "Origin");
  assert.deepEqual(control.calls.map((c) => c.method), ["restart"]);
  // Another origin gets no preflight answer.
  const other = await app.request("http://127.0.0.1:8080/api/services/restart/api", {
    method: "OPTIONS",
    headers: {
      ...headers,
      origin: "https://other.example",
      "access-control-request-method": "POST",
    },
  });
  assert.equal(other.status, 403);
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

Deno.test("requestGuard() takes bodies as application/json only (415 otherwise)", async () => {
  const { app, control } = setup({});
  for (
    const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
    ]
  ) {
    const res = await app.request("/api/services", {
      method: "POST",
      body: SERVICE,
      headers: { "content-type": type },
    });
    assert.equal(res.status, 415, type);
    assert.match((await res.json()).error, /^Unsupported Content-Type .*application\/json/);
  }
  // Request gives a string body "text/plain;charset=UTF-8" unless told otherwise.
  assert.equal((await app.request("/api/services", { method: "POST", body: SERVICE })).status, 415);
  assert.deepEqual(control.calls, []);
  const json = await app.request("/api/services", {
    method: "POST",
    body: SERVICE,
    headers: { "content-type": "Application/JSON; charset=utf-8" },
  });
  assert.equal(json.status, 201);
  // An action without a body needs no type.
  assert.equal((await app.request("/api/services/stop/api", { method: "POST" })).status, 200);
});
