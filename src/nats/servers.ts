/**
 * NATS server URLs and connection settings, without the NATS client: what
 * the command line and the orchestrator check before anything connects (the client is loaded only
 * when NATS is used).
 *
 * @module
 */
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
  /** Path of a file holding an NKey seed (`SU...`). */
  nkey?: string;
  /** CA certificate file (PEM) to verify the server. */
  tlsCa?: string;
  /** Client certificate file (PEM), for mutual TLS (with `tlsKey`). */
  tlsCert?: string;
  /** Client key file (PEM). */
  tlsKey?: string;
  /** Client name shown by the server. */
  name?: string;
}

/** Default server of the fleet commands. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Split a comma-separated list of server URLs; throws `TypeError` when empty. */
export function parseServers(url: string): string[] {
  const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (servers.length === 0) throw new TypeError(`Invalid NATS URL ${JSON.stringify(url)}`);
  return servers;
}

/**
 * Whether `options` authenticate the client to the server: a user (in the
 * options or the URL), a token, a `.creds` file, an NKey, or a TLS client
 * certificate.
 */
export function authenticates(options: NatsConnectOptions): boolean {
  const inUrl = parseServers(options.url).some((server) => {
    try {
      return new URL(server.includes("://") ? server : `nats://${server}`).username !== "";
    } catch {
      return false;
    }
  });
  return inUrl || options.user !== undefined || options.token !== undefined ||
    options.creds !== undefined || options.nkey !== undefined ||
    (options.tlsCert !== undefined && options.tlsKey !== undefined);
}
