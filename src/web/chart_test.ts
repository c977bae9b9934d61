import assert from "node:assert/strict";
import { byteTicks, niceTicks, seriesRuns, timeTicks, timeX } from "./chart.ts";

Deno.test("niceTicks() reaches past the maximum in round steps", () => {
  assert.deepEqual(niceTicks(7.3), [0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(100), [0, 25, 50, 75, 100]);
  assert.deepEqual(niceTicks(0.3), [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(0), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(niceTicks(Number.NaN), [0, 0.25, 0.5, 0.75, 1]);
  for (const max of [0.013, 1, 3, 9.99, 12.5, 47, 180, 399, 1234]) {
    const ticks = niceTicks(max);
    assert.ok(ticks.at(-1)! >= max, `${max}: ${ticks}`);
    assert.ok(ticks.length >= 3 && ticks.length <= 6, `${max}: ${ticks}`);
  }
});

Deno.test("byteTicks() steps in the unit the maximum reaches", () => {
  const MiB = 1024 * 1024;
  assert.deepEqual(byteTicks(7.3 * MiB), [0, 2 * MiB, 4 * MiB, 6 * MiB, 8 * MiB]);
  assert.deepEqual(byteTicks(900), [0, 250, 500, 750, 1000]);
  assert.deepEqual(byteTicks(0), [0, 256 * 1024, 512 * 1024, 768 * 1024, MiB], "no sample yet");
  assert.deepEqual(byteTicks(3 * 1024), [0, 1024, 2048, 3072]);
});

Deno.test("timeTicks() falls on the quarter hours of the window", () => {
  const end = Date.UTC(2026, 11, 2, 10, 7, 10);
  assert.deepEqual(timeTicks(end), [
    Date.UTC(2026, 11, 2, 9, 15),
    Date.UTC(2026, 11, 2, 9, 30),
    Date.UTC(2026, 11, 2, 9, 45),
    Date.UTC(2026, 11, 2, 10, 0),
  ]);
  assert.deepEqual(timeTicks(Date.UTC(2026, 0, 1, 10), 1_800_000), [
    Date.UTC(2026, 0, 1, 9, 30),
    Date.UTC(2026, 0, 1, 9, 45),
    Date.UTC(2026, 0, 1, 10),
  ]);
});

Deno.test("seriesRuns() breaks the line at nulls and places the last point at the end", () => {
  const box = { left: 10, top: 0, width: 360, height: 100 };
  const runs = seriesRuns([1, 2, null, 4, 0], {
    stepMs: 10_000,
    yMax: 4,
    box,
  });
  assert.deepEqual(runs, [
    [[10 + 360 * (1 - 40 / 3600), 75], [10 + 360 * (1 - 30 / 3600), 50]],
    [[10 + 360 * (1 - 10 / 3600), 0], [370, 100]],
  ]);
  // Older than the window: left out; above yMax: clamped to the top.
  const old = seriesRuns([5, 5, 9], { stepMs: 3_600_000, yMax: 5, box });
  assert.deepEqual(old, [[[10, 0], [370, 0]]]);
  assert.deepEqual(seriesRuns([], { stepMs: 10_000, yMax: 1, box }), []);
});

Deno.test("timeX() maps a time of the window onto the box, and nothing outside it", () => {
  const box = { left: 0, top: 0, width: 100, height: 10 };
  assert.equal(timeX(3_600_000, 3_600_000, box), 100);
  assert.equal(timeX(1_800_000, 3_600_000, box), 50);
  assert.equal(timeX(-1, 3_600_000, box), null);
  assert.equal(timeX(3_600_001, 3_600_000, box), null);
});
