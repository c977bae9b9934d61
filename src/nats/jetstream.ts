/**
 * The JetStream side of edgevisor: the configuration of the events stream
 * and of the KV bucket, and setting them up. An orchestrator creates what is
 * missing and leaves what exists as the operator configured it;
 * `edgevisor fleet setup` (the operator's tool) creates or updates both.
 * The fleet configuration bucket (registries of fleet groups, with their
 * history) is the operator's too: `edgevisor fleet apply` creates it when
 * it is missing; devices only read two of its keys.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type JetStreamManager, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { errorText } from "../errors.ts";
import { bucketName, streamName, streamSubjects, subjectToken } from "./subjects.ts";

/** Limits and replicas of the stream and the bucket. */
export interface StorageOptions {
  /** Oldest event the stream keeps, milliseconds. @default 86400000 (24 h) */
  streamMaxAgeMs?: number;
  /** Largest size of the stream, bytes; the oldest events go first. @default 268435456 (256 MiB) */
  streamMaxBytes?: number;
  /** Age after which a KV key that was not written again is removed, milliseconds. @default 86400000 (24 h) */
  kvMaxAgeMs?: number;
  /** Largest size of the KV bucket, bytes; the oldest keys go first. @default 67108864 (64 MiB) */
  kvMaxBytes?: number;
  /** Replicas of the stream and the bucket (on a JetStream cluster). @default 1 */
  replicas?: number;
}

/** Defaults of {@linkcode StorageOptions}. */
export const STORAGE_DEFAULTS: Required<StorageOptions> = {
  streamMaxAgeMs: 86_400_000,
  streamMaxBytes: 268_435_456,
  kvMaxAgeMs: 86_400_000,
  kvMaxBytes: 67_108_864,
  replicas: 1,
};

/** Where the stream and bucket live, and what they hold. */
export interface StorageScope {
  /** Subject prefix. */
  prefix: string;
  /** Only this node's events (the stream of a device's own JetStream domain). */
  node?: string;
  /** JetStream domains whose stream and bucket of the same names are sourced (a hub). */
  sources?: readonly string[];
}

const MS = 1_000_000;

/** The whole name of the KV bucket's stream. */
export function bucketStreamName(prefix: string): string {
  return `KV_${bucketName(prefix)}`;
}

/**
 * The events stream: events only (statuses live in the KV bucket), at most
 * `streamMaxAgeMs` old and `streamMaxBytes` large. With `sources`, it
 * captures no subject and sources the stream of each domain instead.
 */
export function streamConfig(scope: StorageScope, options: StorageOptions = {}): StreamConfig {
  const o = { ...STORAGE_DEFAULTS, ...options };
  const name = streamName(scope.prefix);
  return {
    name,
    ...(scope.sources?.length
      ? { subjects: [], sources: scope.sources.map((domain) => external(name, domain)) }
      : { subjects: streamSubjects(scope.prefix, scope.node) }),
    max_age: o.streamMaxAgeMs * MS,
    max_bytes: o.streamMaxBytes,
    num_replicas: o.replicas,
    discard: "old",
    storage: "file",
    duplicate_window: Math.min(120_000, o.streamMaxAgeMs) * MS,
  } as StreamConfig;
}

/**
 * The KV bucket: one value per key (history 1), keys removed `kvMaxAgeMs`
 * after their last write, the oldest dropped beyond `kvMaxBytes`. Roll-up
 * headers are refused, so that no writer can purge other keys.
 */
export function bucketConfig(scope: StorageScope, options: StorageOptions = {}): StreamConfig {
  const o = { ...STORAGE_DEFAULTS, ...options };
  const name = bucketStreamName(scope.prefix);
  return {
    name,
    subjects: [`$KV.${bucketName(scope.prefix)}.>`],
    ...(scope.sources?.length
      ? { sources: scope.sources.map((domain) => external(name, domain)) }
      : {}),
    max_msgs_per_subject: 1,
    max_age: o.kvMaxAgeMs * MS,
    max_bytes: o.kvMaxBytes,
    num_replicas: o.replicas,
    discard: "old",
    storage: "file",
    allow_direct: true,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: false,
    duplicate_window: Math.min(120_000, o.kvMaxAgeMs) * MS,
  } as StreamConfig;
}

function external(name: string, domain: string) {
  return { name, external: { api: `$JS.${domain}.API`, deliver: "" } };
}

/** What {@linkcode setUpStorage} did with the stream and with the bucket. */
export type SetupOutcome = "created" | "found" | "updated";

/**
 * Create the stream and the bucket of `scope` when they do not exist. An
 * existing one is left as it is, unless `update`: then it gets the
 * configuration of `scope` and `options`, and keeps the domains it sourced
 * besides those of `scope`.
 */
export async function setUpStorage(
  jsm: JetStreamManager,
  scope: StorageScope,
  options: StorageOptions = {},
  update = false,
): Promise<{ stream: SetupOutcome; bucket: SetupOutcome }> {
  const stream = await setUp(jsm, scope, (s) => streamConfig(s, options), update);
  const bucket = await setUp(jsm, scope, (s) => bucketConfig(s, options), update);
  return { stream, bucket };
}

