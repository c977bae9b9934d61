/**
 * A NATS micro service (the protocol of `nats micro`): endpoints answering
 * requests on their subjects, and the discovery subjects `$SRV.PING`,
 * `$SRV.INFO` and `$SRV.STATS` (each also as `.{name}` and `.{name}.{id}`).
 *
 * Endpoints subscribe without a queue group: each instance has subjects of
 * its own, so no other client can share its requests by joining a group.
 * Every answer goes through {@linkcode MicroService}, so `$SRV.STATS` counts
 * each request, each error answer (`Nats-Service-Error-Code`), and the time
 * spent, also for handlers that answer asynchronously.
 *
 * @module
 */
import { headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";

/** Header holding the status code of an error answer. */
export const SERVICE_ERROR_CODE_HEADER = "Nats-Service-Error-Code";

/** Header holding the message of an error answer. */
export const SERVICE_ERROR_HEADER = "Nats-Service-Error";

/** What an endpoint answers: a body, and for an error its code and message. */
export interface MicroReply {
  /** Body of the answer. */
  data: string;
  /** Present for an error answer (sent as the service error headers). */
  error?: { code: number; description: string };
}

/** One endpoint of a {@linkcode MicroService}. */
export interface MicroEndpoint {
  /** Endpoint name (`nats micro info` shows it). */
  name: string;
  /** Subject it answers on. */
  subject: string;
  /** Metadata shown by `$SRV.INFO`. */
  metadata?: Record<string, string>;
  /** Answer one request; a thrown error answers 500 with its message. */
  handler(msg: Msg): Promise<MicroReply>;
}

/** Identity and endpoints of a {@linkcode MicroService}. */
export interface MicroConfig {
  /** Service name, the same for every instance. */
  name: string;
  /** Semantic version. */
  version: string;
  /** One line about the service. */
  description?: string;
  /** Metadata of this instance. */
  metadata?: Record<string, string>;
  /** Its endpoints. */
  endpoints: MicroEndpoint[];
}

interface Stats {
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
}

/** One running instance of a micro service on a connection. */
export class MicroService {
  /** Unique id of this instance. */
  readonly id: string = crypto.randomUUID().replaceAll("-", "");
  #nc: NatsConnection;
  #config: MicroConfig;
  #stats = new Map<string, Stats>();
  #subscriptions: Subscription[] = [];
  #started = new Date().toISOString();

  /** Subscribe the endpoints and the discovery subjects on `nc`; answers once the server has them. */
  static async start(nc: NatsConnection, config: MicroConfig): Promise<MicroService> {
    const service = new MicroService(nc, config);
    await nc.flush();
    return service;
  }

  private constructor(nc: NatsConnection, config: MicroConfig) {
    this.#nc = nc;
    this.#config = config;
    for (const endpoint of config.endpoints) {
      const stats = { num_requests: 0, num_errors: 0, last_error: "", processing_time: 0 };
      this.#stats.set(endpoint.name, stats);
      this.#subscriptions.push(nc.subscribe(endpoint.subject, {
        callback: (_err, msg) => void this.#answer(endpoint, stats, msg),
      }));
    }
    const answers: Record<string, () => unknown> = {
      PING: () => ({ type: "io.nats.micro.v1.ping_response", ...this.#identity() }),
      INFO: () => this.info(),
      STATS: () => this.stats(),
    };
    for (const [verb, answer] of Object.entries(answers)) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${config.name}`]) {
        this.#subscribe(subject, answer);
      }
      this.#subscribe(`$SRV.${verb}.${config.name}.${this.id}`, answer);
    }
  }

  /** The answer to `$SRV.INFO`. */
  info(): Record<string, unknown> {
    return {
      type: "io.nats.micro.v1.info_response",
      ...this.#identity(),
      description: this.#config.description ?? "",
      endpoints: this.#config.endpoints.map((e) => ({
        name: e.name,
        subject: e.subject,
        queue_group: "",
        metadata: e.metadata ?? {},
      })),
    };
  }

  /** The answer to `$SRV.STATS`. */
  stats(): Record<string, unknown> {
    return {
      type: "io.nats.micro.v1.stats_response",
      ...this.#identity(),
      started: this.#started,
      endpoints: this.#config.endpoints.map((e) => {
        const s = this.#stats.get(e.name)!;
        return {
          name: e.name,
          subject: e.subject,
          queue_group: "",
          ...s,
          average_processing_time: s.num_requests > 0
            ? Math.round(s.processing_time / s.num_requests)
            : 0,
        };
      }),
    };
  }

  /** Stop answering: drain every subscription (bounded by the connection's own timeouts). */
  async stop(): Promise<void> {
    if (this.#nc.isClosed()) return;
    await Promise.allSettled(this.#subscriptions.map((s) => s.drain()));
  }

  #identity() {
    const { name, version, metadata } = this.#config;
    return { name, id: this.id, version, metadata: metadata ?? {} };
  }

  #subscribe(subject: string, answer: () => unknown): void {
    this.#subscriptions.push(this.#nc.subscribe(subject, {
      callback: (_err, msg) => {
        if (msg.reply) msg.respond(JSON.stringify(answer()));
      },
    }));
  }

  async #answer(endpoint: MicroEndpoint, stats: Stats, msg: Msg): Promise<void> {
    const start = performance.now();
    let reply: MicroReply;
    try {
      reply = await endpoint.handler(msg);
    } catch (err) {
      const description = err instanceof Error ? err.message : String(err);
      reply = { data: "", error: { code: 500, description } };
    }
    stats.num_requests++;
    stats.processing_time += Math.round((performance.now() - start) * 1e6);
    let options;
    if (reply.error) {
      stats.num_errors++;
      stats.last_error = `${reply.error.code}:${reply.error.description}`;
      const h = headers();
      h.set(SERVICE_ERROR_CODE_HEADER, String(reply.error.code));
      h.set(SERVICE_ERROR_HEADER, reply.error.description);
      options = { headers: h };
    }
    try {
      if (msg.reply) msg.respond(reply.data, options);
    } catch {
      // the connection closed meanwhile
    }
  }
}
