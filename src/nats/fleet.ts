/**
 * The fleet view: a NATS client that lists every node (from the KV bucket
 * when there is one, else from the heartbeats published on the nodes'
 * subjects for a short while), reads one service's status, drives the
 * control endpoints, and follows events (from the events stream when there
 * is one, so that nothing is missed across a reconnect, and replayed from a
 * time in the past on request).
 *
 * A node is who the subject or the KV key says it is: a message whose body
 * names another node or service, or is not of the expected shape, or a
 * heartbeat announcing an interval outside 0.1 s to 1 h, is ignored and
 * reported, never believed.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { serviceStatusSchema } from "../api/schemas.ts";
import type { ActionBody, StatusBody } from "../api/wire.ts";
import { kindOfStatus } from "../api/error_status.ts";
import { EdgevisorError, NotFoundError } from "../errors.ts";
import { connectNats, type NatsConnectOptions } from "./connection.ts";
import type { ControlEndpoint, ControlRequest } from "./control.ts";
import {
  bucketStreamName,
  type SetupOutcome,
  setUpStorage,
  type StorageOptions,
} from "./jetstream.ts";
import { SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER } from "./micro.ts";
import type { EventMessage, HeartbeatMessage, StatusMessage } from "./publisher.ts";
import {
  bucketName,
  DEFAULT_PREFIX,
  discoverSubject,
  HEARTBEAT_KEY,
  MAX_HEARTBEAT_INTERVAL_S,
  MIN_HEARTBEAT_INTERVAL_S,
  parseKey,
  parseSubject,
  serviceToken,
  streamName,
  subjectToken,
} from "./subjects.ts";

/** Liveness of a node, from the age of its last heartbeat. */
export type NodeLiveness = "alive" | "stale" | "expired";

/** State of a node in the fleet view: its liveness, or `stopped` after a clean shutdown. */
export type NodeState = NodeLiveness | "stopped";

/** Thresholds of {@linkcode liveness}, in missed heartbeats. */
export interface LivenessThresholds {
  /** Stale after this many missed heartbeats. @default 2 */
  staleAfter?: number;
  /** Expired after this many missed heartbeats. @default 3 */
  expireAfter?: number;
}

/**
 * `alive`, `stale` or `expired` for a heartbeat `ageS` seconds old sent every
 * `intervalS` seconds.
 *
 * @example
 * ```ts
 * liveness(11, 5); // "stale": more than 2 heartbeats missed
 * ```
 */
export function liveness(
  ageS: number,
  intervalS: number,
  thresholds: LivenessThresholds = {},
): NodeLiveness {
  const missed = ageS / Math.max(intervalS, 0.001);
  if (missed > (thresholds.expireAfter ?? 3)) return "expired";
  if (missed > (thresholds.staleAfter ?? 2)) return "stale";
  return "alive";
}

/** One node as `fleet ls` shows it. */
export interface FleetNode {
  /** Node name, from the subject or KV key of its heartbeat. */
  node: string;
  /** `alive`, `stale`, `expired`, or `stopped` (its last heartbeat was `offline`). */
  state: NodeState;
  /** Seconds since the last heartbeat was stored (or received). */
  heartbeat_age: number;
  /** The last heartbeat. */
  heartbeat: HeartbeatMessage;
  /** Every service's latest status, with `services: true`. */
  services?: StatusMessage[];
}

/** A message the fleet view did not believe. */
export interface IgnoredMessage {
  /** Where it arrived: `KV "edgevisor" key "rpi7._heartbeat"`, or `subject "edgevisor.rpi7.heartbeat"`. */
  source: string;
  /** Why it was ignored. */
  reason: string;
}

/** What {@linkcode FleetClient.nodes} found. */
export interface FleetListing {
  /** Every node, sorted by name. */
  nodes: FleetNode[];
  /** Where they were read: the KV bucket, or heartbeats on the nodes' subjects. */
  from: "kv" | "heartbeats";
  /** Messages not believed. */
  ignored: IgnoredMessage[];
  /** Nodes left out because their last heartbeat is older than `forgetAfterS`. */
  forgotten: number;
}