async function setUp(
  jsm: JetStreamManager,
  scope: StorageScope,
  configOf: (scope: StorageScope) => StreamConfig,
  update: boolean,
): Promise<SetupOutcome> {
  const name = configOf(scope).name;
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(name)).config;
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(configOf(scope));
    return "created";
  }
  if (!update) return "found";
  const domains = new Set(scope.sources ?? []);
  for (const source of existing.sources ?? []) {
    const domain = /^\$JS\.(.+)\.API$/.exec(source.external?.api ?? "")?.[1];
    if (domain !== undefined && source.name === name) domains.add(domain);
  }
  await jsm.streams.update(name, configOf({ ...scope, sources: [...domains] }));
  return "updated";
}

/** Where a node publishes: the scope of its stream and bucket, and how they come to be. */
export interface NodeStorageOptions extends StorageOptions {
  /** Subject prefix. */
  prefix: string;
  /** The node's name. */
  node: string;
  /** JetStream domain (a device's own leaf node): the stream then holds this node's events only. */
  domain?: string;
  /** The operator set the stream and bucket up: make no JetStream API call. */
  provisioned?: boolean;
}

/** What {@linkcode prepareNodeStorage} found. */
export interface NodeStorage {
  /** Write statuses and heartbeats into the KV bucket (false without JetStream). */
  kv: boolean;
  /** What to log about it. */
  line: string;
}

/**
 * Get a node's stream and bucket ready on `nc`: nothing to do when
 * provisioned; else create what is missing, never changing what exists.
 * Without JetStream there is no bucket to write; when the node may not ask
 * or create, both are used as they are.
 */
export async function prepareNodeStorage(
  nc: NatsConnection,
  options: NodeStorageOptions,
): Promise<NodeStorage> {
  const stream = streamName(options.prefix);
  const bucket = bucketName(options.prefix);
  if (options.provisioned) {
    return {
      kv: true,
      line: `nats: publishing to stream "${stream}" and KV bucket "${bucket}" as provisioned`,
    };
  }
  let jsm;
  try {
    jsm = await jetstreamManager(nc, { timeout: 5000, domain: options.domain });
  } catch (err) {
    if (/no responders|not enabled/i.test(errorText(err))) {
      return {
        kv: false,
        line: "nats: the server has no JetStream; publishing without stream and KV bucket",
      };
    }
    // Not allowed to ask, for instance: the stream and bucket may still be there.
    return {
      kv: true,
      line: `nats: cannot check JetStream (${
        errorText(err)
      }); publishing to stream "${stream}" and KV bucket "${bucket}" as they are`,
    };
  }
  try {
    const done = await setUpStorage(jsm, {
      prefix: options.prefix,
      ...(options.domain === undefined ? {} : { node: options.node }),
    }, options);
    const how = done.stream === done.bucket
      ? done.stream
      : `stream ${done.stream}, bucket ${done.bucket}`;
    return {
      kv: true,
      line: `nats: JetStream stream "${stream}" and KV bucket "${bucket}" ready (${how})`,
    };
  } catch (err) {
    return {
      kv: true,
      line: `nats: cannot set up stream "${stream}" or KV bucket "${bucket}": ${
        errorText(err)
      }; publishing to them as they are`,
    };
  }
}

/** Revisions the configuration bucket keeps of each key (what `fleet rollback` can go back to). */
export const CONFIG_HISTORY = 10;

/** Name of the fleet configuration bucket of `prefix`: `{prefix}_config`. */
export function configBucketName(prefix: string): string {
  return `${bucketName(prefix)}_config`;
}

/** Key of the configuration of fleet group `group`: `group.{group}`. */
export function groupKey(group: string): string {
  return `group.${subjectToken(group, "fleet group")}`;
}

/** Key of the configuration of one node, which wins over its group's: `node.{node}`. */
export function nodeKey(node: string): string {
  return `node.${subjectToken(node, "node")}`;
}

/**
 * The fleet configuration bucket: the last {@linkcode CONFIG_HISTORY}
 * values of each key, never expired; direct gets allowed (a device reads
 * its two keys with them, which permissions can confine to those keys);
 * one replica; no roll-up headers, no message deletion through the API
 * (a key is deleted with a deletion marker, which the history keeps).
 */
export function configBucketConfig(prefix: string): StreamConfig {
  const bucket = configBucketName(prefix);
  return {
    name: `KV_${bucket}`,
    subjects: [`$KV.${bucket}.>`],
    max_msgs_per_subject: CONFIG_HISTORY,
    max_age: 0,
    max_bytes: -1,
    num_replicas: 1,
    discard: "new",
    storage: "file",
    allow_direct: true,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: false,
    duplicate_window: 120_000 * MS,
  } as StreamConfig;
}

/** Create the configuration bucket of `prefix` when it does not exist. */
export async function setUpConfigBucket(
  jsm: JetStreamManager,
  prefix: string,
): Promise<SetupOutcome> {
  return await setUp(jsm, { prefix }, (scope) => configBucketConfig(scope.prefix), false);
}
