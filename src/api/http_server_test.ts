import assert from "node:assert/strict";
import { waitFor } from "../../tests/harness.ts";

import type { SupervisorEvent, Watch } from "../types.ts";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import {
  connectionCap,
  type FetchHandler,
  type HttpServer,
  type HttpServerOptions,
  MIN_CONNECTIONS,
  serveHttp,
  softOpenFileLimit,
} from "./http_server.ts";

/** A server on a free loopback port, and the lines it logged. */
function start(
  handler: FetchHandler,
  options: Partial<HttpServerOptions> = {},
): { server: HttpServer; url: string; logs: string[] } {
  const logs: string[] = [];
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    log: (line) => logs.push(line),
    ...options,
  });
  return { server, url: `http://127.0.0.1:${server.addr.port}`, logs };
}

/** Answers what it was asked: method, URL, some headers, and the body as text. */
const echo: FetchHandler = async (request) =>
  Response.json({
    method: request.method,
    url: request.url,
    host: request.headers.get("host"),
    body: await request.text(),
  });

/** A raw client connection: bytes out, text in, with deadlines. */
class Raw {
  readonly #conn: Deno.TcpConn;
  readonly #decoder = new TextDecoder();
  readonly #buf = new Uint8Array(65_536);
  /** Everything received so far. */
  text = "";

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(server: HttpServer): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
  }

  /** Read until `done(text)` holds; fails when the server closes first or after `timeoutMs`. */
  async until(done: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!done(this.text)) {
      const n = await this.#read(deadline, what);
      if (n === null) {
        throw new Error(
          `Connection closed while waiting for ${what}; got ${JSON.stringify(this.text)}`,
        );
      }
    }
    return this.text;
  }

  /** Wait until the server closes the connection (end of stream or reset). */
  async closed(what = "the server to close the connection", timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (await this.#read(deadline, what) !== null) {
      // keep reading until the end
    }
  }

  async #read(deadline: number, what: string): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), Math.max(0, deadline - performance.now()));
    });
    try {
      const n = await Promise.race([
        this.#conn.read(this.#buf).catch((error) => {
          if (error instanceof Deno.errors.ConnectionReset) return null;
          throw error;
        }),
        late,
      ]);
      if (n === "late") {
        throw new Error(`Timed out waiting for ${what}; got ${JSON.stringify(this.text)}`);
      }
      if (n !== null) this.text += this.#decoder.decode(this.#buf.subarray(0, n), { stream: true });
      return n;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Number of complete answers in `text` that start with `status`. */
function count(text: string, status: string): number {
  return text.split(`HTTP/1.1 ${status}`).length - 1;
}

/** The JSON body of the last answer in `text` (one with `Content-Length`). */
function lastJson(text: string): unknown {
  const at = text.lastIndexOf("\r\n\r\n");
  return JSON.parse(text.slice(at + 4));
}

Deno.test("connectionCap() is a quarter of the descriptor limit, bounded by the request and a floor", () => {
  assert.equal(connectionCap(undefined, 1024), 256);
  assert.equal(connectionCap(undefined, 20_000), 5000);
  assert.equal(connectionCap(undefined, undefined), 256);
  assert.equal(connectionCap(100, 1024), 100);
  assert.equal(connectionCap(1000, 1024), 256);
  assert.equal(connectionCap(1, 1024), MIN_CONNECTIONS);
  assert.equal(connectionCap(undefined, 16), MIN_CONNECTIONS);
});

Deno.test("softOpenFileLimit() reads the soft limit of this process", async () => {
  const out = await new Deno.Command("sh", { args: ["-c", "ulimit -Sn"] }).output();
  const expected = Number(new TextDecoder().decode(out.stdout));
  assert.equal(softOpenFileLimit(), expected);
});

