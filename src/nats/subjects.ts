/**
 * NATS subjects of edgevisor: validation of the prefix and node name, the
 * encoding of service names into one subject token, and the subjects, KV
 * keys, stream and bucket names built from them. Pure functions.
 *
 * @module
 */

/** Default first token of every subject. */
export const DEFAULT_PREFIX = "edgevisor";

/** Version of every message body published on NATS (the `schema` field). */
export const SCHEMA_VERSION = 1;

/** Shortest heartbeat interval a node may announce, seconds; the fleet view ignores shorter ones. */
export const MIN_HEARTBEAT_INTERVAL_S = 0.1;

/** Longest heartbeat interval a node may announce, seconds; the fleet view ignores longer ones. */
export const MAX_HEARTBEAT_INTERVAL_S = 3600;

/** Name of the JetStream stream of the events of `prefix`. */
export function streamName(prefix: string): string {
  return `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, "_")}_EVENTS`;
}

/** Name of the KV bucket holding the latest status of every service and heartbeat of every node. */
export function bucketName(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** KV key of a node's latest heartbeat (an encoded service name never starts with `_`). */
export const HEARTBEAT_KEY = "_heartbeat";

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Check that `value` can be one token of a subject: 1 to 64 letters, digits,
 * `_` or `-` (no `.`, no wildcard, no space). Returns it; throws `TypeError`.
 *
 * @example
 * ```ts
 * subjectToken("rpi-7", "node"); // "rpi-7"
 * subjectToken("a.b", "node"); // throws TypeError
 * ```
 */
export function subjectToken(value: string, what: string): string {
  if (!TOKEN.test(value)) {
    throw new TypeError(
      `Invalid ${what} ${
        JSON.stringify(value)
      }: expected 1 to 64 letters, digits, "_" or "-" (a NATS subject token)`,
    );
  }
  return value;
}

/**
 * A service name as one subject token and KV key part: letters, digits, `_`
 * and `-` stay; every other byte of its UTF-8 form becomes `=` and two
 * upper-case hexadecimal digits (`.` is `=2E`, `=` is `=3D`). The result is
 * never empty, holds no `.`, `*`, `>` or space, and only characters a KV key
 * allows; {@linkcode decodeServiceToken} reverses it.
 *
 * @example
 * ```ts
 * serviceToken("web"); // "web"
 * serviceToken("db.replica"); // "db=2Ereplica"
 * serviceToken("trail."); // "trail=2E"
 * ```
 */
export function serviceToken(service: string): string {
  if (service === "") throw new TypeError('Invalid service name "": expected a non-empty name');
  let out = "";
  for (const byte of new TextEncoder().encode(service)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(char)
      ? char
      : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The service name of a token made by {@linkcode serviceToken}; undefined when it is not one. */
export function decodeServiceToken(token: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/.test(token)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === "=") {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  try {
    const service = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    // Only the canonical form: each name has exactly one token.
    return serviceToken(service) === token ? service : undefined;
  } catch {
    return undefined;
  }
}

/** A node name made from a host name: its first label, with other characters replaced by `_`. */
export function nodeFromHostname(hostname: string): string {
  const label = hostname.split(".")[0] ?? "";
  const cleaned = label.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  return cleaned === "" ? "node" : cleaned;
}

/** Subjects of one node. */
export interface NodeSubjects {
  /** `{prefix}.{node}.heartbeat` */
  heartbeat: string;
  /** `{prefix}.{node}.status.{service token}` */
  status(service: string): string;
  /** `{prefix}.{node}.events.{service token}` */
  events(service: string): string;
  /** `{prefix}.{node}.outbox` (dropped-message reports) */
  outbox: string;
  /** `{prefix}.{node}.control`, the group of the control endpoints */
  control: string;
  /** KV key of a service's latest status: `{node}.{service token}` */
  statusKey(service: string): string;
  /** KV key of the node's latest heartbeat: `{node}._heartbeat` */
  heartbeatKey: string;
}

/** Build the subjects of `node` under `prefix` (both checked with {@linkcode subjectToken}). */
export function nodeSubjects(prefix: string, node: string): NodeSubjects {
  const base = `${subjectToken(prefix, "prefix")}.${subjectToken(node, "node")}`;
  return {
    heartbeat: `${base}.heartbeat`,
    status: (service) => `${base}.status.${serviceToken(service)}`,
    events: (service) => `${base}.events.${serviceToken(service)}`,
    outbox: `${base}.outbox`,
    control: `${base}.control`,
    statusKey: (service) => `${node}.${serviceToken(service)}`,
    heartbeatKey: `${node}.${HEARTBEAT_KEY}`,
  };
}

/** Subject that asks every node to publish a heartbeat (and, when asked, its statuses) at once. */
export function discoverSubject(prefix: string): string {
  return `${prefix}.discover`;
}

/**
 * Subjects the events stream of `prefix` captures: every node's events, or
 * only `node`'s (the stream of a device's own JetStream domain).
 */
export function streamSubjects(prefix: string, node?: string): string[] {
  return [`${prefix}.${node ?? "*"}.events.*`];
}

/**
 * Split a subject `{prefix}.{node}.{kind}[.{service token}]` into its parts
 * (the service decoded); undefined when it does not have that form.
 */
export function parseSubject(
  prefix: string,
  subject: string,
): { node: string; kind: string; service?: string } | undefined {
  if (!subject.startsWith(prefix + ".")) return undefined;
  const [node, kind, token, ...rest] = subject.slice(prefix.length + 1).split(".");
  if (!node || !TOKEN.test(node) || !kind || rest.length > 0) return undefined;
  if (token === undefined) return { node, kind };
  const service = decodeServiceToken(token);
  return service === undefined ? undefined : { node, kind, service };
}

/**
 * Split a KV key `{node}.{service token}` or `{node}._heartbeat`; `service`
 * is the decoded name, or `_heartbeat`. Undefined for any other key.
 */
export function parseKey(key: string): { node: string; service: string } | undefined {
  const [node, token, ...rest] = key.split(".");
  if (!node || !TOKEN.test(node) || token === undefined || rest.length > 0) return undefined;
  if (token === HEARTBEAT_KEY) return { node, service: HEARTBEAT_KEY };
  const service = decodeServiceToken(token);
  return service === undefined ? undefined : { node, service };
}
