/**
 * Cron expressions in local time, in the standard five-field syntax
 * (`minute hour day-of-month month day-of-week`): `*`, numbers, ranges
 * `a-b`, lists `a,b`, steps `*\/n`, `a-b/n` and `a/n` (from `a` to the end
 * of the field); month names `JAN`–`DEC` and day names `SUN`–`SAT` (any
 * case, also in ranges and lists); day of week 0–7, 0 and 7 being Sunday
 * (`FRI-SUN` reads as 5-7). The macros `@yearly` (`@annually`), `@monthly`,
 * `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their usual
 * five fields. As in cron, when both day-of-month and day-of-week are
 * restricted, a day matching either runs.
 *
 * {@link CRON_PATTERN} is a regular expression generated from the same field
 * table: it accepts exactly what {@link parseCron} accepts, except ranges
 * that end before they start (`30-10`), which only the parser refuses.
 *
 * @module
 */

/** A parsed cron expression. */
export interface Cron {
  /** Allowed minutes, 0–59. */
  minutes: ReadonlySet<number>;
  /** Allowed hours, 0–23. */
  hours: ReadonlySet<number>;
  /** Allowed days of the month, 1–31. */
  days: ReadonlySet<number>;
  /** Allowed months, 1–12. */
  months: ReadonlySet<number>;
  /** Allowed days of the week, 0–6 (Sunday 0). */
  weekdays: ReadonlySet<number>;
  /** Day-of-month was `*`. */
  anyDay: boolean;
  /** Day-of-week was `*`. */
  anyWeekday: boolean;
}

/** One field of an expression: its range and the names that stand for `min`, `min + 1`, … */
interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  { name: "day of week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

const DAY_OF_WEEK = FIELDS[4]!;

/** The macros and the five fields each stands for. */
export const CRON_MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** What a value of `field` may be, for messages: `0-7 or SUN-SAT`. */
function expected(field: Field): string {
  const names = field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : "";
  return `expected ${field.min}-${field.max}${names}`;
}

function fail(
  field: Field,
  text: string,
  reason: string,
  kind: new (message: string) => Error = SyntaxError,
): never {
  throw new kind(`${field.name} ${JSON.stringify(text)}: ${reason}`);
}

/** The number a value token of `item` stands for: digits or a name (any case). */
function valueOf(field: Field, token: string, item: string): number {
  const shown = token === "" ? item : token;
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value < field.min || value > field.max) fail(field, shown, expected(field), RangeError);
    return value;
  }
  const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index < 0) fail(field, shown, expected(field));
  return field.min + index;
}

function parseField(text: string, field: Field): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") fail(field, text, "empty list item");
    const [base = "", step, ...extra] = item.split("/");
    if (extra.length > 0) fail(field, item, "expected one step, as in */5");
    const bounds = base.split("-");
    if (bounds.length > 2) fail(field, item, "expected a range of two values, as in 1-5");
    let low = field.min;
    let high = field.max;
    if (base !== "*") {
      low = valueOf(field, bounds[0] ?? "", item);
      // `FRI-SUN`: Sunday that ends a range is 7.
      const last = bounds[1];
      high = last === undefined
        ? step === undefined ? low : field.max
        : field === DAY_OF_WEEK && last.toUpperCase() === "SUN"
        ? 7
        : valueOf(field, last, item);
    }
    if (low > high) fail(field, item, "the range ends before it starts", RangeError);
    let by = 1;
    if (step !== undefined) {
      by = /^\d+$/.test(step) ? Number(step) : 0;
      if (by < 1) fail(field, item, "expected a step of 1 or more");
    }
    for (let v = low; v <= high; v += by) values.add(v);
  }
  return values;
}

/**
 * Parse a cron expression: five fields or a macro.
 *
 * @example
 * ```ts
 * parseCron("0 9 * JAN-MAR MON-FRI").hours; // Set { 9 }
 * parseCron("@daily").minutes; // Set { 0 }
 * ```
 *
 * @throws {SyntaxError} for an unknown macro, a wrong number of fields or a
 * malformed field; the message names the field and the value
 * (`day of week "FUNDAY": expected 0-7 or SUN-SAT`).
 * @throws {RangeError} for a value out of its field's range or a range that
 * ends before it starts.
 */