Deno.test("serveHttp() throws listen errors from the call", async () => {
  const { server } = start(echo);
  try {
    assert.throws(() => start(echo, { port: server.addr.port }), Deno.errors.AddrInUse);
    assert.throws(() => start(echo, { hostname: "no-such-host.invalid" }));
    assert.throws(() => start(echo, { headerTimeoutMs: 0 }), RangeError);
    assert.throws(() => start(echo, { maxConnections: 1.5 }), RangeError);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers fetch: JSON, request bodies, URL from Host", async () => {
  const { server, url } = start(echo);
  try {
    const get = await fetch(`${url}/a/b?c=1`);
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-type"), "application/json");
    assert.deepEqual(await get.json(), {
      method: "GET",
      url: `${url}/a/b?c=1`,
      host: url.slice(7),
      body: "",
    });
    const body = "x".repeat(100_000);
    const post = await fetch(`${url}/post`, { method: "POST", body });
    assert.equal(((await post.json()) as { body: string }).body, body);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() keeps a connection alive for the next request", async () => {
  const { server } = start(echo);
  const raw = await Raw.open(server);
  try {
    await raw.send("GET /one HTTP/1.1\r\nHost: example.test\r\n\r\n");
    await raw.until((t) => t.includes("/one"), "the first answer");
    await raw.send("GET /two HTTP/1.1\r\nHost: example.test\r\n\r\n");
    const text = await raw.until((t) => t.includes("/two"), "the second answer");
    assert.equal(count(text, "200 OK"), 2);
    assert.ok(!text.includes("connection: close"));
    assert.equal(server.connections, 1);
    assert.deepEqual(lastJson(text), {
      method: "GET",
      url: "http://example.test/two",
      host: "example.test",
      body: "",
    });
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers pipelined requests in order", async () => {
  const { server } = start(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 50));
    return new Response(path);
  });
  const raw = await Raw.open(server);
  try {
    await raw.send(
      "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nPOST /fast HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    );
    const text = await raw.until((t) => t.endsWith("/fast"), "both answers");
    assert.ok(text.indexOf("/slow") < text.indexOf("/fast"));
    assert.equal(count(text, "200 OK"), 2);
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() decodes a chunked request body", async () => {
  const { server } = start(echo);
  const raw = await Raw.open(server);
  try {
    await raw.send(
      "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    await raw.send("7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n");
    await raw.until((t) => t.endsWith("}"), "the answer");
    assert.equal((lastJson(raw.text) as { body: string }).body, "hello, world");
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers Expect: 100-continue before it reads the body", async () => {
  const { server } = start(echo);
  const raw = await Raw.open(server);
  try {
    await raw.send(
      "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    const interim = await raw.until((t) => t.includes("\r\n\r\n"), "100 Continue");
    assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    await raw.send("hello");
    await raw.until((t) => t.endsWith("}"), "the answer");
    assert.equal((lastJson(raw.text) as { body: string }).body, "hello");
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 413 to a large Content-Length without reading it, and closes", async () => {
  let calls = 0;
  const { server } = start((request) => {
    calls++;
    return echo(request);
  }, { maxBodyBytes: 1000 });
  const raw = await Raw.open(server);
  try {
    await raw.send(
      "POST /big HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n",
    );
    await raw.closed();
    assert.ok(raw.text.startsWith("HTTP/1.1 413 Content Too Large\r\n"), raw.text);
    assert.ok(!raw.text.includes("100 Continue"));
    assert.ok(raw.text.includes("connection: close\r\n"));
    assert.deepEqual(lastJson(raw.text), {
      ok: false,
      error: "Request body too large: the limit is 1000 bytes",
    });
    assert.equal(calls, 0);
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 413 as soon as a chunked body grows past the limit", async () => {
  const { server } = start(echo, { maxBodyBytes: 1000 });
  const raw = await Raw.open(server);
  try {
    await raw.send("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    await raw.send(`200\r\n${"x".repeat(512)}\r\n`);
    await raw.send(`200\r\n${"x".repeat(100)}`); // the rest never comes
    await raw.closed();
    assert.ok(raw.text.startsWith("HTTP/1.1 413 "), raw.text);
    assert.deepEqual(lastJson(raw.text), {
      ok: false,
      error: "Request body too large: the limit is 1000 bytes",
    });
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 400 to garbage and to bad header fields, and closes", async () => {
  const { server } = start(echo);
  try {
    for (
      const wire of [
        "hello\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\u0001b\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET * HTTP/1.1\r\n\r\n",
        "TRACE / HTTP/1.1\r\n\r\n",
      ]
    ) {
      const raw = await Raw.open(server);
      try {
        await raw.send(wire);
        await raw.closed();
        assert.ok(raw.text.startsWith("HTTP/1.1 400 Bad Request\r\n"), `${wire}: ${raw.text}`);
        const body = lastJson(raw.text) as { ok: boolean; error: string };
        assert.equal(body.ok, false);
        assert.match(body.error, /^[A-Z]/);
      } finally {
        raw.close();
      }
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 501 to an unknown transfer coding and 431 to a large head", async () => {
  const { server } = start(echo, { maxHeaderBytes: 1024 });
  try {
    const cases: [string, string][] = [
      ["POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented"],
      [
        `GET / HTTP/1.1\r\nX-Big: ${"x".repeat(2000)}\r\n\r\n`,
        "431 Request Header Fields Too Large",
      ],
      [`GET / HTTP/1.1\r\nX-Big: ${"x".repeat(2000)}`, "431 Request Header Fields Too Large"],
    ];
    for (const [wire, status] of cases) {
      const raw = await Raw.open(server);
      try {
        await raw.send(wire);
        await raw.closed();
        assert.ok(raw.text.startsWith(`HTTP/1.1 ${status}\r\n`), raw.text);
      } finally {
        raw.close();
      }
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a connection that sends nothing, or half a head, in time", async () => {
  const { server } = start(echo, { headerTimeoutMs: 200, idleTimeoutMs: 60_000 });
  const silent = await Raw.open(server);
  const half = await Raw.open(server);
  try {
    await half.send("GET / HTTP/1.1\r\nHost: a\r\n");
    await silent.closed("the silent connection to be closed");
    await half.closed("the half-head connection to be closed");
    assert.equal(silent.text, "");
    assert.ok(half.text.startsWith("HTTP/1.1 408 Request Timeout\r\n"), half.text);
    await waitFor(() => server.connections === 0, { message: "no connection left" });
  } finally {
    silent.close();
    half.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a kept-alive connection after the idle timeout", async () => {
  const { server } = start(echo, { idleTimeoutMs: 200, headerTimeoutMs: 60_000 });
  const raw = await Raw.open(server);
  try {
    await raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    await raw.until((t) => t.endsWith("}"), "the answer");
    await raw.closed("the idle connection to be closed");
    assert.equal(count(raw.text, "200 OK"), 1);
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 503 past the cap, and serves again once connections drop", async () => {
  const { server, url } = start(echo, { maxConnections: MIN_CONNECTIONS });
  const idle: Raw[] = [];
  try {
    for (let i = 0; i < MIN_CONNECTIONS; i++) idle.push(await Raw.open(server));
    await waitFor(() => server.connections === MIN_CONNECTIONS, { message: "the cap reached" });
    const refused = await fetch(`${url}/x`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(refused.headers.get("connection"), "close");
    assert.deepEqual(await refused.json(), {
      ok: false,
      error: `Too many connections (${MIN_CONNECTIONS} open); try again in a moment`,
    });
    for (const raw of idle) raw.close();
    await waitFor(() => server.connections === 0, { message: "the idle connections dropped" });
    const served = await fetch(`${url}/x`);
    assert.equal(served.status, 200);
    await served.body?.cancel();
  } finally {
    for (const raw of idle) raw.close();
    await server.shutdown();
  }
});

/** An event stream that sends one event, then stays silent; `cancelled` resolves when cancelled. */
function silentStream(): { response: Response; cancelled: Promise<void> } {
  const { promise: cancelled, resolve } = Promise.withResolvers<void>();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("data: first\n\n"));
    },
    cancel() {
      resolve();
    },
  });
  const response = new Response(body, { headers: { "content-type": "text/event-stream" } });
  return { response, cancelled };
}

Deno.test("serveHttp() streams an event stream and cancels it when the client goes away", async () => {
  let stream: { response: Response; cancelled: Promise<void> } | undefined;
  const { server, url } = start(() => (stream = silentStream()).response);
  try {
    const raw = await Raw.open(server);
    await raw.send("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await raw.until((t) => t.includes("data: first\n\n\r\n"), "the first event");
    assert.ok(text.includes("transfer-encoding: chunked\r\n"));
    assert.ok(text.endsWith("\r\n\r\nd\r\ndata: first\n\n\r\n"), text);
    raw.close();
    await stream!.cancelled; // the stream is silent: only the close tells
    await waitFor(() => server.connections === 0, { message: "the connection closed" });

    // The same through fetch, whose reader cancels.
    const response = await fetch(`${url}/events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value, "data: first\n\n");
    const second = stream!;
    await reader.cancel();
    await second.cancelled;
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveHttp() ends a stream with the last chunk on HTTP/1.1, and by the close on HTTP/1.0", async () => {
  const handler = () =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data: a\n\n"));
          controller.close();
        },
      }),
      { headers: { "content-type": "text/event-stream; charset=utf-8" } },
    );
  const { server } = start(handler);
  const raw11 = await Raw.open(server);
  const raw10 = await Raw.open(server);
  try {
    await raw11.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await raw11.until((t) => t.endsWith("0\r\n\r\n"), "the last chunk");
    assert.ok(text.endsWith("\r\n\r\n9\r\ndata: a\n\n\r\n0\r\n\r\n"), text);
    await raw10.send("GET / HTTP/1.0\r\n\r\n");
    await raw10.closed();
    assert.ok(raw10.text.endsWith("connection: close\r\n\r\ndata: a\n\n"), raw10.text);
    assert.ok(!raw10.text.includes("transfer-encoding"));
  } finally {
    raw11.close();
    raw10.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers HEAD with the headers only, and the connection goes on", async () => {
  const { server } = start((request) =>
    new Response(request.method === "HEAD" ? null : "hello", {
      headers: { "content-type": "text/plain", "content-length": "5" },
    })
  );
  const raw = await Raw.open(server);
  try {
    await raw.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await raw.until((t) => t.endsWith("hello"), "both answers");
    const [head, get] = text.split(/(?=HTTP\/1\.1 )/);
    assert.ok(head!.includes("\r\ncontent-length: 5\r\n") && head!.endsWith("\r\n\r\n"), head);
    assert.ok(get!.startsWith("HTTP/1.1 200 OK\r\n"), get);
    const noBody = await fetch(`http://127.0.0.1:${server.addr.port}/`, { method: "HEAD" });
    assert.equal(noBody.headers.get("content-length"), "5");
    assert.equal(await noBody.text(), "");
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 204 and 304 without a body", async () => {
  const { server } = start((request) =>
    new Response(null, { status: request.url.endsWith("/204") ? 204 : 304 })
  );
  const raw = await Raw.open(server);
  try {
    await raw.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await raw.until(
      (t) => count(t, "304 Not Modified") === 1 && t.endsWith("\r\n\r\n"),
      "both",
    );
    assert.ok(text.startsWith("HTTP/1.1 204 No Content\r\n"));
    assert.ok(!text.includes("content-length"));
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() answers 500 when the handler throws, logs it, and goes on", async () => {
  const { server, url, logs } = start((request) => {
    if (request.url.endsWith("/sync")) throw new Error("boom in sync");
    if (request.url.endsWith("/async")) return Promise.reject(new Error("boom in async"));
    if (request.url.endsWith("/wrong")) return "not a response" as unknown as Response;
    return new Response("fine");
  });
  try {
    for (const path of ["/sync", "/async", "/wrong"]) {
      const response = await fetch(url + path);
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { ok: false, error: "Internal error" });
    }
    assert.match(logs[0]!, /^api: GET \/sync failed: Error: boom in sync/);
    assert.match(logs[1]!, /^api: GET \/async failed: Error: boom in async/);
    assert.match(logs[2]!, /^api: GET \/wrong failed: TypeError: /);
    const fine = await fetch(url + "/");
    assert.equal(await fine.text(), "fine");
  } finally {
    await server.shutdown();
  }
});

Deno.test("HttpServer.shutdown() closes idle connections at once and lets a busy one finish", async () => {
  const { promise: release, resolve: finish } = Promise.withResolvers<void>();
  const { promise: entered, resolve: enter } = Promise.withResolvers<void>();
  const { server } = start(async (request) => {
    if (request.url.endsWith("/busy")) {
      enter();
      await release;
    }
    return new Response("done");
  }, { shutdownTimeoutMs: 60_000 });
  const idle = await Raw.open(server);
  const busy = await Raw.open(server);
  try {
    await idle.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
    await idle.until((t) => t.endsWith("done"), "the first answer");
    await busy.send("GET /busy HTTP/1.1\r\nHost: a\r\n\r\n");
    await entered;
    let stopped = false;
    const stopping = server.shutdown().then(() => (stopped = true));
    await idle.closed("the idle connection to be closed");
    assert.equal(stopped, false);
    await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
    finish();
    await busy.closed("the busy connection to be closed after its answer");
    assert.ok(busy.text.includes("connection: close\r\n"), busy.text);
    assert.ok(busy.text.endsWith("done"));
    await stopping;
    await server.finished;
    assert.equal(server.connections, 0);
    await server.shutdown(); // again: nothing to do
  } finally {
    idle.close();
    busy.close();
    finish();
    await server.shutdown();
  }
});

Deno.test("HttpServer.shutdown() closes what is left after its deadline", async () => {
  let cancelled = false;
  const { server } = start(
    () =>
      new Response(new ReadableStream({ cancel: () => void (cancelled = true) }), {
        headers: { "content-type": "text/event-stream" },
      }),
    { shutdownTimeoutMs: 100 },
  );
  const raw = await Raw.open(server);
  const controller = new AbortController();
  try {
    await raw.send("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    await raw.until((t) => t.includes("\r\n\r\n"), "the head of the stream");
    server.shutdown();
    await raw.closed("the stream to be closed by the deadline");
    await server.finished;
    assert.equal(cancelled, true);
  } finally {
    controller.abort();
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() shuts down when its signal aborts", async () => {
  const controller = new AbortController();
  const { server } = start(echo, { signal: controller.signal });
  controller.abort();
  await server.finished;
  await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
});

Deno.test("serveHttp() uses the listen address without a usable Host, and HTTP/1.0 closes", async () => {
  const { server, url } = start(echo);
  const raw = await Raw.open(server);
  try {
    await raw.send("GET /x HTTP/1.0\r\nHost: bad host\r\n\r\n");
    await raw.closed();
    assert.ok(raw.text.includes("connection: close\r\n"));
    assert.equal((lastJson(raw.text) as { url: string }).url, `${url}/x`);
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() serves the API app: a client that leaves an event stream ends its subscription", async () => {
  let watching = 0;
  class CountingControl extends FakeControl {
    override watch(listener: (event: SupervisorEvent) => void): Watch {
      const watch = super.watch(listener);
      watching++;
      return { ...watch, unsubscribe: () => (watching--, watch.unsubscribe()) };
    }
  }
  const app = createApp(new CountingControl([fakeStatus("a")]), { live: { heartbeatMs: 600_000 } });
  const own = watching; // the app's own subscription (its metrics count transitions)
  const { server, url } = start(app.fetch);
  const raw = await Raw.open(server);
  try {
    const list = await fetch(`${url}/api/services/list`);
    assert.equal(((await list.json()) as { services: unknown[] }).services.length, 1);
    await raw.send("GET /api/services/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await raw.until((t) => t.includes("event: snapshot"), "the snapshot event");
    assert.equal(watching, own + 1);
    raw.close();
    await waitFor(() => watching === own, { message: "the subscription to end" });
  } finally {
    raw.close();
    await server.shutdown();
  }
});

Deno.test("serveHttp() closes a connection whose client does not read within the write timeout", async () => {
  const body = new Uint8Array(64 * 1024 * 1024); // more than the socket buffers hold
  const { server } = start(() => new Response(body), { writeTimeoutMs: 200 });
  const raw = await Raw.open(server);
  try {
    await raw.send("GET /large HTTP/1.1\r\nHost: a\r\n\r\n");
    await waitFor(() => server.connections === 1, { message: "the connection to open" });
    await waitFor(() => server.connections === 0, { message: "the stuck connection to be closed" });
  } finally {
    raw.close();
    await server.shutdown();
  }
});
