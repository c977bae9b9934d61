/**
 * A real `nats-server` for tests: started on a loopback port (a free one by
 * default, or a fixed one so that it can be killed and started again for
 * outage tests), with or without JetStream, or from a configuration file
 * (read out of the documentation, so that what the docs give is what is
 * tested), waiting for readiness by connecting, never by sleeping.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { freePort, removeDir, tempDir, waitFor } from "./harness.ts";

/** Path of the server binary (`NATS_SERVER` overrides). */
export const NATS_SERVER: string = Deno.env.get("NATS_SERVER") ?? "nats-server";

/** Options of {@linkcode startNatsServer}. */
export interface NatsServerOptions {
  /** Enable JetStream (`-js`). @default false */
  jetstream?: boolean;
  /** Port; a free one by default. */
  port?: number;
  /** More arguments. */
  args?: string[];
  /** More options of the test's own connections (credentials, TLS) for a server that needs them. */
  client?: Partial<ConnectionOptions>;
  /**
   * Configuration file text (`-c`); its `store_dir` line, if any, is pointed
   * at the store directory. Port and address still come from the harness.
   */
  config?: string;
  /** Environment of the server (the variables a configuration refers to). */
  env?: Record<string, string>;
  /** Check JetStream readiness in this domain (a leaf node's). */
  domain?: string;
}

/** A running (or stopped) `nats-server`. */
export interface NatsServer {
  /** `nats://127.0.0.1:PORT`. */
  url: string;
  /** Its port, the same across restarts. */
  port: number;
  /** Store directory (kept across restarts). */
  storeDir: string;
  /** Pid of the current process, or undefined when stopped. */
  pid: number | undefined;
  /** SIGKILL the server and wait for its exit. */
  kill(): Promise<void>;
  /** Start it again on the same port and store directory; waits until it accepts clients. */
  restart(): Promise<void>;
  /** Kill it and remove its store directory. */
  destroy(): Promise<void>;
  /** A client connection (closed by the caller). */
  connect(): Promise<NatsConnection>;
  /** Same as `destroy()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start `nats-server` and wait until a client can connect. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? freePort();
  const storeDir = await tempDir("edgevisor_nats_");
  const url = `nats://127.0.0.1:${port}`;
  let child: Deno.ChildProcess | undefined;

  const args = ["-a", "127.0.0.1", "-p", String(port), ...(options.args ?? [])];
  if (options.config !== undefined) {
    const config = `${storeDir}/server.conf`;
    await Deno.writeTextFile(
      config,
      options.config.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(storeDir)}`),
    );
    args.push("-c", config);
  } else args.push("-sd", storeDir);
  if (options.jetstream) args.unshift("-js");
  const jetstream = options.jetstream || /^\s*jetstream\s*\{/m.test(options.config ?? "");
  const spawn = async () => {
    const process = new Deno.Command(NATS_SERVER, {
      args,
      env: options.env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child = process;
    let exited = false;
    process.status.then(() => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error(`nats-server exited at start (port ${port})`);
      try {
        const nc = await connect({
          servers: url,
          reconnect: false,
          timeout: 500,
          ...options.client,
        });
        if (jetstream) {
          // JetStream answers once it has loaded its store.
          const api = options.domain ? `$JS.${options.domain}.API` : "$JS.API";
          await nc.request(`${api}.INFO`, "", { timeout: 500 });
        }
        await nc.close();
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, intervalMs: 20, message: `nats-server on ${url} to accept clients` });
  };

  const kill = async () => {
    const current = child;
    child = undefined;
    if (!current) return;
    try {
      current.kill("SIGKILL");
    } catch {
      // gone
    }
    await current.status;
  };

  await spawn();
  const server: NatsServer = {
    url,
    port,
    storeDir,
    get pid() {
      return child?.pid;
    },
    kill,
    async restart() {
      await kill();
      await spawn();
    },
    async destroy() {
      await kill();
      await removeDir(storeDir);
    },
    connect: () =>
      connect({ servers: url, reconnectTimeWait: 50, maxReconnectAttempts: -1, ...options.client }),
    [Symbol.asyncDispose]() {
      return server.destroy();
    },
  };
  return server;
}

/** Collects the JSON messages of a subscription, with their subjects, in arrival order. */
export class Collector<T = Record<string, unknown>> {
  readonly messages: { subject: string; body: T }[] = [];

  /** Subscribe `nc` to `subjects` and collect. */
  constructor(nc: NatsConnection, subjects: string | string[]) {
    for (const subject of typeof subjects === "string" ? [subjects] : subjects) {
      nc.subscribe(subject, {
        callback: (_err, msg) => {
          try {
            this.messages.push({ subject: msg.subject, body: msg.json<T>() });
          } catch {
            // not JSON
          }
        },
      });
    }
  }

  /** Bodies whose subject matches `filter` (a substring or a predicate). */
  bodies(filter: string | ((subject: string) => boolean) = () => true): T[] {
    const test = typeof filter === "string" ? (s: string) => s.includes(filter) : filter;
    return this.messages.filter((m) => test(m.subject)).map((m) => m.body);
  }
}

/**
 * The fenced block that follows `<!-- file: NAME -->` in the Markdown file
 * at `path` (relative to the repository): a configuration the docs give,
 * tested as it is written there.
 */
export function docBlock(path: string, name: string): string {
  const text = Deno.readTextFileSync(new URL(`../${path}`, import.meta.url));
  const at = text.indexOf(`<!-- file: ${name} -->`);
  const block = at < 0 ? null : /```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!block) throw new Error(`No block "${name}" in ${path}`);
  return block[1]! + "\n";
}

/** `text` with `from` replaced by `to`, which must occur exactly once. */
export function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`Expected ${JSON.stringify(from)} once in:\n${text}`);
  return parts.join(to);
}

/** A loopback port in front of a server's port: see {@linkcode tcpGate}. */
export interface TcpGate {
  /** `nats://127.0.0.1:PORT` of the gate. */
  url: string;
  /** Forward new connections to the server (the default). */
  open(): void;
  /** End the connections through the gate, and every new one at once. */
  close(): void;
  /** Stop listening and end every connection. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A loopback port that forwards connections to `port` while open, and ends
 * them at once while closed: a test decides when a client behind it can
 * connect again after an outage (for instance, once the test's own
 * subscriptions are back on the server).
 */
export function tcpGate(port: number): TcpGate {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let isOpen = true;
  const end = (...pair: Deno.Conn[]) => {
    for (const conn of pair) {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      if (!isOpen) {
        end(conn);
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        end(conn);
        continue;
      }
      if (!isOpen) {
        end(conn, upstream); // closed while connecting
        continue;
      }
      conns.add(conn).add(upstream);
      void conn.readable.pipeTo(upstream.writable).catch(() => {}).finally(() =>
        end(conn, upstream)
      );
      void upstream.readable.pipeTo(conn.writable).catch(() => {}).finally(() =>
        end(conn, upstream)
      );
    }
  })();
  return {
    url: `nats://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    open() {
      isOpen = true;
    },
    close() {
      isOpen = false;
      end(...conns);
    },
    async [Symbol.asyncDispose]() {
      isOpen = false;
      listener.close();
      end(...conns);
      await accepting.catch(() => {});
    },
  };
}