/** Options of {@linkcode FleetClient.connect}. */
export interface FleetOptions extends NatsConnectOptions {
  /** Subject prefix. @default "edgevisor" */
  prefix?: string;
  /**
   * Milliseconds to wait for a connection, a request, or heartbeats; with
   * `reconnect`, the longest the connection may stay lost. @default 5000
   */
  timeoutMs?: number;
  /** Reconnect after a lost connection (see {@linkcode FleetClient.lost}). @default false */
  reconnect?: boolean;
}

/** Options of {@linkcode FleetClient.nodes}. */
export interface NodesOptions extends LivenessThresholds {
  /** Include every service's status. @default false */
  services?: boolean;
  /** Without a KV bucket: stop collecting heartbeats after this many ms without a new one. @default 250 */
  quietMs?: number;
  /** Leave out nodes whose last heartbeat is older than this, seconds. @default 86400 */
  forgetAfterS?: number;
}

/** Options of {@linkcode FleetClient.watch}. */
export interface FleetWatchOptions {
  /** Only this node. */
  node?: string;
  /** Only this service. */
  service?: string;
  /** Replay the events stored since this time (needs the events stream). */
  since?: Date;
  /** Every believed event, with the node and service its subject names. */
  onEvent(event: EventMessage, subject: string): void;
  /** Every ignored one. */
  onIgnored?(ignored: IgnoredMessage): void;
}

/** A running {@linkcode FleetClient.watch}. */
export interface FleetWatch {
  /** `stream`: read from the events stream (nothing is missed across a reconnect); `subjects`: live only. */
  from: "stream" | "subjects";
  /** Stop watching. */
  stop(): void;
}

/** A control request answered with an error. */
export class ControlError extends EdgevisorError {
  /** Status code of the answer (the HTTP status of the same REST request). */
  readonly status: number;
  /** Create the error. */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, { ...options, kind: kindOfStatus(status) });
    this.name = "ControlError";
    this.status = status;
  }
}

/** A message checked against where it arrived: its value, or why it is not believed. */
export type Checked<T> = { value: T } | { reason: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function namesOther(body: Record<string, unknown>, field: string, expected: string) {
  return body[field] !== expected
    ? `its body names ${field} ${JSON.stringify(body[field])}, not ${JSON.stringify(expected)}`
    : undefined;
}

/** Believe `value` as the heartbeat of `node` (where it arrived) if it is one, with a sane interval. */
export function checkHeartbeat(node: string, value: unknown): Checked<HeartbeatMessage> {
  if (!isObject(value)) return { reason: "not a JSON object" };
  const other = namesOther(value, "node", node);
  if (other) return { reason: other };
  const interval = value.heartbeat_interval;
  if (typeof interval !== "number" || !Number.isFinite(interval)) {
    return { reason: "no heartbeat_interval" };
  }
  if (interval < MIN_HEARTBEAT_INTERVAL_S || interval > MAX_HEARTBEAT_INTERVAL_S) {
    return {
      reason:
        `heartbeat_interval ${interval} s is outside ${MIN_HEARTBEAT_INTERVAL_S} to ${MAX_HEARTBEAT_INTERVAL_S} s`,
    };
  }
  if (!isObject(value.services) || typeof value.version !== "string") {
    return { reason: "not an edgevisor heartbeat (no services or version)" };
  }
  return { value: { ...value, offline: value.offline === true } as unknown as HeartbeatMessage };
}

/** Believe `value` as the status of `service` on `node` (where it arrived) if it is one. */
export function checkStatus(node: string, service: string, value: unknown): Checked<StatusMessage> {
  if (!isObject(value)) return { reason: "not a JSON object" };
  const other = namesOther(value, "node", node) ?? namesOther(value, "name", service);
  if (other) return { reason: other };
  const parsed = serviceStatusSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      reason: `not an edgevisor status (${issue?.path.join(".") || "value"}: ${issue?.message})`,
    };
  }
  return { value: value as unknown as StatusMessage };
}

