/**
 * How edgevisor connects to NATS: server URLs, credentials (user/password,
 * token, `.creds` file) and TLS, turned into the client's connection options.
 *
 * @module
 */
import {
  type ConnectionOptions,
  credsAuthenticator,
  type NatsConnection,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

import { parseServers } from "./servers.ts";

export { DEFAULT_NATS_URL, parseServers } from "./servers.ts";

/** Where and how to connect. */
export interface NatsConnectOptions {
  /** Server URL(s), comma-separated, e.g. `nats://10.0.0.2:4222`. */
  url: string;
  /** User name (with `pass`). */
  user?: string;
  /** Password (with `user`). */
  pass?: string;
  /** Authentication token. */
  token?: string;
  /** Path of a `.creds` file (JWT and NKey seed). */
  creds?: string;
  /** CA certificate file (PEM) to verify the server. */
  tlsCa?: string;
  /** Client certificate file (PEM), for mutual TLS (with `tlsKey`). */
  tlsCert?: string;
  /** Client key file (PEM). */
  tlsKey?: string;
  /** Client name shown by the server. */
  name?: string;
}

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
