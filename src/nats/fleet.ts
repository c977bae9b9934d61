/**
 * The fleet view: a NATS client that lists every node (from the KV bucket
 * when the server has JetStream, and from live discovery replies), reads one
 * service's status, drives the control endpoints, and follows events.
 *
 * @module
 */
import { headers, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { ActionBody, StatusBody } from "../api/wire.ts";
import { EdgevisorError, NotFoundError } from "../errors.ts";
import type { ServiceStatus } from "../types.ts";
import { connectNats, type NatsConnectOptions } from "./connection.ts";
import type { ControlEndpoint, ControlRequest } from "./control.ts";
import type { EventMessage, HeartbeatMessage, StatusMessage } from "./publisher.ts";
import {
  bucketName,
  DEFAULT_PREFIX,
  discoverSubject,
  HEARTBEAT_KEY,
  parseKey,
  parseSubject,
  subjectToken,
} from "./subjects.ts";

/** Liveness of a node, from the age of its last heartbeat. */
export type NodeLiveness = "alive" | "stale" | "expired";

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
  node: string;
  /** `alive`, `stale` or `expired`. */
  state: NodeLiveness;
  /** Seconds since the last heartbeat was received (or stored). */
  heartbeat_age: number;
  /** The last heartbeat. */
  heartbeat: HeartbeatMessage;
  /** Every service's latest status, with `services: true`. */
  services?: StatusMessage[];
}

/** Options of {@linkcode FleetClient.connect}. */
export interface FleetOptions extends NatsConnectOptions {
  /** Subject prefix. @default "edgevisor" */
  prefix?: string;
  /** API token sent with control requests. */
  apiToken?: string;
  /** Milliseconds to wait for a request or a connection. @default 5000 */
  timeoutMs?: number;
}

/** Options of {@linkcode FleetClient.nodes}. */
export interface NodesOptions extends LivenessThresholds {
  /** Include every service's status. @default false */
  services?: boolean;
  /** Stop collecting discovery replies after this many ms of silence. @default 250 */
  quietMs?: number;
  /** Never wait longer than this for discovery replies. @default 1500 */
  maxWaitMs?: number;
}

