import assert from "node:assert/strict";
import { isCron, nextCronTime, parseCron } from "./cron.ts";

const local = (y: number, mo: number, d: number, h = 0, mi = 0) =>
  new Date(y, mo - 1, d, h, mi).getTime();

Deno.test("parseCron() reads lists, ranges and steps, and rejects bad fields", () => {
  const cron = parseCron("*/15 9-17 * * 1-5");
  assert.deepEqual([...cron.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...cron.hours], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual([...parseCron("0 0 * * 7").weekdays], [0]);
  assert.deepEqual([...parseCron("5,10-12/2 * * * *").minutes], [5, 10, 12]);
  assert.equal(isCron("* * * *"), false);
  assert.equal(isCron("60 * * * *"), false);
  assert.equal(isCron("a * * * *"), false);
  assert.throws(() => parseCron("* * 0 * *"), RangeError);
});

Deno.test("nextCronTime() finds the next matching minute", () => {
  const every5 = parseCron("*/5 * * * *");
  assert.equal(nextCronTime(every5, local(2026, 3, 1, 10, 2)), local(2026, 3, 1, 10, 5));
  assert.equal(nextCronTime(every5, local(2026, 3, 1, 10, 5)), local(2026, 3, 1, 10, 10));
  const nightly = parseCron("30 2 * * *");
  assert.equal(nextCronTime(nightly, local(2026, 3, 1, 3, 0)), local(2026, 3, 2, 2, 30));
  // 2026-03-02 is a Monday.
  const mondays = parseCron("0 8 * * 1");
  assert.equal(nextCronTime(mondays, local(2026, 2, 27, 9, 0)), local(2026, 3, 2, 8, 0));
  const either = parseCron("0 0 13 * 5"); // the 13th, or any Friday
  assert.equal(nextCronTime(either, local(2026, 3, 1)), local(2026, 3, 6));
  assert.equal(nextCronTime(parseCron("0 0 31 2 *"), local(2026, 1, 1)), undefined);
});