export function parseCron(expression: string): Cron {
  let text = expression.trim();
  if (text.startsWith("@")) {
    const macro = CRON_MACROS[text.toLowerCase()];
    if (macro === undefined) {
      throw new SyntaxError(
        `unknown macro ${JSON.stringify(text)}: expected one of ${
          Object.keys(CRON_MACROS).join(", ")
        }`,
      );
    }
    text = macro;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    throw new SyntaxError(
      "expected a cron expression: 5 fields (minute hour day-of-month month day-of-week) " +
        `or a macro such as @daily; got ${text === "" ? 0 : parts.length} fields`,
    );
  }
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) =>
    parseField(part, FIELDS[i]!)
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.delete(7)) weekdays.add(0);
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    anyDay: parts[2] === "*",
    anyWeekday: parts[4] === "*",
  };
}

/**
 * Why `expression` is not a valid cron expression, or undefined when it is.
 *
 * @example
 * ```ts
 * cronProblem("0 8 * * FUNDAY"); // 'day of week "FUNDAY": expected 0-7 or SUN-SAT'
 * ```
 */
export function cronProblem(expression: string): string | undefined {
  try {
    parseCron(expression);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Whether `expression` is a valid cron expression. */
export function isCron(expression: string): boolean {
  return cronProblem(expression) === undefined;
}

/** `word` in any case, as a pattern: `[Jj][Aa][Nn]`. */
function anyCase(word: string): string {
  return [...word].map((c) => {
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    return lower === upper ? c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : `[${upper}${lower}]`;
  }).join("");
}

/** The numbers `min` to `max` (at most 99) as a pattern: `[0-9]|1[0-9]|2[0-3]`. */
function numberPattern(min: number, max: number): string {
  const digit = (low: number, high: number) => (low === high ? `${low}` : `[${low}-${high}]`);
  const rows: { tens: [number, number]; units: [number, number] }[] = [];
  for (let tens = Math.floor(min / 10); tens <= Math.floor(max / 10); tens++) {
    const units: [number, number] = [
      tens === Math.floor(min / 10) ? min % 10 : 0,
      tens === Math.floor(max / 10) ? max % 10 : 9,
    ];
    const previous = rows.at(-1);
    if (
      tens > 1 && previous && previous.tens[1] === tens - 1 &&
      previous.units[0] === units[0] && previous.units[1] === units[1]
    ) {
      previous.tens[1] = tens;
    } else rows.push({ tens: [tens, tens], units });
  }
  return rows
    .map(({ tens, units }) => (tens[1] === 0 ? "" : digit(...tens)) + digit(...units))
    .join("|");
}

function fieldPattern(field: Field): string {
  const names = (field.names ?? []).map(anyCase);
  const value = `(?:0*(?:${numberPattern(field.min, field.max)})${
    names.length > 0 ? `|${names.join("|")}` : ""
  })`;
  const item = `(?:\\*|${value}(?:-${value})?)(?:/0*[1-9][0-9]*)?`;
  return `${item}(?:,${item})*`;
}

/**
 * A regular expression (ECMAScript, usable as a JSON Schema `pattern`) that
 * accepts the cron expressions {@link parseCron} accepts, and also ranges
 * that end before they start (`30-10`), which only the parser refuses.
 */
export const CRON_PATTERN: RegExp = new RegExp(
  `^\\s*(?:${FIELDS.map(fieldPattern).join("\\s+")}|${
    Object.keys(CRON_MACROS).map(anyCase).join("|")
  })\\s*$`,
);

function dayMatches(cron: Cron, date: Date): boolean {
  const dom = cron.days.has(date.getDate());
  const dow = cron.weekdays.has(date.getDay());
  if (cron.anyDay && cron.anyWeekday) return true;
  if (cron.anyDay) return dow;
  if (cron.anyWeekday) return dom;
  return dom || dow;
}

/**
 * The first minute strictly after `afterMs` that `cron` matches (local
 * time), as epoch ms; undefined when none comes within five years.
 */
export function nextCronTime(cron: Cron, afterMs: number): number | undefined {
  const date = new Date(afterMs);
  date.setSeconds(0, 0);
  date.setMinutes(date.getMinutes() + 1);
  const limit = afterMs + 5 * 366 * 24 * 3600 * 1000;
  while (date.getTime() <= limit) {
    if (!cron.months.has(date.getMonth() + 1)) {
      date.setMonth(date.getMonth() + 1, 1);
      date.setHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(cron, date)) {
      date.setDate(date.getDate() + 1);
      date.setHours(0, 0, 0, 0);
      continue;
    }
    if (!cron.hours.has(date.getHours())) {
      date.setHours(date.getHours() + 1, 0, 0, 0);
      continue;
    }
    if (!cron.minutes.has(date.getMinutes())) {
      date.setMinutes(date.getMinutes() + 1, 0, 0);
      continue;
    }
    return date.getTime();
  }
  return undefined;
}
