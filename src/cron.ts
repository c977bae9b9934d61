/**
 * Five-field cron expressions (`minute hour day-of-month month day-of-week`)
 * in local time: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*\/n` and
 * `a-b/n`; day-of-week 0–7 (0 and 7 are Sunday). As in cron, when both
 * day-of-month and day-of-week are restricted, a day matching either runs.
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

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

function parseField(text: string, min: number, max: number, name: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) throw new SyntaxError(`invalid ${name} ${JSON.stringify(part)}`);
    let low = min;
    let high = max;
    if (match[1] !== "*") {
      low = Number(match[2]);
      high = match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : low;
    }
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    if (low < min || high > max || low > high || step < 1) {
      throw new RangeError(`${name} ${JSON.stringify(part)} out of range ${min}-${max}`);
    }
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

/**
 * Parse a five-field cron expression.
 * @throws {SyntaxError} for a wrong number of fields or a malformed field.
 * @throws {RangeError} for a value out of its field's range.
 */
export function parseCron(expression: string): Cron {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new SyntaxError(`expected 5 fields (minute hour day month weekday); got ${parts.length}`);
  }
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) =>
    parseField(p, FIELDS[i]!.min, FIELDS[i]!.max, FIELDS[i]!.name)
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

/** Whether `expression` is a valid five-field cron expression. */
export function isCron(expression: string): boolean {
  try {
    parseCron(expression);
    return true;
  } catch {
    return false;
  }
}

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
