/**
 * The NATS side of one orchestrator: connects in the background (retrying
 * forever), publishes lifecycle events, status changes, periodic snapshots
 * and heartbeats, keeps a JetStream stream and KV bucket when the server has
 * JetStream, answers fleet discovery, and (optionally) serves remote control.
 *
 * NATS never stands in the supervisor's way: events are queued in a bounded
 * outbox synchronously and published when a connection is up; nothing here
 * is awaited by the supervisor. A published message stays held until a
 * PING/PONG round trip shows the server has it; what a dropped connection
 * took with it goes back to the front of the outbox and is sent again after
 * the reconnect, with the same `Nats-Msg-Id`, so the stream stores it once.
 *
 * @module
 */
import { headers, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { EventBus, SupervisorEvent } from "../events.ts";
import type { ServiceControl, ServiceStatus } from "../types.ts";
import { delay } from "../supervisor/process.ts";
import { VERSION } from "../version.ts";
import { connectNats, type NatsConnectOptions, parseServers } from "./connection.ts";
import { addControlService, type ControlService } from "./control.ts";
import { Outbox, type OutboxMessage } from "./outbox.ts";
import {
  bucketName,
  DEFAULT_PREFIX,
  discoverSubject,
  nodeFromHostname,
  type NodeSubjects,
  nodeSubjects,
  SCHEMA_VERSION,
  streamName,
  streamSubjects,
  subjectToken,
} from "./subjects.ts";

/** Options of a {@linkcode NatsPublisher}. */
export interface NatsPublisherOptions extends NatsConnectOptions {
  /** Node name, a subject token. @default the host name's first label */
  node?: string;
  /** First token of every subject. @default "edgevisor" */
  prefix?: string;
  /** Serve the control endpoints. @default false */
  control?: boolean;
  /** API token that control requests must carry (`Authorization: Bearer <token>`). */
  apiToken?: string;
  /** Milliseconds between heartbeats. @default 5000 */
  heartbeatIntervalMs?: number;
  /** Milliseconds between full snapshots of every service. @default 60000 */
  snapshotIntervalMs?: number;
  /** Messages kept while disconnected; the oldest are dropped beyond. @default 10000 */
  outboxSize?: number;
  /** Milliseconds between connection attempts. @default 2000 */
  retryMs?: number;
  /** Oldest message the stream keeps, milliseconds. @default 86400000 (24 h) */
  streamMaxAgeMs?: number;
  /** Largest size of the stream, bytes. @default 268435456 (256 MiB) */
  streamMaxBytes?: number;
  /** One line of the orchestrator's log. @default console.error */
  log?: (line: string) => void;
}

/** What the publisher reads from the supervisor. */
export interface NatsSource {
  /** Status, info and actions. */
  control: ServiceControl;
  /** Every transition. */
  events: EventBus<SupervisorEvent>;
}

/** Body of `{prefix}.{node}.heartbeat` (and of discovery replies). */
export interface HeartbeatMessage {
  schema: number;
  node: string;
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
}

/** Body of `{prefix}.{node}.status.{service}`: the REST status fields plus `schema`, `node`, `at`. */
export type StatusMessage = { schema: number; node: string; at: string } & ServiceStatus;

/** Body of `{prefix}.{node}.events.{service}`: the event plus `schema` and `node`. */
export type EventMessage = { schema: number; node: string } & SupervisorEvent;

const CLOCK_TICKS = 100;

/** What is wrong with `options` (node, prefix, server URL), or undefined when they are usable. */
export function natsOptionsProblem(options: NatsPublisherOptions): string | undefined {
  try {
    if (options.prefix !== undefined) subjectToken(options.prefix, "prefix");
    if (options.node !== undefined) subjectToken(options.node, "node");
    parseServers(options.url);
  } catch (err) {
    return message(err);
  }
  return undefined;
}

/** Publishes one orchestrator on NATS; see the module documentation. */
export class NatsPublisher {
  readonly node: string;
  readonly prefix: string;
  readonly subjects: NodeSubjects;
  #source: NatsSource;
  #options: NatsPublisherOptions;
  #log: (line: string) => void;
  #outbox: Outbox;
  /** Published on the current connection, oldest first, not yet confirmed by a PONG. */
  #unconfirmed: { n: number; message: OutboxMessage }[] = [];
  /** Messages published so far (numbers the entries of `#unconfirmed`). */
  #published = 0;
  /** The generation whose unconfirmed messages a flush is confirming, if any. */
  #confirming: number | undefined;
  /** First part of every `Nats-Msg-Id`: unique to this run. */
  #runId = crypto.randomUUID().slice(0, 8);
  #sequence = 0;
  #droppedTotal = 0;
  #nc: NatsConnection | undefined;
  #ready = false;
  #generation = 0;
  #kv = false;
  #jetStream: "unknown" | "yes" | "no" = "unknown";
  #closing = false;
  #stopWaiting = new AbortController();
  #unsubscribe: (() => void) | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #loop: Promise<void> | undefined;
  #service: ControlService | undefined;
  #cpu = { seconds: cpuSeconds(), atMs: performance.now() };

  /** Validate the options (throws `TypeError` for a bad node or prefix). Nothing starts yet. */
  constructor(source: NatsSource, options: NatsPublisherOptions) {
    this.#source = source;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.node = options.node ?? nodeFromHostname(Deno.hostname());
    this.subjects = nodeSubjects(this.prefix, this.node);
    this.#outbox = new Outbox(options.outboxSize ?? 10_000);
  }

  /** Whether a connection is up and the outbox is being sent. */
  get connected(): boolean {
    return this.#ready;
  }

  /** Messages waiting in the outbox. */
  get queued(): number {
    return this.#outbox.size;
  }

  /** Subscribe to the events and start connecting in the background. Returns at once. */
  start(): void {
    if (this.#loop) return;
    this.#unsubscribe = this.#source.events.subscribe((event) => this.#onEvent(event));
    const heartbeatMs = this.#options.heartbeatIntervalMs ?? 5000;
    const snapshotMs = this.#options.snapshotIntervalMs ?? 60_000;
    this.#timers.push(setInterval(() => this.#publishHeartbeat(), heartbeatMs));
    this.#timers.push(setInterval(() => this.#publishSnapshot(), snapshotMs));
    this.#loop = this.#run();
  }

  /** Send what is queued (briefly, when connected), then disconnect. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#unsubscribe?.();
    for (const id of this.#timers) clearInterval(id);
    this.#stopWaiting.abort();
    const nc = this.#nc;
    if (nc && !nc.isClosed()) {
      if (this.#ready) {
        this.#drain();
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

  async #run(): Promise<void> {
    const retryMs = this.#options.retryMs ?? 2000;
    let complained = false;
    while (!this.#closing) {
      let nc: NatsConnection;
      try {
        nc = await connectNats(this.#options, {
          name: `edgevisor ${this.node}`,
          maxReconnectAttempts: -1,
          timeout: 5000,
          reconnectTimeWait: retryMs,
          reconnectJitter: Math.min(100, retryMs),
          pingInterval: 20_000,
          maxPingOut: 3,
        });
      } catch (err) {
        if (!complained) {
          this.#log(
            `nats: cannot connect to ${this.#options.url}: ${message(err)}; retrying every ${
              retryMs / 1000
            }s`,
          );
          complained = true;
        }
        await delay(retryMs, this.#stopWaiting.signal);
        continue;
      }
      if (this.#closing) {
        await nc.close().catch(() => {});
        break;
      }
      complained = false;
      this.#nc = nc;
      this.#log(`nats: connected to ${nc.getServer()} as node "${this.node}"`);
      this.#watchStatus(nc);
      this.#subscribeDiscover(nc);
      await this.#onConnected(nc);
      if (this.#options.control) await this.#startControl(nc);
      const err = await nc.closed();
      this.#ready = false;
      this.#generation++;
      this.#requeueUnconfirmed();
      this.#nc = undefined;
      this.#service = undefined;
      if (!this.#closing) {
        this.#log(`nats: connection closed${err ? `: ${err.message}` : ""}; connecting again`);
        await delay(retryMs, this.#stopWaiting.signal);
      }
    }
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") {
          this.#ready = false;
          this.#generation++;
          this.#requeueUnconfirmed();
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
    await this.#setupJetStream(nc);
    if (generation !== this.#generation || nc !== this.#nc || nc.isClosed()) return;
    this.#ready = true;
    this.#drain();
    this.#publishHeartbeat();
    this.#publishSnapshot();
  }

  async #setupJetStream(nc: NatsConnection): Promise<void> {
    const stream = streamName(this.prefix);
    const bucket = bucketName(this.prefix);
    let jsm;
    try {
      jsm = await jetstreamManager(nc, { timeout: 5000 });
    } catch {
      if (this.#jetStream !== "no") {
        this.#log("nats: the server has no JetStream; publishing without stream and KV bucket");
      }
      this.#jetStream = "no";
      this.#kv = false;
      return;
    }
    try {
      const config = {
        name: stream,
        subjects: streamSubjects(this.prefix),
        max_age: (this.#options.streamMaxAgeMs ?? 86_400_000) * 1_000_000,
        max_bytes: this.#options.streamMaxBytes ?? 268_435_456,
      };
      try {
        await jsm.streams.info(stream);
        await jsm.streams.update(stream, config);
      } catch {
        await jsm.streams.add(config);
      }
      await new Kvm(nc).create(bucket, { history: 1 });
      if (this.#jetStream !== "yes") {
        this.#log(`nats: JetStream stream "${stream}" and KV bucket "${bucket}" ready`);
      }
      this.#jetStream = "yes";
      this.#kv = true;
    } catch (err) {
      this.#log(`nats: cannot set up stream "${stream}" or KV bucket "${bucket}": ${message(err)}`);
      this.#kv = false;
    }
  }

  #subscribeDiscover(nc: NatsConnection): void {
    nc.subscribe(discoverSubject(this.prefix), {
      callback: (_err, msg: Msg) => {
        if (!msg.reply) return;
        let withServices = false;
        try {
          withServices = msg.data.length > 0 &&
            msg.json<{ services?: boolean }>().services === true;
        } catch {
          // an empty or non-JSON request asks for the heartbeat only
        }
        const body: Record<string, unknown> = { ...this.#heartbeat() };
        if (withServices) body.service_status = this.#source.control.list();
        msg.respond(JSON.stringify(body));
      },
    });
  }

  async #startControl(nc: NatsConnection): Promise<void> {
    try {
      this.#service = await addControlService(nc, this.#source.control, {
        group: this.subjects.control,
        node: this.node,
        prefix: this.prefix,
        token: this.#options.apiToken,
        log: this.#log,
      });
      this.#log(
        `nats: control service "edgevisor" on ${this.subjects.control}.*${
          this.#options.apiToken ? " (token required)" : ""
        }`,
      );
    } catch (err) {
      this.#log(`nats: cannot start the control service: ${message(err)}`);
    }
  }

  #onEvent(event: SupervisorEvent): void {
    const service = (event as { service?: unknown }).service;
    if (typeof service !== "string") return;
    this.#enqueue(
      this.subjects.events(service),
      JSON.stringify({ schema: SCHEMA_VERSION, node: this.node, ...event }),
    );
    this.#enqueueStatus(service);
    this.#drain();
  }

  #enqueueStatus(service: string): void {
    let status: ServiceStatus;
    try {
      status = this.#source.control.status(service);
    } catch {
      return;
    }
    const body = JSON.stringify(
      { schema: SCHEMA_VERSION, node: this.node, at: new Date().toISOString(), ...status },
    );
    this.#enqueue(this.subjects.status(service), body);
    if (this.#kv) {
      this.#enqueue(`$KV.${bucketName(this.prefix)}.${this.subjects.statusKey(service)}`, body);
    }
  }

  #enqueue(subject: string, data: string): void {
    this.#outbox.push({ subject, data, id: `${this.#runId}-${++this.#sequence}` });
  }

  /** What the lost connection may have taken with it goes first when the next one is up. */
  #requeueUnconfirmed(): void {
    this.#outbox.prepend(this.#unconfirmed.map((entry) => entry.message));
    this.#unconfirmed = [];
  }

  /** Round trips to the server until every message published on this connection is confirmed. */
  async #confirm(nc: NatsConnection): Promise<void> {
    const generation = this.#generation;
    if (this.#confirming === generation) return;
    this.#confirming = generation;
    try {
      while (this.#unconfirmed.length > 0 && generation === this.#generation) {
        const sent = this.#published;
        await nc.flush();
        if (generation !== this.#generation) break;
        // The server had everything published before the PING.
        let confirmed = 0;
        while (confirmed < this.#unconfirmed.length && this.#unconfirmed[confirmed]!.n <= sent) {
          confirmed++;
        }
        this.#unconfirmed.splice(0, confirmed);
      }
    } catch {
      // disconnected: the messages go back to the outbox
    } finally {
      if (this.#confirming === generation) this.#confirming = undefined;
    }
  }

  /** Send the outbox in order while connected; first the count of what was dropped. */
  #drain(): void {
    const nc = this.#nc;
    if (!this.#ready || !nc) return;
    try {
      const dropped = this.#outbox.dropped;
      if (dropped > 0) {
        nc.publish(
          this.subjects.outbox,
          JSON.stringify({
            schema: SCHEMA_VERSION,
            node: this.node,
            at: new Date().toISOString(),
            dropped,
            dropped_total: this.#droppedTotal + dropped,
          }),
        );
        this.#droppedTotal += this.#outbox.takeDropped();
        this.#log(`nats: ${dropped} message(s) dropped from the outbox while disconnected`);
      }
      for (let m = this.#outbox.peek(); m !== undefined; m = this.#outbox.peek()) {
        const options = m.id === undefined ? undefined : { headers: msgIdHeader(m.id) };
        nc.publish(m.subject, m.data, options);
        this.#outbox.shift();
        this.#unconfirmed.push({ n: ++this.#published, message: m });
      }
    } catch {
      // closed or draining: what is left stays queued
    }
    // Bounded like the outbox: on a stalled connection the oldest are taken as delivered.
    const over = this.#unconfirmed.length - this.#outbox.capacity;
    if (over > 0) this.#unconfirmed.splice(0, over);
    if (this.#unconfirmed.length > 0) void this.#confirm(nc);
  }

  #heartbeat(): HeartbeatMessage {
    const info = this.#source.control.info();
    const seconds = cpuSeconds();
    const nowMs = performance.now();
    const spanMs = nowMs - this.#cpu.atMs;
    const percent = spanMs > 0 ? ((seconds - this.#cpu.seconds) * 1000 / spanMs) * 100 : 0;
    if (spanMs >= 1000) this.#cpu = { seconds, atMs: nowMs };
    return {
      schema: SCHEMA_VERSION,
      node: this.node,
      version: VERSION,
      pid: info.pid,
      at: new Date().toISOString(),
      uptime: info.uptime,
      heartbeat_interval: (this.#options.heartbeatIntervalMs ?? 5000) / 1000,
      services: { ...info.services },
      cpu: { seconds: round(seconds, 2), percent: round(Math.max(0, percent), 1) },
      rss_bytes: Deno.memoryUsage().rss,
      outbox: { queued: this.#outbox.size, dropped_total: this.#droppedTotal },
    };
  }

  /** Heartbeats are not queued: a fresh one follows every reconnect. */
  #publishHeartbeat(): void {
    const nc = this.#nc;
    if (!this.#ready || !nc) return;
    const body = JSON.stringify(this.#heartbeat());
    try {
      nc.publish(this.subjects.heartbeat, body);
      if (this.#kv) {
        nc.publish(`$KV.${bucketName(this.prefix)}.${this.subjects.heartbeatKey}`, body);
      }
    } catch {
      // disconnected in between
    }
  }

  /** Status of every service, queued behind the events. */
  #publishSnapshot(): void {
    if (!this.#ready) return;
    for (const status of this.#source.control.list()) this.#enqueueStatus(status.name);
    this.#drain();
  }
}

function cpuSeconds(): number {
  try {
    const text = Deno.readTextFileSync("/proc/self/stat");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function msgIdHeader(id: string) {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  return h;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
