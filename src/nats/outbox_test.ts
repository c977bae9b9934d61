import assert from "node:assert/strict";
import { Outbox } from "./outbox.ts";

Deno.test("Outbox keeps items in order", () => {
  const box = new Outbox<number>(3);
  box.push(1);
  box.push(2);
  assert.equal(box.size, 2);
  assert.equal(box.peek(), 1);
  assert.equal(box.shift(), 1);
  assert.equal(box.shift(), 2);
  assert.equal(box.shift(), undefined);
  assert.equal(box.dropped, 0);
});

Deno.test("Outbox.push() drops the oldest when full and counts it", () => {
  const box = new Outbox<number>(3);
  for (let i = 1; i <= 7; i++) box.push(i);
  assert.equal(box.size, 3);
  assert.equal(box.dropped, 4);
  assert.deepEqual([box.shift(), box.shift(), box.shift()], [5, 6, 7]);
  assert.equal(box.takeDropped(), 4);
  assert.equal(box.dropped, 0);
});

Deno.test("Outbox wraps around after shifts", () => {
  const box = new Outbox<number>(2);
  const out: number[] = [];
  for (let i = 0; i < 10; i++) {
    box.push(i);
    if (i % 2 === 1) out.push(box.shift()!, box.shift()!);
  }
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(box.dropped, 0);
});

Deno.test("Outbox.prepend() puts items back before those waiting, dropping the oldest beyond capacity", () => {
  const box = new Outbox<number>(4);
  box.push(5);
  box.push(6);
  box.prepend([3, 4]);
  assert.deepEqual([box.shift(), box.shift(), box.shift(), box.shift()], [3, 4, 5, 6]);
  box.push(7);
  box.push(8);
  box.prepend([4, 5, 6]);
  assert.equal(box.dropped, 1, "one over capacity");
  assert.deepEqual([box.shift(), box.shift(), box.shift(), box.shift()], [5, 6, 7, 8]);
  box.prepend([]);
  assert.equal(box.size, 0);
});

Deno.test("Outbox rejects a capacity below 1", () => {
  assert.throws(() => new Outbox(0), RangeError);
  assert.throws(() => new Outbox(1.5), RangeError);
});
