import assert from "node:assert/strict";
import { EventBus } from "./events.ts";

Deno.test("EventBus.subscribeWithSnapshot() misses nothing between snapshot and events", () => {
  const bus = new EventBus<number>();
  let state = 0;
  const seen: number[] = [];
  const { snapshot, unsubscribe } = bus.subscribeWithSnapshot(() => state, (e) => seen.push(e));
  state = 1;
  bus.emit(1);
  state = 2;
  bus.emit(2);
  unsubscribe();
  bus.emit(3);
  assert.equal(snapshot, 0);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(bus.count, 3);
});

Deno.test("EventBus.emit() keeps delivering when a listener throws", () => {
  const bus = new EventBus<string>();
  const seen: string[] = [];
  const originalError = console.error;
  console.error = () => {};
  try {
    bus.subscribe(() => {
      throw new Error("boom");
    });
    bus.subscribe((e) => seen.push(e));
    bus.emit("a");
  } finally {
    console.error = originalError;
  }
  assert.deepEqual(seen, ["a"]);
});
