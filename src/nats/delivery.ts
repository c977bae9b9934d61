/**
 * Delivery of a node's events: queued in a bounded outbox at once (nothing
 * waits for NATS), published in order while a connection is up, and held
 * until a PING/PONG round trip shows the server has them. What a lost
 * connection may have taken goes back to the front of the outbox and is sent
 * again after the reconnect with the same `Nats-Msg-Id`, so the stream
 * stores it once. What the outbox dropped while disconnected is counted and
 * announced on the node's `outbox` subject before the rest.
 *
 * @module
 */
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { Outbox, type OutboxMessage } from "./outbox.ts";
import { SCHEMA_VERSION } from "./subjects.ts";

/** Where a {@linkcode Delivery} announces drops, and logs. */
export interface DeliveryOptions {
  /** Messages kept while disconnected; the oldest are dropped beyond. */
  capacity: number;
  /** The node's name, in the drop notice. */
  node: string;
  /** The subject of the drop notice (`{prefix}.{node}.outbox`). */
  noticeSubject: string;
  /** One line of the orchestrator's log. */
  log: (line: string) => void;
}

/** The events of one node on their way to the server; see the module documentation. */
export class Delivery {
  #options: DeliveryOptions;
  #outbox: Outbox;
  /** Published on the current connection, oldest first, not yet confirmed by a PONG. */
  #unconfirmed: { n: number; message: OutboxMessage }[] = [];
  /** Messages published so far (numbers the entries of `#unconfirmed`). */
  #published = 0;
  /** Bumped when a connection is lost: a confirmation in flight for it stops. */
  #generation = 0;
  /** The generation a flush is confirming, if any. */
  #confirming: number | undefined;
  /** First part of every `Nats-Msg-Id`: unique to this run. */
  #runId = crypto.randomUUID().slice(0, 8);
  #sequence = 0;
  #droppedTotal = 0;

  /** An empty delivery. */
  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#outbox = new Outbox(options.capacity);
  }

  /** Messages waiting in the outbox. */
  get queued(): number {
    return this.#outbox.size;
  }

  /** Messages dropped from the outbox since the start, announced so far. */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }

  /** Queue a message, with a `Nats-Msg-Id` of its own. */
  enqueue(subject: string, data: string): void {
    this.#outbox.push({ subject, data, id: `${this.#runId}-${++this.#sequence}` });
  }

  /** The connection is gone: what it may have taken with it goes first on the next one. */
  lost(): void {
    this.#generation++;
    this.#outbox.prepend(this.#unconfirmed.map((entry) => entry.message));
    this.#unconfirmed = [];
  }

  /** Send the outbox in order on `nc` (a connection that is up); first the count of what was dropped. */
  drain(nc: NatsConnection): void {
    try {
      const dropped = this.#outbox.dropped;
      if (dropped > 0) {
        nc.publish(
          this.#options.noticeSubject,
          JSON.stringify({
            schema: SCHEMA_VERSION,
            node: this.#options.node,
            at: new Date().toISOString(),
            dropped,
            dropped_total: this.#droppedTotal + dropped,
          }),
        );
        this.#droppedTotal += this.#outbox.takeDropped();
        this.#options.log(`nats: ${dropped} message(s) dropped from the outbox while disconnected`);
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
}

function msgIdHeader(id: string) {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  return h;
}
