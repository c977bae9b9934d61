/**
 * NATS subjects of edgevisor: validation of the prefix and node name, and
 * the subjects and KV keys built from them. Pure functions.
 *
 * @module
 */

/** Default first token of every subject. */
export const DEFAULT_PREFIX = "edgevisor";

/** Version of every message body published on NATS (the `schema` field). */
export const SCHEMA_VERSION = 1;

/** Name of the JetStream stream over the events and status subjects of `prefix`. */
export function streamName(prefix: string): string {
  return `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, "_")}_EVENTS`;
}

/** Name of the KV bucket holding the latest status of every service and heartbeat of every node. */
export function bucketName(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** KV key of a node's latest heartbeat (service names start with a letter or digit). */
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
  /** `{prefix}.{node}.status.{service}` */
  status(service: string): string;
  /** `{prefix}.{node}.events.{service}` */
  events(service: string): string;
  /** `{prefix}.{node}.outbox` (dropped-message reports) */
  outbox: string;
  /** `{prefix}.{node}.control`, the group of the control endpoints */
  control: string;
  /** KV key of a service's latest status: `{node}.{service}` */
  statusKey(service: string): string;
  /** KV key of the node's latest heartbeat: `{node}._heartbeat` */
  heartbeatKey: string;
}

/** Build the subjects of `node` under `prefix` (both checked with {@linkcode subjectToken}). */
export function nodeSubjects(prefix: string, node: string): NodeSubjects {
  const base = `${subjectToken(prefix, "prefix")}.${subjectToken(node, "node")}`;
  return {
    heartbeat: `${base}.heartbeat`,
    status: (service) => `${base}.status.${service}`,
    events: (service) => `${base}.events.${service}`,
    outbox: `${base}.outbox`,
    control: `${base}.control`,
    statusKey: (service) => `${node}.${service}`,
    heartbeatKey: `${node}.${HEARTBEAT_KEY}`,
  };
}

/** Subject every node answers with its heartbeat (and, when asked, its services). */
export function discoverSubject(prefix: string): string {
  return `${prefix}.discover`;
}

/** Subjects the JetStream stream of `prefix` captures. */
export function streamSubjects(prefix: string): string[] {
  return [`${prefix}.*.events.>`, `${prefix}.*.status.>`];
}

/**
 * Split a subject `{prefix}.{node}.{kind}[.{service}]` into its parts;
 * undefined when it does not have that form.
 */
export function parseSubject(
  prefix: string,
  subject: string,
): { node: string; kind: string; service?: string } | undefined {
  if (!subject.startsWith(prefix + ".")) return undefined;
  const tokens = subject.slice(prefix.length + 1).split(".");
  const [node, kind, ...rest] = tokens;
  if (!node || !kind) return undefined;
  return rest.length > 0 ? { node, kind, service: rest.join(".") } : { node, kind };
}

/** Split a KV key `{node}.{service}`. */
export function parseKey(key: string): { node: string; service: string } | undefined {
  const dot = key.indexOf(".");
  if (dot <= 0 || dot === key.length - 1) return undefined;
  return { node: key.slice(0, dot), service: key.slice(dot + 1) };
}
