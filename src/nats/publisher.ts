/**
 * The NATS side of one orchestrator: connects in the background (retrying
 * forever), publishes lifecycle events, status changes, periodic snapshots
 * and heartbeats, writes the latest status and heartbeat into the KV bucket
 * when there is JetStream (creating the stream and bucket when missing,
 * never changing existing ones), wakes up on fleet discovery, and
 * (optionally) serves remote control.
 *
 * NATS never stands in the supervisor's way: nothing here is awaited by the
 * supervisor. Events go through `delivery.ts` (a bounded outbox, held until
 * the server confirms them, sent again after a reconnect); the stream and
 * bucket are got ready by `prepareNodeStorage` (`jetstream.ts`); control
 * requests are answered by `control.ts`. Statuses and heartbeats are not
 * queued: a snapshot of every service and a heartbeat follow every
 * (re)connect. A clean close publishes a last heartbeat marked `offline`.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { errorText } from "../errors.ts";
import type { EventBus } from "../events.ts";
import type { ConfigReport } from "../fleet/report.ts";
import type { ServiceControl, ServiceStatus, SupervisorEvent } from "../types.ts";
import { delay } from "../supervisor/process.ts";
import { VERSION } from "../version.ts";
import { keepConnected, type NatsConnectOptions } from "./connection.ts";
import { authenticates, parseServers } from "./servers.ts";
import { addControlService, type ControlService } from "./control.ts";
import { Delivery } from "./delivery.ts";
import { prepareNodeStorage, type StorageOptions } from "./jetstream.ts";
import {
  bucketName,
  DEFAULT_PREFIX,
  discoverSubject,
  MAX_HEARTBEAT_INTERVAL_S,
  MIN_HEARTBEAT_INTERVAL_S,
  nodeFromHostname,
  type NodeSubjects,
  nodeSubjects,
  SCHEMA_VERSION,
  subjectToken,
} from "./subjects.ts";

/** Options of a {@linkcode NatsPublisher}. */
export interface NatsPublisherOptions extends NatsConnectOptions, StorageOptions {
  /** Node name, a subject token. @default the host name's first label */
  node?: string;
  /** First token of every subject. @default "edgevisor" */
  prefix?: string;
  /**
   * Serve the control endpoints. Whoever may publish on
   * `{prefix}.{node}.control.>` (a question of the server's permissions)
   * can start and stop services. @default false
   */
  control?: boolean;
  /**
   * JetStream domain of the stream and the bucket (a device's own leaf
   * node); the stream then holds this node's events only. @default the
   * domain of the server connected to
   */
  domain?: string;
  /**
   * The stream and the bucket are set up by the operator: make no JetStream
   * API call, only publish events and KV values (a user allowed to publish
   * on its own subjects is enough). @default false
   */
  provisioned?: boolean;
  /** Milliseconds between heartbeats, from 100 to 3600000. @default 5000 */
  heartbeatIntervalMs?: number;
  /** Milliseconds between full snapshots of every service. @default 60000 */
  snapshotIntervalMs?: number;
  /** Messages kept while disconnected; the oldest are dropped beyond. @default 10000 */
  outboxSize?: number;
  /** Milliseconds between connection attempts. @default 2000 */
  retryMs?: number;
  /** One line of the orchestrator's log. @default console.error */
  log?: (line: string) => void;
}

/** What the publisher reads from the supervisor. */
export interface NatsSource {
  /** Status, info and actions. */
  control: ServiceControl;
  /** Every transition. */
  events: EventBus<SupervisorEvent>;
  /**
   * The configuration state of a device that follows a fleet group: the
   * heartbeat's `config`; a new report publishes a heartbeat at once.
   */
  config?: {
    readonly report: ConfigReport;
    subscribe(listener: (report: ConfigReport) => void): () => void;
  };
}

