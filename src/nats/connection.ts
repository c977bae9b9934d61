/**
 * How edgevisor connects to NATS: server URLs, credentials (user/password,
 * token, `.creds` file, NKey seed) and TLS, turned into the client's
 * connection options.
 *
 * @module
 */
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

import { delay } from "../supervisor/process.ts";
import { type NatsConnectOptions, parseServers } from "./servers.ts";

export {
  authenticates,
  DEFAULT_NATS_URL,
  type NatsConnectOptions,
  parseServers,
} from "./servers.ts";

/** The client's connection options for `options` (reads the `.creds` file when set). */
export function connectionOptions(options: NatsConnectOptions): ConnectionOptions {
  const result: ConnectionOptions = { servers: parseServers(options.url) };
  if (options.name) result.name = options.name;
  if (options.user !== undefined) result.user = options.user;
  if (options.pass !== undefined) result.pass = options.pass;
  if (options.token !== undefined) result.token = options.token;
  if (options.creds !== undefined) {
    const creds = Deno.readFileSync(options.creds);
    result.authenticator = credsAuthenticator(creds);
  } else if (options.nkey !== undefined) {
    const seed = new TextEncoder().encode(Deno.readTextFileSync(options.nkey).trim());
    result.authenticator = nkeyAuthenticator(seed);
  }
  if (options.tlsCa || options.tlsCert || options.tlsKey) {
    result.tls = {};
    if (options.tlsCa) result.tls.caFile = options.tlsCa;
    if (options.tlsCert) result.tls.certFile = options.tlsCert;
    if (options.tlsKey) result.tls.keyFile = options.tlsKey;
  }
  return result;
}

/** Connect once (no retry on the first attempt), with the given extra client options. */
export function connectNats(
  options: NatsConnectOptions,
  extra: Partial<ConnectionOptions> = {},
): Promise<NatsConnection> {
  return connect({ ...connectionOptions(options), ...extra });
}

/** Options of {@linkcode keepConnected}. */
export interface KeepConnectedOptions {
  /** Client name shown by the server. */
  name: string;
  /** More client options (an inbox prefix). */
  extra?: Partial<ConnectionOptions>;
  /** Milliseconds between two attempts, and the client's wait between reconnects. @default 2000 */
  retryMs?: number;
  /** Ends the loop: no attempt after it aborts, and a connection made meanwhile is closed. */
  signal: AbortSignal;
  /** Where the first failure of each run of failed attempts is told: `"{label}: cannot connect …"`. */
  log: (line: string) => void;
  /** First word of the log line. @default "nats" */
  label?: string;
}

/**
 * Keep a connection to NATS for as long as `options.signal` is not aborted:
 * connect (retrying every `retryMs`, the first failure of a run logged),
 * call `session(nc)` with each connection made, wait until the connection
 * closes (the client itself reconnects meanwhile, forever), call
 * `closed(err)`, and connect again. Resolves once aborted.
 */
export async function keepConnected(
  connect: NatsConnectOptions,
  options: KeepConnectedOptions,
  session: (nc: NatsConnection) => Promise<void>,
  closed: (err: Error | void) => void = () => {},
): Promise<void> {
  const retryMs = options.retryMs ?? 2000;
  const { signal } = options;
  const wait = () => delay(retryMs, signal);
  let complained = false;
  while (!signal.aborted) {
    let nc: NatsConnection;
    try {
      nc = await connectNats(connect, {
        name: options.name,
        maxReconnectAttempts: -1,
        timeout: 5000,
        reconnectTimeWait: retryMs,
        reconnectJitter: Math.min(100, retryMs),
        pingInterval: 20_000,
        maxPingOut: 3,
        ...options.extra,
      });
    } catch (err) {
      if (!complained) {
        options.log(
          `${options.label ?? "nats"}: cannot connect to ${connect.url}: ${
            err instanceof Error ? err.message : String(err)
          }; retrying every ${retryMs / 1000}s`,
        );
        complained = true;
      }
      await wait();
      continue;
    }
    if (signal.aborted) {
      await nc.close().catch(() => {});
      break;
    }
    complained = false;
    await session(nc);
    closed(await nc.closed());
    if (!signal.aborted) await wait();
  }
}
