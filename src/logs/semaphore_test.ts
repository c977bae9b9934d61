import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("Semaphore.run() runs at most size tasks at once, the others in the order they came", async () => {
  const slots = new Semaphore(2);
  const started: number[] = [];
  const finish = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
  const runs = finish.map((f, i) =>
    slots.run(async () => {
      started.push(i);
      await f.promise;
      return i * 10;
    })
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(slots.held, 2);
  assert.equal(slots.waiting, 3);
  finish[1]!.resolve();
  assert.equal(await runs[1], 10);
  assert.deepEqual(started, [0, 1, 2]);
  finish[0]!.resolve();
  finish[2]!.resolve();
  await Promise.all([runs[0], runs[2]]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  finish[3]!.resolve();
  finish[4]!.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 10, 20, 30, 40]);
  assert.equal(slots.held, 0);
  assert.equal(slots.waiting, 0);
});

Deno.test("Semaphore.run() frees the slot when a task throws", async () => {
  const slots = new Semaphore(1);
  await assert.rejects(slots.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await slots.run(() => Promise.resolve("next")), "next");
  assert.equal(slots.held, 0);
});

Deno.test("Semaphore() rejects a size that is not a positive integer", () => {
  assert.throws(() => new Semaphore(0), RangeError);
  assert.throws(() => new Semaphore(1.5), RangeError);
});
