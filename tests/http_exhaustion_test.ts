import assert from "node:assert/strict";
import { api, processAlive, ROOT, waitFor } from "./harness.ts";

/** Descriptor limit of the server process. */
const LIMIT = 256;
/** Idle connections the test opens: twice the limit. */
const CONNECTIONS = 2 * LIMIT;

/** The server program of `http_exhaustion_server.ts`, running under `ulimit -n LIMIT`. */
interface ServerProcess {
  pid: number;
  port: number;
  maxConnections: number;
  /** Descriptors it holds on purpose (with `LEAVE_FDS`). */
  held: number;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, and its exit status. */
  stop(): Promise<Deno.CommandStatus>;
  /** SIGKILL if still running, and wait for its exit. */
  kill(): Promise<void>;
}

async function startServer(env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${LIMIT} && exec "$0" run --allow-all --quiet tests/http_exhaustion_server.ts`,
      Deno.execPath(),
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let stdout = "";
  const { promise: ready, resolve: readyNow } = Promise.withResolvers<void>();
  const stdoutDone = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      stdout += chunk;
      if (stdout.includes("\n")) readyNow();
    }
    readyNow();
  })();
  const status = child.status;
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await status;
    await Promise.all([stdoutDone, stderrDone]);
  };
  await ready;
  if (!stdout.includes("\n")) {
    await kill();
    throw new Error(`The server did not start; stderr:\n${stderr}`);
  }
  const info = JSON.parse(stdout.slice(0, stdout.indexOf("\n")));
  return {
    pid: child.pid,
    ...info,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      const result = await status;
      await Promise.all([stdoutDone, stderrDone]);
      return result;
    },
    kill,
  };
}

/** Open `n` connections at once; those that fail (or take over 5 s) are left out. */
async function connectMany(port: number, n: number): Promise<Deno.TcpConn[]> {
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), 5000);
  try {
    const results = await Promise.allSettled(
      Array.from(
        { length: n },
        () => Deno.connect({ hostname: "127.0.0.1", port, signal: giveUp.signal }),
      ),
    );
    return results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  } finally {
    clearTimeout(timer);
  }
}

/** Sockets open in process `pid`. */
async function socketCount(pid: number): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      if ((await Deno.readLink(`/proc/${pid}/fd/${entry.name}`)).startsWith("socket:")) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** The server answers a plain request with 200 (waits while it refuses or resets). */
async function answers(server: ServerProcess): Promise<void> {
  await waitFor(
    async () => (await api(`http://127.0.0.1:${server.port}`, "GET", "/")).status === 200,
    {
      timeoutMs: 30_000,
      message: "GET / to answer 200",
    },
  );
}

/** Nothing uncaught, no panic, still running. */
async function assertHealthy(server: ServerProcess): Promise<void> {
  assert.ok(await processAlive(server.pid), `the server exited; stderr:\n${server.stderr()}`);
  assert.doesNotMatch(server.stderr(), /Uncaught|panicked|error:/i);
}

Deno.test("serveHttp() under a descriptor limit of 256 keeps its sockets to the cap through 512 idle connections", async () => {
  const server = await startServer();
  const conns: Deno.TcpConn[] = [];
  try {
    assert.equal(server.maxConnections, LIMIT / 4);
    const before = await socketCount(server.pid); // the listener and the runtime's own
    conns.push(...await connectMany(server.port, CONNECTIONS));
    assert.ok(conns.length >= server.maxConnections, `only ${conns.length} connections opened`);
    const counts: number[] = [];
    await waitFor(async () => {
      counts.push(await socketCount(server.pid));
      return counts.length >= 10 && counts.at(-1)! > server.maxConnections;
    }, { message: "the cap to fill" });
    const most = Math.max(...counts) - before;
    // The cap, 8 refused connections lingering after their 503, one refused at once, one spare.
    assert.ok(most <= server.maxConnections + 10, `${most} sockets opened`);
    await assertHealthy(server);

    const refused = await api(`http://127.0.0.1:${server.port}`, "GET", "/").catch(() => undefined);
    if (refused !== undefined) assert.equal(refused.status, 503);

    for (const conn of conns.splice(0)) conn.close();
    await answers(server);
    await assertHealthy(server);
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr());
    assert.match(server.stderr(), /stopped/);
  } finally {
    for (const conn of conns) conn.close();
    await server.kill();
  }
});

Deno.test("serveHttp() with its descriptors used up elsewhere logs the accept errors, waits, and serves again", async () => {
  const server = await startServer({ LEAVE_FDS: "8" });
  const conns: Deno.TcpConn[] = [];
  try {
    assert.ok(server.held > 100, `held ${server.held} descriptors`);
    conns.push(...await connectMany(server.port, CONNECTIONS));
    await waitFor(() => server.stderr().includes("api: cannot accept a connection: "), {
      message: "the accept error in the log",
    });
    assert.match(server.stderr(), /Too many open files/);
    await assertHealthy(server);

    for (const conn of conns.splice(0)) conn.close();
    await answers(server);
    await assertHealthy(server);
    // At most one line a minute.
    assert.equal(server.stderr().split("api: cannot accept a connection").length - 1, 1);
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr());
  } finally {
    for (const conn of conns) conn.close();
    await server.kill();
  }
});
