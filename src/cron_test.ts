import assert from "node:assert/strict";
import { prng } from "../tests/harness.ts";
import { CRON_MACROS, CRON_PATTERN, cronProblem, isCron, nextCronTime, parseCron } from "./cron.ts";

const local = (y: number, mo: number, d: number, h = 0, mi = 0) =>
  new Date(y, mo - 1, d, h, mi).getTime();

Deno.test("parseCron() reads lists, ranges and steps, and rejects bad fields", () => {
  const cron = parseCron("*/15 9-17 * * 1-5");
  assert.deepEqual([...cron.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...cron.hours], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual([...parseCron("0 0 * * 7").weekdays], [0]);
  assert.deepEqual([...parseCron("5,10-12/2 * * * *").minutes], [5, 10, 12]);
  assert.deepEqual([...parseCron("50/5 * * * *").minutes], [50, 55]);
  assert.deepEqual([...parseCron("00 07 * * *").hours], [7]);
  assert.equal(isCron("* * * *"), false);
  assert.equal(isCron("60 * * * *"), false);
  assert.equal(isCron("a * * * *"), false);
  assert.throws(() => parseCron("* * 0 * *"), RangeError);
});

Deno.test("parseCron() reads month and day names in any case, in ranges and lists", () => {
  const cron = parseCron("0 9 * jan-MAR,Dec Mon-fri");
  assert.deepEqual([...cron.months], [1, 2, 3, 12]);
  assert.deepEqual([...cron.weekdays], [1, 2, 3, 4, 5]);
  assert.deepEqual([...parseCron("0 0 * * SUN,sat").weekdays], [0, 6]);
  assert.deepEqual([...parseCron("0 0 * * FRI-SUN").weekdays].sort(), [0, 5, 6]);
  assert.deepEqual([...parseCron("0 0 * JAN-DEC/3 *").months], [1, 4, 7, 10]);
  assert.deepEqual([...parseCron("0 0 * * MON/2").weekdays].sort(), [0, 1, 3, 5]);
  assert.equal(parseCron("0 0 * * MON").anyWeekday, false);
  assert.throws(() => parseCron("0 0 * * JAN"), SyntaxError, "a month is not a day");
  assert.throws(() => parseCron("JAN * * * *"), SyntaxError, "names only in month and weekday");
});

Deno.test("parseCron() expands each macro to its five fields", () => {
  const same = (a: string, b: string) => assert.deepEqual(parseCron(a), parseCron(b), a);
  same("@yearly", "0 0 1 1 *");
  same("@annually", "0 0 1 1 *");
  same("@monthly", "0 0 1 * *");
  same("@weekly", "0 0 * * 0");
  same("@daily", "0 0 * * *");
  same("@midnight", "0 0 * * *");
  same("@hourly", "0 * * * *");
  same("  @Daily ", "0 0 * * *");
  assert.equal(Object.keys(CRON_MACROS).length, 7);
});

Deno.test("cronProblem() names the field and the value", () => {
  const cases: [string, string][] = [
    ["0 8 * * FUNDAY", 'day of week "FUNDAY": expected 0-7 or SUN-SAT'],
    ["0 8 * FOO *", 'month "FOO": expected 1-12 or JAN-DEC'],
    ["0 8 * 13 *", 'month "13": expected 1-12 or JAN-DEC'],
    ["60 * * * *", 'minute "60": expected 0-59'],
    ["0 24 * * *", 'hour "24": expected 0-23'],
    ["0 0 0 * *", 'day of month "0": expected 1-31'],
    ["0 0 * * 8", 'day of week "8": expected 0-7 or SUN-SAT'],
    ["0 17-9 * * *", 'hour "17-9": the range ends before it starts'],
    ["*/0 * * * *", 'minute "*/0": expected a step of 1 or more'],
    ["*/x * * * *", 'minute "*/x": expected a step of 1 or more'],
    ["1/2/3 * * * *", 'minute "1/2/3": expected one step, as in */5'],
    ["1-2-3 * * * *", 'minute "1-2-3": expected a range of two values, as in 1-5'],
    ["1,,2 * * * *", 'minute "1,,2": empty list item'],
    ["-5 * * * *", 'minute "-5": expected 0-59'],
    ["0 0 ? * MON", 'day of month "?": expected 1-31'],
    [
      "@reboot",
      'unknown macro "@reboot": expected one of @yearly, @annually, @monthly, @weekly, ' +
      "@daily, @midnight, @hourly",
    ],
    [
      "* * * *",
      "expected a cron expression: 5 fields (minute hour day-of-month month day-of-week) " +
      "or a macro such as @daily; got 4 fields",
    ],
    [
      "",
      "expected a cron expression: 5 fields (minute hour day-of-month month day-of-week) " +
      "or a macro such as @daily; got 0 fields",
    ],
  ];
  for (const [expression, message] of cases) assert.equal(cronProblem(expression), message);
  assert.equal(cronProblem("0 9 * * MON-FRI"), undefined);
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

Deno.test("nextCronTime() runs names and macros like their numbers", () => {
  // 2026-03-01 is a Sunday.
  const weekly = parseCron("@weekly");
  assert.equal(nextCronTime(weekly, local(2026, 3, 1, 0, 0)), local(2026, 3, 8));
  const weekdays = parseCron("0 9 * MAR-APR mon-fri");
  assert.equal(nextCronTime(weekdays, local(2026, 3, 1, 12)), local(2026, 3, 2, 9));
  assert.equal(nextCronTime(weekdays, local(2026, 4, 30, 10)), local(2027, 3, 1, 9));
  assert.equal(nextCronTime(parseCron("@yearly"), local(2026, 3, 1)), local(2027, 1, 1));
  assert.equal(nextCronTime(parseCron("@hourly"), local(2026, 3, 1, 10, 0)), local(2026, 3, 1, 11));
  // Day of month and a day name: either matches.
  const either = parseCron("0 0 13 * FRI");
  assert.equal(nextCronTime(either, local(2026, 3, 1)), local(2026, 3, 6));
});

const FIELD_VALUES: [number, number, string[]][] = [
  [0, 59, []],
  [0, 23, []],
  [1, 31, []],
  [1, 12, ["JAN", "feb", "Mar", "DEC"]],
  [0, 7, ["SUN", "mon", "Fri", "sat"]],
];

/** A random string that is often a cron expression and often nearly one. */
function randomExpression(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  if (random() < 0.05) {
    return pick([...Object.keys(CRON_MACROS), "@reboot", "@Weekly", "@", "@daily *", " @hourly"]);
  }
  const field = ([min, max, names]: [number, number, string[]]) => {
    const value = () => {
      const roll = random();
      if (roll < 0.02) return pick(["FUNDAY", "JANUARY", "?", "", "x", "L", "-1", "100"]);
      if (roll < 0.05) return String(pick([min - 1, max + 1]));
      if (roll < 0.25 && names.length > 0) return pick(names);
      const number = min + Math.floor(random() * (max - min + 1));
      return `${random() < 0.05 ? "0" : ""}${number}`;
    };
    const item = () => {
      let text = random() < 0.2 ? "*" : value();
      if (text !== "*" && random() < 0.3) text += `-${value()}`;
      if (random() < 0.2) text += `/${pick(["0", "1", "2", "15", "07", "x", "", "99"])}`;
      return text;
    };
    return Array.from({ length: 1 + Math.floor(random() * 3) }, item).join(",");
  };
  const fields = FIELD_VALUES.map(field);
  if (random() < 0.03) fields.pop();
  if (random() < 0.03) fields.push("*");
  return (random() < 0.05 ? " " : "") + fields.join(pick([" ", " ", "  ", "\t"]));
}

Deno.test("CRON_PATTERN accepts what parseCron() accepts, and only backward ranges besides", () => {
  const unicode = new RegExp(CRON_PATTERN.source, "u"); // as JSON Schema validators compile it
  const random = prng(20260301);
  let accepted = 0;
  let backward = 0;
  for (let i = 0; i < 20_000; i++) {
    const expression = randomExpression(random);
    const problem = cronProblem(expression);
    const matches = CRON_PATTERN.test(expression);
    assert.equal(unicode.test(expression), matches, expression);
    if (problem === undefined) {
      accepted++;
      assert.ok(matches, `the pattern refuses ${JSON.stringify(expression)}`);
    } else if (matches) {
      backward++;
      assert.match(problem, /the range ends before it starts$/, expression);
    }
  }
  // Both kinds of input were tried often enough to mean something.
  assert.ok(accepted > 1000, `${accepted} accepted`);
  assert.ok(backward > 100, `${backward} backward ranges`);
  assert.ok(20_000 - accepted - backward > 1000, "many are invalid");
});