/** Body of `{prefix}.{node}.heartbeat` (and of the KV key `{node}._heartbeat`). */
export interface HeartbeatMessage {
  schema: number;
  node: string;
  /** True in the last heartbeat of an orchestrator that stops. */
  offline: boolean;
  version: string;
  pid: number;
  /** When it was sent, ISO 8601. */
  at: string;
  /** Seconds since the orchestrator started. */
  uptime: number;
  /** Seconds between two heartbeats. */
  heartbeat_interval: number;
  /** Services by state, plus `total`. */
  services: Record<string, number>;
  /** CPU time of the orchestrator process. */
  cpu: { seconds: number; percent: number };
  /** Resident set size of the orchestrator process, bytes. */
  rss_bytes: number;
  /** Messages waiting, and dropped since start, in the outbox. */
  outbox: { queued: number; dropped_total: number };
  /** The state of its fleet configuration, when it follows a fleet group. */
  config?: ConfigReport;
}

/** Body of `{prefix}.{node}.status.{service}` and of its KV key: the REST status fields plus `schema`, `node`, `at`. */
export type StatusMessage = { schema: number; node: string; at: string } & ServiceStatus;

/** Body of `{prefix}.{node}.events.{service}`: the event plus `schema` and `node`. */
export type EventMessage = { schema: number; node: string } & SupervisorEvent;

/** What {@linkcode checkNatsOptions} finds: an error that stops the start, or a warning to log. */
export interface NatsOptionsCheck {
  /** Why the options cannot be used. */
  error?: string;
  /** What to log on every start. */
  warning?: string;
}

/**
 * Check `options` before anything starts: node, prefix, domain, server URL,
 * heartbeat interval; and refuse `control` on a connection that does not
 * authenticate, unless `insecure` (then a warning).
 */
export function checkNatsOptions(
  options: NatsPublisherOptions,
  insecure = false,
): NatsOptionsCheck {
  try {
    if (options.prefix !== undefined) subjectToken(options.prefix, "prefix");
    if (options.node !== undefined) subjectToken(options.node, "node");
    if (options.domain !== undefined) subjectToken(options.domain, "JetStream domain");
    parseServers(options.url);
  } catch (err) {
    return { error: errorText(err) };
  }
  const interval = options.heartbeatIntervalMs;
  if (
    interval !== undefined &&
    !(interval >= MIN_HEARTBEAT_INTERVAL_S * 1000 && interval <= MAX_HEARTBEAT_INTERVAL_S * 1000)
  ) {
    return {
      error:
        `Invalid heartbeat interval ${interval} ms: expected ${MIN_HEARTBEAT_INTERVAL_S} to ${MAX_HEARTBEAT_INTERVAL_S} seconds`,
    };
  }
  if (!options.control || authenticates(options)) return {};
  if (insecure) {
    return {
      warning:
        "warning: NATS control is on over a connection without authentication (--insecure): every client of the NATS server can start, stop and restart services and read their logs",
    };
  }
  return {
    error:
      "refusing --nats-control on a NATS connection without authentication: every client of the server could start, stop and restart services; connect as a user the server confines (--nats-creds, --nats-nkey, --nats-user/--nats-pass, --nats-token or a TLS client certificate) or pass --insecure",
  };
}

/** Publishes one orchestrator on NATS; see the module documentation. */
export class NatsPublisher {
  readonly node: string;
  readonly prefix: string;
  readonly subjects: NodeSubjects;
  #source: NatsSource;
  #options: NatsPublisherOptions;
  #log: (line: string) => void;
  /** The events on their way (see `delivery.ts`). */
  #delivery: Delivery;
  #nc: NatsConnection | undefined;
  #ready = false;
  /** Bumped on every connect and disconnect: a set-up that finishes late is dropped. */
  #generation = 0;
  /** Whether statuses and heartbeats are written into the KV bucket (false without JetStream). */
  #kv = false;
  /** What the last JetStream set-up logged, so that a reconnect logs only a change. */
  #jetStreamLog = "";
  #closing = false;
  #stopWaiting = new AbortController();
  #unsubscribe: (() => void)[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #loop: Promise<void> | undefined;
  #service: ControlService | undefined;

