/**
 * NATS server URLs, without the NATS client: what the command line and the
 * orchestrator check before anything connects (the client is loaded only
 * when NATS is used).
 *
 * @module
 */

/** Default server of the fleet commands. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Split a comma-separated list of server URLs; throws `TypeError` when empty. */
export function parseServers(url: string): string[] {
  const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (servers.length === 0) throw new TypeError(`Invalid NATS URL ${JSON.stringify(url)}`);
  return servers;
}