/** Believe `value` as an event of `service` on `node` (where it arrived) if it is one. */
export function checkEvent(node: string, service: string, value: unknown): Checked<EventMessage> {
  if (!isObject(value)) return { reason: "not a JSON object" };
  const other = namesOther(value, "node", node) ?? namesOther(value, "service", service);
  if (other) return { reason: other };
  if (typeof value.type !== "string" || typeof value.at !== "string") {
    return { reason: "not an edgevisor event (no type or at)" };
  }
  return { value: value as unknown as EventMessage };
}

interface KvEntry {
  key: string;
  value: string;
  createdMs: number;
}

/** A fleet client over one NATS connection. */
export class FleetClient {
  readonly prefix: string;
  #nc: NatsConnection;
  #options: FleetOptions;

  private constructor(nc: NatsConnection, options: FleetOptions) {
    this.#nc = nc;
    this.#options = options;
    this.prefix = subjectToken(options.prefix ?? DEFAULT_PREFIX, "prefix");
  }

  /** Connect (one attempt, failing after `timeoutMs`). */
  static async connect(options: FleetOptions): Promise<FleetClient> {
    subjectToken(options.prefix ?? DEFAULT_PREFIX, "prefix");
    let nc: NatsConnection;
    try {
      nc = await connectNats(options, {
        name: "edgevisor fleet",
        timeout: options.timeoutMs ?? 5000,
        ...(options.reconnect
          ? { maxReconnectAttempts: -1, reconnectTimeWait: 250, reconnectJitter: 100 }
          : { reconnect: false }),
      });
    } catch (err) {
      throw new EdgevisorError(
        `Cannot connect to NATS at ${options.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new FleetClient(nc, options);
  }

  /** The connection, for subscriptions of your own. */
  get connection(): NatsConnection {
    return this.#nc;
  }

  /** Close the connection. */
  async close(): Promise<void> {
    await this.#nc.close().catch(() => {});
  }

  get #timeoutMs(): number {
    return this.#options.timeoutMs ?? 5000;
  }

  /**
   * Resolves with an error when the connection is gone for good: closed, or
   * lost and not back within `timeoutMs`. `onChange` hears of every loss
   * and every reconnect.
   */
  lost(onChange: (change: "disconnected" | "reconnected") => void = () => {}): Promise<Error> {
    const { promise, resolve } = Promise.withResolvers<Error>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const seconds = this.#timeoutMs / 1000;
    (async () => {
      for await (const status of this.#nc.status()) {
        if (status.type === "disconnect" && timer === undefined) {
          onChange("disconnected");
          timer = setTimeout(() => {
            resolve(
              new EdgevisorError(
                `Lost the connection to NATS at ${this.#options.url}: not back within ${seconds}s`,
              ),
            );
            void this.#nc.close().catch(() => {});
          }, this.#timeoutMs);
        } else if (status.type === "reconnect") {
          clearTimeout(timer);
          timer = undefined;
          onChange("reconnected");
        }
      }
    })().catch(() => {});
    this.#nc.closed().then((err) => {
      clearTimeout(timer);
      resolve(
        err instanceof Error
          ? new EdgevisorError(
            `Lost the connection to NATS at ${this.#options.url}: ${err.message}`,
          )
          : new EdgevisorError(`The connection to NATS at ${this.#options.url} closed`),
      );
    });
    return promise;
  }

  /**
   * Every node: from the latest heartbeats in the KV bucket when there is
   * one (nodes that stopped publishing included), else from the heartbeats
   * published on `{prefix}.*.heartbeat` after a discovery request, until
   * none comes for `quietMs` (at most `timeoutMs`). Sorted by name.
   */
  async nodes(options: NodesOptions = {}): Promise<FleetListing> {
    const withServices = options.services === true;
    const ignored: IgnoredMessage[] = [];
    const heartbeats = new Map<string, { heartbeat: HeartbeatMessage; ageS: number }>();
    const statuses = new Map<string, Map<string, StatusMessage>>();
    const addStatus = (node: string, status: StatusMessage) => {
      const map = statuses.get(node) ?? new Map<string, StatusMessage>();
      map.set(status.name, status);
      statuses.set(node, map);
    };
    const bucket = bucketName(this.prefix);
    const entries = await this.#readKv(withServices ? ">" : `*.${HEARTBEAT_KEY}`);
    let from: FleetListing["from"] = "kv";
    if (entries !== undefined) {
      const now = Date.now();
      for (const entry of entries) {
        const source = `KV "${bucket}" key "${entry.key}"`;
        const key = parseKey(entry.key);
        if (!key) {
          ignored.push({ source, reason: "not a key of edgevisor" });
          continue;
        }
        const checked = key.service === HEARTBEAT_KEY
          ? checkHeartbeat(key.node, parseJson(entry.value))
          : checkStatus(key.node, key.service, parseJson(entry.value));
        if ("reason" in checked) ignored.push({ source, reason: checked.reason });
        else if (key.service === HEARTBEAT_KEY) {
          const ageS = Math.max(0, (now - entry.createdMs) / 1000);
          heartbeats.set(key.node, { heartbeat: checked.value as HeartbeatMessage, ageS });
        } else addStatus(key.node, checked.value as StatusMessage);
      }
    } else {
      from = "heartbeats";
      await this.#collect(withServices, options.quietMs ?? 250, (subject, body) => {
        const source = `subject "${subject}"`;
        const where = parseSubject(this.prefix, subject);
        if (!where) return ignored.push({ source, reason: "not a subject of edgevisor" });
        if (where.kind === "heartbeat" && where.service === undefined) {
          const checked = checkHeartbeat(where.node, body);
          if ("reason" in checked) return ignored.push({ source, reason: checked.reason });
          heartbeats.set(where.node, { heartbeat: checked.value, ageS: 0 });
        } else if (where.kind === "status" && where.service !== undefined) {
          const checked = checkStatus(where.node, where.service, body);
          if ("reason" in checked) return ignored.push({ source, reason: checked.reason });
          addStatus(where.node, checked.value);
        }
      });
    }
    const forgetAfterS = options.forgetAfterS ?? 86_400;
    let forgotten = 0;
    const nodes: FleetNode[] = [];
    for (const [node, { heartbeat, ageS }] of heartbeats) {
      if (ageS > forgetAfterS) {
        forgotten++;
        continue;
      }
      nodes.push({
        node,
        state: heartbeat.offline
          ? "stopped"
          : liveness(ageS, heartbeat.heartbeat_interval, options),
        heartbeat_age: Math.round(ageS * 1000) / 1000,
        heartbeat,
        ...(withServices ? { services: [...(statuses.get(node)?.values() ?? [])] } : {}),
      });
    }
    nodes.sort((a, b) => a.node.localeCompare(b.node));
    return { nodes, from, ignored, forgotten };
  }

  /**
   * Latest status of `service` on `node`: from the KV bucket, else by asking
   * the node. A KV value that is not the status of that service throws.
   */
  async status(node: string, service: string): Promise<StatusMessage | StatusBody> {
    subjectToken(node, "node");
    const key = `${node}.${serviceToken(service)}`;
    const entry = (await this.#readKv(key))?.find((e) => e.key === key);
    if (entry) {
      const checked = checkStatus(node, service, parseJson(entry.value));
      if ("reason" in checked) {
        throw new EdgevisorError(
          `The KV entry "${key}" of bucket "${
            bucketName(this.prefix)
          }" is not the status of "${node}/${service}": ${checked.reason}`,
        );
      }
      return checked.value;
    }
    try {
      return await this.control<StatusBody>(node, "status", { name: service });
    } catch (err) {
      if (err instanceof ControlError && err.status === 503) {
        throw new NotFoundError(
          `No status known for "${node}/${service}": no KV entry and the node does not answer control requests`,
        );
      }
      throw err;
    }
  }

  /** Send a control request to `node`; resolves to the REST body, throws `ControlError`. */
  async control<T = ActionBody>(
    node: string,
    endpoint: ControlEndpoint,
    request: ControlRequest = {},
  ): Promise<T> {
    const subject = `${this.prefix}.${subjectToken(node, "node")}.control.${endpoint}`;
    let msg;
    try {
      msg = await this.#nc.request(subject, JSON.stringify(request), { timeout: this.#timeoutMs });
    } catch (err) {
      const text = (err as Error).message;
      if (/no responders/i.test(text) || (err as Error).name === "NoRespondersError") {
        throw new ControlError(
          `Node "${node}" does not answer control requests (not connected, or run without --nats-control)`,
          503,
          { cause: err },
        );
      }
      throw new ControlError(`Control request to node "${node}" failed: ${text}`, 504, {
        cause: err,
      });
    }
    const code = msg.headers?.get(SERVICE_ERROR_CODE_HEADER);
    if (code) {
      let error = msg.headers?.get(SERVICE_ERROR_HEADER) || `error ${code}`;
      try {
        error = (msg.json<{ error?: string }>()).error ?? error;
      } catch {
        // keep the header
      }
      throw new ControlError(error, Number(code) || 500);
    }
    return msg.json<T>();
  }

  /**
   * Call `onEvent` for every event of the matching nodes and services: from
   * the events stream when there is one (new events, or those since
   * `since`; an ordered consumer, which resumes where it was after a
   * reconnect), else live from the subjects. Throws when `since` is given
   * and there is no stream.
   */
  async watch(options: FleetWatchOptions): Promise<FleetWatch> {
    const node = options.node === undefined ? "*" : subjectToken(options.node, "node");
    const service = options.service === undefined ? "*" : serviceToken(options.service);
    const filter = `${this.prefix}.${node}.events.${service}`;
    const deliver = (subject: string, data: () => unknown) => {
      const where = parseSubject(this.prefix, subject);
      const source = `subject "${subject}"`;
      if (!where || where.kind !== "events" || where.service === undefined) {
        options.onIgnored?.({ source, reason: "not an event subject of edgevisor" });
        return;
      }
      const checked = checkEvent(where.node, where.service, data());
      if ("reason" in checked) options.onIgnored?.({ source, reason: checked.reason });
      else options.onEvent(checked.value, subject);
    };
    const stream = streamName(this.prefix);
    let hasStream = false;
    try {
      const jsm = await jetstreamManager(this.#nc, { timeout: this.#timeoutMs });
      await jsm.streams.info(stream);
      hasStream = true;
    } catch {
      // no JetStream, no stream, or not allowed to read it
    }
    if (!hasStream) {
      if (options.since) {
        throw new EdgevisorError(
          `Cannot replay events: no stream "${stream}" on this server (it needs JetStream)`,
        );
      }
      const sub: Subscription = this.#nc.subscribe(filter, {
        callback: (_err, msg) => deliver(msg.subject, () => parseJson(msg.string())),
      });
      await this.#nc.flush();
      return { from: "subjects", stop: () => sub.unsubscribe() };
    }
    const consumer = await jetstream(this.#nc, { timeout: this.#timeoutMs }).consumers.get(stream, {
      filter_subjects: filter,
      ...(options.since
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const messages = await consumer.consume({
      // Short pulls: after a reconnect, a lost consumer is found and made again within seconds.
      expires: 2000,
      callback: (m) => deliver(m.subject, () => parseJson(m.string())),
    });
    return { from: "stream", stop: () => void messages.stop() };
  }

  /**
   * Create the events stream and the KV bucket, or update them to
   * `options` (`fleet setup`); with `sources`, as a hub sourcing those
   * JetStream domains (kept with those it sourced already).
   */
  async setUp(
    options: StorageOptions & { sources?: readonly string[]; domain?: string } = {},
  ): Promise<{ stream: SetupOutcome; bucket: SetupOutcome }> {
    const jsm = await jetstreamManager(this.#nc, {
      timeout: this.#timeoutMs,
      domain: options.domain,
    });
    return await setUpStorage(
      jsm,
      { prefix: this.prefix, sources: options.sources },
      options,
      true,
    );
  }

  /**
   * Publish a discovery request and collect heartbeats (and statuses) until
   * no new node or service has shown up for `quietMs` (heartbeats of known
   * ones keep coming), at most `timeoutMs`.
   */
  async #collect(
    withServices: boolean,
    quietMs: number,
    onMessage: (subject: string, body: unknown) => void,
  ): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    // The quiet time counts from when the request reached the server (a busy client is slow to get there).
    let quiet: ReturnType<typeof setTimeout> | undefined = undefined;
    const deadline = setTimeout(resolve, this.#timeoutMs);
    const seen = new Set<string>();
    const subjects = [`${this.prefix}.*.heartbeat`];
    if (withServices) subjects.push(`${this.prefix}.*.status.*`);
    const subs = subjects.map((subject) =>
      this.#nc.subscribe(subject, {
        callback: (_err, msg) => {
          if (!seen.has(msg.subject)) {
            seen.add(msg.subject);
            clearTimeout(quiet);
            quiet = setTimeout(resolve, quietMs);
          }
          onMessage(msg.subject, parseJson(msg.string()));
        },
      })
    );
    try {
      await this.#nc.flush();
      this.#nc.publish(discoverSubject(this.prefix), JSON.stringify({ services: withServices }));
      await this.#nc.flush();
      quiet ??= setTimeout(resolve, quietMs);
      await promise;
    } finally {
      clearTimeout(quiet);
      clearTimeout(deadline);
      for (const sub of subs) sub.unsubscribe();
    }
  }

  /**
   * Latest entries of the KV bucket whose keys match `filter`; undefined
   * when there is no bucket (or no JetStream).
   *
   * The keys are listed first (the stream's subjects), then read through a
   * consumer of the last value of each until every listed key came. A value
   * replaced meanwhile is skipped by such a consumer and comes again later,
   * as a new message: so the read goes on past the first values until it
   * has them all (those gone meanwhile, read one by one after a second of
   * silence, are left out).
   */
  async #readKv(filter: string): Promise<KvEntry[] | undefined> {
    const prefix = `$KV.${bucketName(this.prefix)}.`;
    const stream = bucketStreamName(this.prefix);
    let consumer;
    try {
      consumer = await jetstream(this.#nc, { timeout: this.#timeoutMs }).consumers.get(stream, {
        filter_subjects: prefix + filter,
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
    } catch {
      return undefined; // no JetStream, or no bucket
    }
    const jsm = await jetstreamManager(this.#nc, { timeout: this.#timeoutMs, checkAPI: false });
    const { state } = await jsm.streams.info(stream, { subjects_filter: prefix + filter });
    const expected = new Set(Object.keys(state.subjects ?? {}));
    const entries = new Map<string, KvEntry>();
    const decoder = new TextDecoder();
    const record = (
      subject: string,
      data: Uint8Array,
      operation: string | undefined,
      ms: number,
    ) => {
      const key = subject.slice(prefix.length);
      if (!operation || operation === "PUT") {
        entries.set(key, { key, value: decoder.decode(data), createdMs: ms });
      } else entries.delete(key);
      expected.delete(subject);
    };
    if (expected.size > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      let quiet = setTimeout(resolve, 1000);
      const deadline = setTimeout(resolve, this.#timeoutMs);
      const messages = await consumer.consume({
        max_messages: 1000,
        callback: (m) => {
          record(
            m.subject,
            m.data,
            m.headers?.get("KV-Operation"),
            Math.floor(m.info.timestampNanos / 1_000_000),
          );
          clearTimeout(quiet);
          quiet = setTimeout(resolve, 1000);
          if (expected.size === 0) resolve();
        },
      });
      try {
        await promise;
      } finally {
        clearTimeout(quiet);
        clearTimeout(deadline);
        await messages.close().catch(() => {});
      }
    }
    const left = [...expected];
    for (let i = 0; i < left.length; i += 100) {
      await Promise.all(
        left.slice(i, i + 100).map(async (subject) => {
          const m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() =>
            null
          );
          if (m) record(subject, m.data, m.header?.get("KV-Operation"), m.time.getTime());
        }),
      );
    }
    return [...entries.values()];
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
