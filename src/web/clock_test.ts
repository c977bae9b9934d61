import assert from "node:assert/strict";
import { formatClock, formatHourMinute, parseTime } from "./clock.ts";

Deno.test("formatClock() shows local time to the second or the millisecond", () => {
  const ms = new Date(2026, 11, 2, 9, 5, 7, 42).getTime();
  assert.equal(formatClock(ms), "09:05:07");
  assert.equal(formatClock(ms, true), "09:05:07.042");
  assert.equal(formatHourMinute(ms), "09:05");
});

Deno.test("parseTime() reads ISO 8601 and gives null for the rest", () => {
  assert.equal(parseTime("2026-12-02T10:00:00.123Z"), Date.UTC(2026, 11, 2, 10, 0, 0, 123));
  assert.equal(parseTime(null), null);
  assert.equal(parseTime(undefined), null);
  assert.equal(parseTime("yesterday"), null);
});