  /** Validate the options (throws `TypeError` for a bad node or prefix). Nothing starts yet. */
  constructor(source: NatsSource, options: NatsPublisherOptions) {
    this.#source = source;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.node = options.node ?? nodeFromHostname(Deno.hostname());
    this.subjects = nodeSubjects(this.prefix, this.node);
    this.#delivery = new Delivery({
      capacity: options.outboxSize ?? 10_000,
      node: this.node,
      noticeSubject: this.subjects.outbox,
      log: this.#log,
    });
  }

  /** Whether a connection is up and the outbox is being sent. */
  get connected(): boolean {
    return this.#ready;
  }

  /** Messages waiting in the outbox. */
  get queued(): number {
    return this.#delivery.queued;
  }

  /** Subscribe to the events and start connecting in the background. Returns at once. */
  start(): void {
    if (this.#loop) return;
    this.#unsubscribe.push(this.#source.events.subscribe((event) => this.#onEvent(event)));
    const config = this.#source.config?.subscribe(() => this.#publishHeartbeat());
    if (config) this.#unsubscribe.push(config);
    const heartbeatMs = this.#options.heartbeatIntervalMs ?? 5000;
    const snapshotMs = this.#options.snapshotIntervalMs ?? 60_000;
    this.#timers.push(setInterval(() => this.#publishHeartbeat(), heartbeatMs));
    this.#timers.push(setInterval(() => this.#publishSnapshot(), snapshotMs));
    this.#loop = this.#run();
  }

  /** Send what is queued and an `offline` heartbeat (briefly, when connected), then disconnect. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const id of this.#timers) clearInterval(id);
    this.#stopWaiting.abort();
    const nc = this.#nc;
    if (nc && !nc.isClosed()) {
      if (this.#ready) {
        this.#drain();
        this.#publishHeartbeat(true);
        // Bounded: a slow server does not hold the exit up.
        await Promise.race([
          Promise.all([this.#service?.stop().catch(() => {}), nc.flush().catch(() => {})]),
          delay(1000),
        ]);
      }
      await Promise.race([nc.close().catch(() => {}), delay(1000)]);
    }
    // A connection attempt in flight ends on its own (and is closed at once).
    await Promise.race([this.#loop, delay(1000)]);
  }

  #run(): Promise<void> {
    return keepConnected(this.#options, {
      name: `edgevisor ${this.node}`,
      retryMs: this.#options.retryMs,
      signal: this.#stopWaiting.signal,
      log: this.#log,
    }, async (nc) => {
      this.#nc = nc;
      this.#log(`nats: connected to ${nc.getServer()} as node "${this.node}"`);
      this.#watchStatus(nc);
      this.#subscribeDiscover(nc);
      await this.#onConnected(nc);
      if (this.#options.control) await this.#startControl(nc);
    }, (err) => {
      this.#ready = false;
      this.#generation++;
      this.#delivery.lost();
      this.#nc = undefined;
      this.#service = undefined;
      if (!this.#closing) {
        this.#log(`nats: connection closed${err ? `: ${err.message}` : ""}; connecting again`);
      }
    });
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") {
          this.#ready = false;
          this.#generation++;
          this.#delivery.lost();
          if (!this.#closing) {
            this.#log(`nats: disconnected from ${status.server}; queueing messages`);
          }
        } else if (status.type === "reconnect") {
          this.#log(`nats: reconnected to ${status.server}`);
          void this.#onConnected(nc);
        }
      }
    })().catch(() => {});
  }

  /** Set up JetStream (when there), then send the outbox, a heartbeat and a snapshot. */
  async #onConnected(nc: NatsConnection): Promise<void> {
    const generation = ++this.#generation;
    const storage = await prepareNodeStorage(nc, {
      ...this.#options,
      prefix: this.prefix,
      node: this.node,
    });
    this.#kv = storage.kv;
    // A reconnect logs only a change.
    if (storage.line !== this.#jetStreamLog) this.#log(storage.line);
    this.#jetStreamLog = storage.line;
    if (generation !== this.#generation || nc !== this.#nc || nc.isClosed()) return;
    this.#ready = true;
    this.#drain();
    this.#publishHeartbeat();
    this.#publishSnapshot();
  }

  /** A discovery request: publish a heartbeat now (and every status when asked), never a reply. */
  #subscribeDiscover(nc: NatsConnection): void {
    nc.subscribe(discoverSubject(this.prefix), {
      callback: (_err, msg) => {
        let withServices = false;
        try {
          withServices = msg.data.length > 0 &&
            msg.json<{ services?: boolean }>().services === true;
        } catch {
          // an empty or non-JSON request asks for the heartbeat only
        }
        this.#publishHeartbeat();
        if (withServices) this.#publishSnapshot();
      },
    });
  }

  async #startControl(nc: NatsConnection): Promise<void> {
    try {
      this.#service = await addControlService(nc, this.#source.control, {
        group: this.subjects.control,
        node: this.node,
        prefix: this.prefix,
        log: this.#log,
      });
      this.#log(`nats: control service "edgevisor" on ${this.subjects.control}.*`);
    } catch (err) {
      this.#log(`nats: cannot start the control service: ${errorText(err)}`);
    }
  }

  #onEvent(event: SupervisorEvent): void {
    const service = (event as { service?: unknown }).service;
    if (typeof service !== "string") return;
    this.#delivery.enqueue(
      this.subjects.events(service),
      JSON.stringify({ schema: SCHEMA_VERSION, node: this.node, ...event }),
    );
    this.#drain();
    this.#publishStatus(service);
  }

  /** The status of `service` on its subject and into its KV key, when connected. */
  #publishStatus(service: string): void {
    const nc = this.#nc;
    if (!this.#ready || !nc) return;
    let status: ServiceStatus;
    try {
      status = this.#source.control.status(service);
    } catch {
      return;
    }
    const body = JSON.stringify(
      { schema: SCHEMA_VERSION, node: this.node, at: new Date().toISOString(), ...status },
    );
    try {
      nc.publish(this.subjects.status(service), body);
      if (this.#kv) nc.publish(this.#kvSubject(this.subjects.statusKey(service)), body);
    } catch {
      // disconnected in between: the snapshot after the reconnect sends it
    }
  }

  #kvSubject(key: string): string {
    return `$KV.${bucketName(this.prefix)}.${key}`;
  }

  /** Send the queued events while connected. */
  #drain(): void {
    const nc = this.#nc;
    if (this.#ready && nc) this.#delivery.drain(nc);
  }

  #heartbeat(offline = false): HeartbeatMessage {
    // The orchestrator's own CPU and memory, as the metrics sampler last read them.
    const info = this.#source.control.info();
    return {
      schema: SCHEMA_VERSION,
      node: this.node,
      offline,
      version: VERSION,
      pid: info.pid,
      at: new Date().toISOString(),
      uptime: info.uptime,
      heartbeat_interval: (this.#options.heartbeatIntervalMs ?? 5000) / 1000,
      services: { ...info.services },
      cpu: {
        seconds: round(info.cpu_seconds ?? 0, 2),
        percent: round(Math.max(0, info.cpu_percent ?? 0), 1),
      },
      rss_bytes: info.memory_rss_bytes ?? Deno.memoryUsage().rss,
      outbox: { queued: this.#delivery.queued, dropped_total: this.#delivery.droppedTotal },
      ...(this.#source.config ? { config: this.#source.config.report } : {}),
    };
  }

  /** Heartbeats are not queued: a fresh one follows every reconnect. */
  #publishHeartbeat(offline = false): void {
    const nc = this.#nc;
    if (!this.#ready || !nc) return;
    const body = JSON.stringify(this.#heartbeat(offline));
    try {
      nc.publish(this.subjects.heartbeat, body);
      if (this.#kv) nc.publish(this.#kvSubject(this.subjects.heartbeatKey), body);
    } catch {
      // disconnected in between
    }
  }

  /** Status of every service, behind the events. */
  #publishSnapshot(): void {
    for (const status of this.#source.control.list()) this.#publishStatus(status.name);
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
