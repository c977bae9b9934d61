import assert from "node:assert/strict";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { Delivery } from "./delivery.ts";

/** A connection that records what is published; `flush()` waits for `pong()`, or fails on `drop()`. */
function fakeConnection() {
  const sent: { subject: string; data: string; id: string | undefined }[] = [];
  const flushes: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const nc = {
    publish(subject: string, data: string, options?: { headers?: MsgHdrs }) {
      sent.push({ subject, data, id: options?.headers?.get("Nats-Msg-Id") });
    },
    flush: () => new Promise<void>((resolve, reject) => flushes.push({ resolve, reject })),
  } as unknown as NatsConnection;
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    nc,
    sent,
    async pong() {
      flushes.shift()?.resolve();
      await settle();
    },
    async drop() {
      for (const f of flushes.splice(0)) f.reject(new Error("disconnected"));
      await settle();
    },
  };
}

function delivery(capacity = 10, log: string[] = []) {
  return new Delivery({
    capacity,
    node: "n1",
    noticeSubject: "edgevisor.n1.outbox",
    log: (line) => log.push(line),
  });
}

Deno.test("Delivery sends in order with an id each, and holds them until a round trip confirms them", async () => {
  const d = delivery();
  const conn = fakeConnection();
  d.enqueue("edgevisor.n1.events.a", "1");
  d.enqueue("edgevisor.n1.events.b", "2");
  assert.equal(d.queued, 2);
  d.drain(conn.nc);
  assert.deepEqual(conn.sent.map((m) => m.data), ["1", "2"]);
  const ids = conn.sent.map((m) => m.id);
  assert.equal(new Set(ids).size, 2);
  assert.ok(ids.every((id) => /^[0-9a-f]{8}-\d+$/.test(id ?? "")), String(ids));
  assert.equal(d.queued, 0);
  await conn.pong();
  // Confirmed: a lost connection now gives nothing back.
  d.lost();
  assert.equal(d.queued, 0);
});

Deno.test("Delivery gives back what a lost connection may have taken, first, with the same ids", async () => {
  const d = delivery();
  const first = fakeConnection();
  d.enqueue("s", "1");
  d.enqueue("s", "2");
  d.drain(first.nc);
  await first.drop();
  d.lost();
  d.enqueue("s", "3");
  assert.equal(d.queued, 3);
  const second = fakeConnection();
  d.drain(second.nc);
  assert.deepEqual(second.sent.map((m) => m.data), ["1", "2", "3"]);
  assert.deepEqual(second.sent.slice(0, 2).map((m) => m.id), first.sent.map((m) => m.id));
});

Deno.test("Delivery announces what the full outbox dropped before the rest, and counts it", () => {
  const log: string[] = [];
  const d = delivery(2, log);
  for (const n of ["1", "2", "3", "4"]) d.enqueue("s", n);
  const conn = fakeConnection();
  d.drain(conn.nc);
  assert.equal(conn.sent[0]!.subject, "edgevisor.n1.outbox");
  const notice = JSON.parse(conn.sent[0]!.data);
  assert.equal(notice.node, "n1");
  assert.equal(notice.dropped, 2);
  assert.equal(notice.dropped_total, 2);
  assert.deepEqual(conn.sent.slice(1).map((m) => m.data), ["3", "4"]);
  assert.equal(d.droppedTotal, 2);
  assert.deepEqual(log, ["nats: 2 message(s) dropped from the outbox while disconnected"]);
});