/** A control request answered with an error. */
export class ControlError extends EdgevisorError {
  /** Status code of the answer (the HTTP status of the same REST request). */
  override readonly status: number;
  /** Create the error. */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlError";
    this.status = status;
  }
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
        reconnect: false,
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

  /**
   * Every node known from the KV bucket (last heartbeats, dead nodes
   * included) and from discovery replies of the nodes up now; sorted by name.
   */
  async nodes(options: NodesOptions = {}): Promise<FleetNode[]> {
    const found = new Map<string, FleetNode>();
    const statuses = new Map<string, Map<string, StatusMessage>>();
    const thresholds = { staleAfter: options.staleAfter, expireAfter: options.expireAfter };
    const put = (heartbeat: HeartbeatMessage, ageS: number) => {
      const known = found.get(heartbeat.node);
      if (known && known.heartbeat_age <= ageS) return;
      found.set(heartbeat.node, {
        node: heartbeat.node,
        state: liveness(ageS, heartbeat.heartbeat_interval, thresholds),
        heartbeat_age: round(ageS),
        heartbeat,
      });
    };
    const fromKv = this.#readKv(options.services === true).then((entries) => {
      const now = Date.now();
      for (const entry of entries) {
        const key = parseKey(entry.key);
        if (!key) continue;
        try {
          if (key.service === HEARTBEAT_KEY) {
            put(JSON.parse(entry.value) as HeartbeatMessage, (now - entry.createdMs) / 1000);
          } else {
            const status = JSON.parse(entry.value) as StatusMessage;
            const map = statuses.get(key.node) ?? new Map<string, StatusMessage>();
            map.set(key.service, status);
            statuses.set(key.node, map);
          }
        } catch {
          // not ours
        }
      }
    });
    const fromDiscovery = this.#discover(options).then((replies) => {
      for (const reply of replies) {
        const { service_status, ...heartbeat } = reply as unknown as HeartbeatMessage & {
          service_status?: ServiceStatus[];
        };
        put(heartbeat, 0);
        if (Array.isArray(service_status)) {
          const map = new Map<string, StatusMessage>();
          for (const s of service_status) {
            map.set(s.name, {
              schema: heartbeat.schema,
              node: heartbeat.node,
              at: heartbeat.at,
              ...s,
            });
          }
          statuses.set(heartbeat.node, map);
        }
      }
    });
    await Promise.all([fromKv, fromDiscovery]);
    const nodes = [...found.values()].sort((a, b) => a.node.localeCompare(b.node));
    if (options.services) {
      for (const node of nodes) node.services = [...(statuses.get(node.node)?.values() ?? [])];
    }
    return nodes;
  }

  /** Latest status of `service` on `node`: from the KV bucket, else by asking the node. */
  async status(node: string, service: string): Promise<StatusMessage | StatusBody> {
    subjectToken(node, "node");
    const entries = await this.#readKv(true, `${node}.${service}`);
    const entry = entries.find((e) => e.key === `${node}.${service}`);
    if (entry) return JSON.parse(entry.value) as StatusMessage;
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
    const h = headers();
    if (this.#options.apiToken) h.set("Authorization", `Bearer ${this.#options.apiToken}`);
    let msg;
    try {
      msg = await this.#nc.request(subject, JSON.stringify(request), {
        timeout: this.#options.timeoutMs ?? 5000,
        headers: h,
      });
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
    const code = msg.headers?.get("Nats-Service-Error-Code");
    if (code) {
      let error = msg.headers?.get("Nats-Service-Error") || `error ${code}`;
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
   * Call `onEvent` for every lifecycle event of the matching nodes and
   * services (all when undefined); returns the subscription.
   */
  watch(
    filter: { node?: string; service?: string },
    onEvent: (event: EventMessage, subject: string) => void,
  ): Subscription {
    const node = filter.node === undefined ? "*" : subjectToken(filter.node, "node");
    const service = filter.service ?? ">";
    return this.#nc.subscribe(`${this.prefix}.${node}.events.${service}`, {
      callback: (_err, msg) => {
        if (!parseSubject(this.prefix, msg.subject)) return;
        try {
          onEvent(msg.json<EventMessage>(), msg.subject);
        } catch {
          // not JSON: not ours
        }
      },
    });
  }

  async #discover(options: NodesOptions): Promise<Record<string, unknown>[]> {
    const replies: Record<string, unknown>[] = [];
    try {
      const iterator = await this.#nc.requestMany(
        discoverSubject(this.prefix),
        JSON.stringify({ services: options.services === true }),
        {
          strategy: "stall",
          stall: options.quietMs ?? 250,
          maxWait: options.maxWaitMs ?? 1500,
        },
      );
      for await (const msg of iterator) {
        try {
          const body = msg.json<Record<string, unknown>>();
          if (typeof body.node === "string") replies.push(body);
        } catch {
          // not ours
        }
      }
    } catch {
      // no node answered
    }
    return replies;
  }

  /** Latest entries of the KV bucket (heartbeats only unless `all`); none without JetStream. */
  async #readKv(
    all: boolean,
    key?: string,
  ): Promise<{ key: string; value: string; createdMs: number }[]> {
    const out: { key: string; value: string; createdMs: number }[] = [];
    const bucket = bucketName(this.prefix);
    const prefix = `$KV.${bucket}.`;
    let consumer;
    try {
      consumer = await jetstream(this.#nc).consumers.get(`KV_${bucket}`, {
        filter_subjects: prefix + (key ?? (all ? ">" : `*.${HEARTBEAT_KEY}`)),
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
    } catch {
      return out; // no JetStream, or no bucket yet
    }
    const pending = (await consumer.info()).num_pending;
    if (pending === 0) return out;
    const decoder = new TextDecoder();
    const messages = await consumer.fetch({
      max_messages: pending,
      expires: this.#options.timeoutMs ?? 5000,
    });
    let seen = 0;
    for await (const m of messages) {
      seen++;
      const operation = m.headers?.get("KV-Operation");
      if (!operation || operation === "PUT") {
        out.push({
          key: m.subject.slice(prefix.length),
          value: decoder.decode(m.data),
          createdMs: Math.floor(m.info.timestampNanos / 1_000_000),
        });
      }
      if (seen >= pending) break;
    }
    return out;
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
