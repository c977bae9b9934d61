/**
 * Random requests against a real `edgevisor run` with a token and real
 * services, for a bounded time: random paths (traversal, unicode, very long,
 * percent-encoded junk), methods, query strings, headers and bodies, over
 * `fetch` and over raw HTTP/1.1 on a socket (for what `fetch` would clean
 * up). Never a 5xx, never a crash, never an action without the token, and
 * every answer received through `fetch` as the OpenAPI document describes it.
 *
 * `EDGEVISOR_FUZZ_SECONDS` sets the duration (default 10),
 * `EDGEVISOR_FUZZ_SEED` replays a run; the seed is printed on failure.
 *
 * @module
 */
import assert from "node:assert/strict";
import { checkAnswer } from "../src/api/answer_check.ts";
import { FAST, prng, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";

const TOKEN = "fuzz-token-5d1c0b7e9a";
const SECONDS = Number(Deno.env.get("EDGEVISOR_FUZZ_SECONDS") ?? "10");
const SEED = Number(Deno.env.get("EDGEVISOR_FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = 6;
const NAMES = ["web", "db", "job1", "nope", "extra"];

/** Helpers over the deterministic {@linkcode prng} of the harness. */
function rng(seed: number) {
  const next = prng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof rng>;

const SEGMENTS = [
  "api",
  "services",
  "list",
  "status",
  "start",
  "stop",
  "restart",
  "run",
  "logs",
  "health",
  "events",
  "reload",
  "metrics",
  "openapi.json",
  ...NAMES,
  "..",
  ".",
  "%2e%2e",
  "%2E%2E%2F",
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "%ff%fe",
  "%",
  "%zz",
  "%c0%ae",
  "ünïcødé",
  "😀",
  "名前",
  "a b",
  "a%20b",
  "",
  "~",
  "${HOME}",
  "'; DROP TABLE",
  "<script>",
  "-1",
  "0",
  "9".repeat(40),
];

function junkString(r: Rng, max = 40): string {
  const alphabet = [
    ..."abcXYZ019-_.~/%?#&=+;:@!$'()*,[]{}|\\^`\"<> ",
    "é",
    "ß",
    "😀",
    "\u0000",
    "\u202e",
    "\uffff",
  ];
  let s = "";
  const n = r.int(max);
  for (let i = 0; i < n; i++) s += r.pick(alphabet);
  return s;
}

function randomPath(r: Rng): string {
  if (r.chance(0.03)) return "/" + "a".repeat(1000 + r.int(20_000));
  if (r.chance(0.05)) return "/" + junkString(r, 80);
  const known = [
    "/api/services/list",
    "/api/services/status/web",
    "/api/services/logs/web",
    "/api/services/logs/web?follow=1",
    "/api/services/start/db",
    "/api/services/stop/web",
    "/api/services/restart/web",
    "/api/services/run/job1",
    "/api/services/reload",
    "/api/services",
    "/api/services/web",
    "/api/services/events",
    "/api/health",
    "/metrics",
    "/services",
    "/",
  ];
  if (r.chance(0.4)) return r.pick(known);
  const parts: string[] = [];
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) parts.push(r.chance(0.85) ? r.pick(SEGMENTS) : junkString(r, 12));
  return (r.chance(0.1) ? "//" : "/") + parts.join(r.chance(0.05) ? "//" : "/");
}

function randomQuery(r: Rng): string {
  if (r.chance(0.5)) return "";
  const keys = ["lines", "stream", "force", "now", "follow", "token", "x", junkString(r, 8)];
  const values = [
    "1",
    "0",
    "-1",
    "10000",
    "10001",
    "1e309",
    "NaN",
    "true",
    "false",
    "stdout",
    "stderr",
    "both",
    "",
    "%zz",
    "9".repeat(400),
    junkString(r, 20),
  ];
  const n = 1 + r.int(4);
  const pairs: string[] = [];
  for (let i = 0; i < n; i++) pairs.push(`${r.pick(keys)}=${r.pick(values)}`);
  return "?" + pairs.join(r.chance(0.9) ? "&" : ";");
}

function deepJson(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

function randomBody(r: Rng): string | Uint8Array<ArrayBuffer> | undefined {
  const k = r.int(12);
  switch (k) {
    case 0:
      return undefined;
    case 1:
      return "{";
    case 2:
      return deepJson(1 + r.int(5000));
    case 3:
      return JSON.stringify({
        name: r.pick(NAMES),
        cmd: r.pick(["sleep", "", junkString(r)]),
        args: r.chance(0.5) ? ["1"] : [1e308, null, {}],
      });
    case 4:
      return JSON.stringify({ name: junkString(r), restart_policy: junkString(r), port: -1 });
    case 5: {
      const bytes = new Uint8Array(r.int(4096));
      for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
      return bytes;
    }
    case 6:
      return "x".repeat(r.chance(0.3) ? 1024 * 1024 + 1 + r.int(100_000) : r.int(10_000));
    case 7:
      return '{"a":1,"a":2,"__proto__":{"polluted":true},"constructor":{"prototype":{}}}';
    case 8:
      return JSON.stringify({ name: "x".repeat(r.int(300)), cmd: "sleep", args: ["😀\u0000"] });
    case 9:
      return "null";
    case 10:
      return String(r.next() * 1e308);
    default:
      return junkString(r, 200);
  }
}

function randomAuthorization(r: Rng): string | undefined {
  return r.pick([
    undefined,
    undefined,
    "Bearer",
    "Bearer ",
    "Bearer wrong",
    `Bearer ${TOKEN.slice(0, -1)}`,
    `Bearer ${TOKEN}x`,
    `Bearer  x${TOKEN}`,
    `Basic ${btoa(`user:${TOKEN}`)}`,
    TOKEN,
    `Token ${TOKEN}`,
    `Bearer ${"z".repeat(8000)}`,
    `Bearer ${junkString(r, 30).replace(/[^\x21-\x7e]/g, "q")}`,
  ]);
}

const METHODS = ["GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FUZZ"];

interface Outcome {
  status: number;
  what: string;
}

/** One request through `fetch`; undefined when `fetch` refused to build it. */
async function viaFetch(
  base: string,
  r: Rng,
  authorized: boolean,
): Promise<Outcome | undefined> {
  const method = r.pick(METHODS);
  const path = randomPath(r) + randomQuery(r);
  const headers = new Headers();
  const auth = authorized ? `Bearer ${TOKEN}` : randomAuthorization(r);
  const what = `${method} ${path.slice(0, 200)} auth=${JSON.stringify(auth?.slice(0, 40))}`;
  let body = method === "GET" || method === "HEAD" ? undefined : randomBody(r);
  try {
    if (auth !== undefined) headers.set("authorization", auth);
    if (r.chance(0.5)) {
      headers.set("content-type", r.pick(["application/json", "text/plain", "x/y"]));
    }
    if (r.chance(0.2)) headers.set("accept", "text/event-stream");
    if (r.chance(0.1)) headers.set("origin", "http://evil.example");
    if (r.chance(0.1)) headers.set("x-" + junkString(r, 10).replace(/[^a-z]/g, "") + "h", "v");
    if (r.chance(0.05)) headers.set("cookie", "session=" + "c".repeat(r.int(4000)));
    if (typeof body === "string" && body.length === 0) body = undefined;
  } catch {
    return undefined;
  }
  let res: Response;
  const signal = AbortSignal.timeout(15_000);
  try {
    res = await fetch(base + path, { method, headers, body, signal });
  } catch (error) {
    if (error instanceof TypeError && !/connection|reset|refused|closed/i.test(error.message)) {
      return undefined; // a request fetch will not send (bad URL or header)
    }
    throw new Error(`${what}: ${(error as Error).message}`);
  }
  let answer: unknown = undefined;
  if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    await res.body?.cancel();
  } else {
    const text = await res.text();
    try {
      answer = JSON.parse(text);
    } catch {
      answer = text;
    }
  }
  const cors = [...res.headers.keys()].find((k) => k.startsWith("access-control-"));
  if (cors) throw new Error(`${what}: a CORS header ${cors}`);
  // The answer the server gave to the path it saw (fetch removes dot segments).
  const url = new URL(base + path);
  checkAnswer({
    method,
    path: url.pathname + url.search,
    status: res.status,
    headers: res.headers,
    body: method === "HEAD" ? undefined : answer,
  });
  return { status: res.status, what };
}

/** One request over raw HTTP/1.1, with a path `fetch` would normalise. */
async function viaSocket(port: number, r: Rng, authorized: boolean): Promise<Outcome | undefined> {
  const method = r.pick([...METHODS, "get", "P0ST"]);
  let path = randomPath(r) + randomQuery(r);
  if (r.chance(0.5)) path = path.replace(/%2e%2e/gi, "..");
  if (r.chance(0.1)) path = "/api/services/../../../../etc/passwd";
  if (r.chance(0.05)) path = "*";
  path = path.replace(/[\r\n ]/g, "_");
  const auth = authorized ? `Bearer ${TOKEN}` : randomAuthorization(r);
  const body = method === "GET" ? "" : (r.chance(0.5) ? junkString(r, 300) : "");
  const encoder = new TextEncoder();
  const bodyBytes = encoder.encode(body);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
  if (auth !== undefined) lines.push(`Authorization: ${auth.replace(/[\r\n]/g, "")}`);
  if (bodyBytes.length > 0 || r.chance(0.1)) {
    // Sometimes a Content-Length that lies (shorter than the body).
    const length = r.chance(0.1) ? Math.max(0, bodyBytes.length - 1) : bodyBytes.length;
    lines.push(`Content-Length: ${length}`);
  }
  if (r.chance(0.05)) lines.push(`X-Long: ${"h".repeat(r.int(20_000))}`);
  const what = `raw ${method} ${path.slice(0, 200)} auth=${JSON.stringify(auth?.slice(0, 40))}`;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
    await writeAll(conn, head);
    if (bodyBytes.length > 0) await writeAll(conn, bodyBytes);
    const buf = new Uint8Array(512);
    let text = "";
    const deadline = Date.now() + 15_000;
    while (!text.includes("\r\n") && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!match) return text === "" ? undefined : { status: 0, what: `${what}: ${text}` };
    return { status: Number(match[1]), what };
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
      return undefined; // the server hung up on a malformed request: fine
    }
    throw error;
  } finally {
    conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

interface Snapshot {
  names: string;
  state: string;
}

async function snapshot(url: string): Promise<Snapshot> {
  const res = await fetch(`${url}/api/services/list`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const body = await res.json() as {
    services: { name: string; pid: number | null; restarts: number; status: string }[];
  };
  return {
    names: body.services.map((s) => s.name).join(","),
    state: body.services.map((s) => `${s.name}:${s.status}:${s.pid}:${s.restarts}`).join(","),
  };
}

Deno.test({
  name: "api fuzz: random requests never answer 5xx, crash, or act without the token",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const secs = uniqueSeconds();
    await using orch = await startOrchestrator({
      registry: {
        services: [
          { ...FAST, name: "web", cmd: "sleep", args: [String(secs)], restart_policy: "always" },
          { ...FAST, name: "db", cmd: "sleep", args: [String(secs)], restart_policy: "always" },
          { ...FAST, name: "job1", kind: "job", autostart: false, cmd: "true" },
        ],
      },
      env: { EDGEVISOR_TOKEN: TOKEN },
    });
    const failures: string[] = [];
    let sent = 0;
    const statuses = new Map<number, number>();
    const fail = (text: string) => {
      if (failures.length < 20) failures.push(text);
    };
    const record = (o: Outcome | undefined) => {
      if (!o) return;
      sent++;
      statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      if (o.status >= 500 || o.status === 0) fail(`${o.status}: ${o.what}`);
    };
    const rootRng = rng(SEED);

    const fuzz = async (ms: number, authorized: boolean, check?: () => Promise<void>) => {
      const until = Date.now() + ms;
      const workers = Array.from({ length: WORKERS }, async (_, w) => {
        const r = rng(rootRng.int(2 ** 31) + w);
        while (Date.now() < until && failures.length < 20) {
          try {
            record(
              r.chance(0.7)
                ? await viaFetch(orch.url, r, authorized)
                : await viaSocket(orch.port, r, authorized),
            );
          } catch (error) {
            fail(`${(error as Error).message}`);
          }
        }
      });
      const checker = (async () => {
        while (check && Date.now() < until && failures.length < 20) {
          await check();
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      await Promise.all([...workers, checker]);
    };

    try {
      const before = await waitFor(async () => {
        const s = await snapshot(orch.url);
        return /web:running:\d+:0,db:running:\d+:0/.test(s.state) && s;
      }, { message: "web and db to run" });

      // Without the token: nothing may change, ever.
      const unauthorizedMs = SECONDS * 1000 * 0.7;
      await fuzz(unauthorizedMs, false, async () => {
        const now = await snapshot(orch.url);
        if (now.state !== before.state) fail(`state changed without the token: ${now.state}`);
      });
      const after = await snapshot(orch.url);
      if (after.state !== before.state) fail(`state changed without the token: ${after.state}`);
      const unauthorizedSent = sent;

      // With the token: actions may happen, but still never a 5xx or a crash.
      await fuzz(SECONDS * 1000 * 0.3, true);

      const health = await fetch(`${orch.url}/api/health`, { signal: AbortSignal.timeout(5000) });
      assert.equal(health.status, 200, "the orchestrator still answers /api/health");
      await health.body?.cancel();
      console.log(
        `api fuzz: seed ${SEED}, ${sent} requests in ${SECONDS} s (${unauthorizedSent} without the token); statuses ${
          JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))
        }`,
      );
      assert.ok(!orch.stderr().includes(TOKEN), "the orchestrator logged the token");
      assert.deepEqual(failures, [], `replay with EDGEVISOR_FUZZ_SEED=${SEED}`);
      assert.ok(unauthorizedSent > 100, `only ${unauthorizedSent} requests were sent`);
    } catch (error) {
      console.error(`api fuzz: failed with seed ${SEED} (EDGEVISOR_FUZZ_SEED=${SEED} replays it)`);
      console.error(`orchestrator stderr:\n${orch.stderr().slice(-4000)}`);
      throw error;
    }
  },
});
