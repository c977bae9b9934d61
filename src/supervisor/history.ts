/**
 * What happened to each service lately, kept by the orchestrator in memory
 * (nothing of it survives a restart of the orchestrator): the last
 * {@linkcode HISTORY_EVENTS} events of each service (lifecycle transitions,
 * ends of processes, changes of health, requested actions) and its CPU and
 * memory, one point per {@linkcode SERIES_STEP_MS} over the last hour.
 *
 * Everything is held in typed arrays used as rings, grown on demand up to
 * their bound, so that 200 services with full histories hold about 2 MiB:
 * an event is a time, four small numbers, three integers and one string
 * (its reason, message or signal); a point is a CPU share (`Float32`, NaN
 * for none) and a resident size in KiB (`Uint32`, {@linkcode NO_KIB} for
 * none). The starts of processes are kept beside the events, for the start
 * markers of merged logs; they are not events of the API.
 *
 * The history is fed by the event bus ({@linkcode History.observe}), by the
 * service when it spawns a process ({@linkcode History.started}), by the
 * supervisor's requested actions ({@linkcode History.action}) and by the
 * metrics sampler ({@linkcode History.sample}).
 *
 * @module
 */
import type { Marker } from "../logs/times.ts";
import { describeExit } from "./policy.ts";
import {
  type HistoryEvent,
  SERVICE_STATES,
  type ServiceHistory,
  type ServiceState,
  type SupervisorEvent,
} from "../types.ts";

/** Events kept per service. */
export const HISTORY_EVENTS = 100;

/** Milliseconds covered by one point of the CPU and memory series. */
export const SERIES_STEP_MS = 10_000;

/** Points of the series: one hour. */
export const SERIES_POINTS = 360;

/** The resident size of a point without a sample. */
export const NO_KIB = 0xffff_ffff;

/** A requested action, as the history records it. */
export type HistoryAction = Extract<HistoryEvent, { type: "action" }>["action"];

/** Options of a {@linkcode History}. */
export interface HistoryOptions {
  /** Events kept per service. @default {100} */
  events?: number;
  /** Points of each series. @default {360} */
  points?: number;
  /** Milliseconds per point. @default {10_000} */
  stepMs?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

const TYPES = ["state", "exit", "health", "action"] as const;
const HEALTH = ["unknown", "healthy", "unhealthy"] as const;
const ROLES = ["readiness", "liveness", "health"] as const;
const ACTIONS: readonly HistoryAction[] = ["start", "stop", "restart", "run", "kill"];
/** An integer field without a value (a pid or an exit code that is null). */
const NONE = -0x8000_0000;
/** Slots a ring starts with; it doubles up to its bound. */
const FIRST_SLOTS = 8;

/**
 * A ring of records with a time, `bytes` small numbers, `ints` integers and
 * one string each; oldest first once read.
 */
class Ring {
  readonly #max: number;
  readonly #bytesPer: number;
  readonly #intsPer: number;
  at = new Float64Array(0);
  bytes = new Uint8Array(0);
  ints = new Int32Array(0);
  texts: (string | null)[] = [];
  /** Slot of the oldest record. */
  #head = 0;
  #size = 0;

  constructor(max: number, bytes: number, ints: number) {
    this.#max = max;
    this.#bytesPer = bytes;
    this.#intsPer = ints;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * The slot of a new record (the oldest is overwritten once the ring is
   * full). Its time is never before the newest one's: an exit, timed when
   * the process ended, can be recorded after an event of the same moment.
   */
  push(atMs: number): number {
    const newest = this.#size === 0
      ? -Infinity
      : this.at[(this.#head + this.#size - 1) % this.at.length]!;
    atMs = Math.max(atMs, newest);
    if (this.#size === this.at.length && this.#size < this.#max) this.#grow();
    let slot: number;
    if (this.#size < this.at.length) slot = (this.#head + this.#size++) % this.at.length;
    else {
      slot = this.#head;
      this.#head = (this.#head + 1) % this.at.length;
    }
    this.at[slot] = atMs;
    this.texts[slot] = null;
    return slot;
  }

  /** The slots, oldest first. */
  *slots(): Generator<number> {
    for (let i = 0; i < this.#size; i++) yield (this.#head + i) % this.at.length;
  }

  /** Time of the oldest record, or undefined. */
  oldest(): number | undefined {
    return this.#size === 0 ? undefined : this.at[this.#head];
  }

  #grow(): void {
    const capacity = Math.min(this.#max, Math.max(FIRST_SLOTS, this.at.length * 2));
    const order = [...this.slots()];
    const at = new Float64Array(capacity);
    const bytes = new Uint8Array(capacity * this.#bytesPer);
    const ints = new Int32Array(capacity * this.#intsPer);
    const texts: (string | null)[] = new Array(capacity).fill(null);
    order.forEach((from, to) => {
      at[to] = this.at[from]!;
      bytes.set(
        this.bytes.subarray(from * this.#bytesPer, (from + 1) * this.#bytesPer),
        to * this.#bytesPer,
      );
      ints.set(
        this.ints.subarray(from * this.#intsPer, (from + 1) * this.#intsPer),
        to * this.#intsPer,
      );
      texts[to] = this.texts[from] ?? null;
    });
    this.at = at;
    this.bytes = bytes;
    this.ints = ints;
    this.texts = texts;
    this.#head = 0;
  }
}

/** CPU and memory of one service, one point per step, in a ring of buckets. */
class Series {
  readonly cpu: Float32Array;
  readonly kib: Uint32Array;
  /** Bucket (time / step) of the newest point; the ring holds the `points` buckets up to it. */
  last = -Infinity;
  #cpuSum = 0;
  #cpuCount = 0;

  constructor(points: number) {
    this.cpu = new Float32Array(points).fill(NaN);
    this.kib = new Uint32Array(points).fill(NO_KIB);
  }

  /**
   * Add a sample to bucket `bucket`: CPU is the mean of the bucket's
   * samples, memory the highest. A sample older than the newest bucket is
   * dropped.
   */
  add(bucket: number, cpuPercent: number | null, rssBytes: number): void {
    const points = this.cpu.length;
    if (bucket < this.last) return;
    if (bucket > this.last) {
      const from = Math.max(this.last + 1, bucket - points + 1);
      for (let b = from; b <= bucket; b++) {
        this.cpu[b % points] = NaN;
        this.kib[b % points] = NO_KIB;
      }
      this.last = bucket;
      this.#cpuSum = 0;
      this.#cpuCount = 0;
    }
    const slot = bucket % points;
    if (cpuPercent !== null && Number.isFinite(cpuPercent)) {
      this.#cpuSum += cpuPercent;
      this.#cpuCount++;
      this.cpu[slot] = this.#cpuSum / this.#cpuCount;
    }
    const kib = Math.min(NO_KIB - 1, Math.max(0, Math.floor(rssBytes / 1024)));
    const held = this.kib[slot]!;
    if (held === NO_KIB || kib > held) this.kib[slot] = kib;
  }

  /** CPU and bytes of bucket `bucket`, null where there is no point. */
  point(bucket: number): [number | null, number | null] {
    const points = this.cpu.length;
    if (bucket > this.last || bucket <= this.last - points) return [null, null];
    const cpu = this.cpu[bucket % points]!;
    const kib = this.kib[bucket % points]!;
    return [
      Number.isNaN(cpu) ? null : Math.round(cpu * 100) / 100,
      kib === NO_KIB ? null : kib * 1024,
    ];
  }
}

/** What is kept of one service. */
class Kept {
  /** Events: bytes = type, a, b, c; ints = pid, code, drain ms; text = reason, message or signal. */
  readonly events: Ring;
  /** Starts of processes: ints = pid. */
  readonly starts: Ring;
  series: Series | undefined;
  /** Pid of the last process started. */
  pid: number | null = null;

  constructor(events: number) {
    this.events = new Ring(events, 4, 3);
    this.starts = new Ring(events, 0, 1);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function intOrNull(value: number): number | null {
  return value === NONE ? null : value;
}

/** The last events and the CPU and memory series of every service. */
export class History {
  readonly #records = new Map<string, Kept>();
  readonly #events: number;
  readonly #points: number;
  readonly #stepMs: number;
  readonly #now: () => number;

  /** Create an empty history. */
  constructor(options: HistoryOptions = {}) {
    this.#events = options.events ?? HISTORY_EVENTS;
    this.#points = options.points ?? SERIES_POINTS;
    this.#stepMs = options.stepMs ?? SERIES_STEP_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Record an event of the bus: a transition (preceded by an `exit` event
   * when it was caused by the end of a process), or a change of health.
   */
  observe(event: SupervisorEvent): void {
    const record = this.#record(event.service);
    const atMs = Date.parse(event.at);
    if (event.type === "health") {
      const slot = this.#push(record, "health", atMs);
      record.events.bytes.set([
        roleIndex(event.role),
        healthIndex(event.from),
        healthIndex(event.to),
      ], slot * 4 + 1);
      record.events.texts[slot] = event.message;
      return;
    }
    if (event.exit) {
      const exitMs = Date.parse(event.exit.at);
      const slot = this.#push(record, "exit", Number.isNaN(exitMs) ? atMs : exitMs);
      const ints = record.events.ints;
      ints[slot * 3] = record.pid ?? NONE;
      ints[slot * 3 + 1] = event.exit.code ?? NONE;
      // Its output was read to the end when the transition came: the exit marker goes there.
      ints[slot * 3 + 2] = Number.isNaN(exitMs)
        ? 0
        : Math.max(0, Math.min(atMs - exitMs, 2 ** 31 - 1));
      record.events.texts[slot] = event.exit.signal;
    }
    const slot = this.#push(record, "state", atMs);
    record.events.bytes[slot * 4 + 1] = SERVICE_STATES.indexOf(event.from);
    record.events.bytes[slot * 4 + 2] = SERVICE_STATES.indexOf(event.to);
    record.events.ints[slot * 3] = event.pid ?? NONE;
    record.events.texts[slot] = event.reason;
  }

  /** A process of `name` was spawned with `pid` at `atMs`. */
  started(name: string, pid: number, atMs: number = this.#now()): void {
    const record = this.#record(name);
    record.pid = pid;
    const slot = record.starts.push(atMs);
    record.starts.ints[slot] = pid;
  }

  /** An action on `name` was requested. */
  action(name: string, action: HistoryAction, atMs: number = this.#now()): void {
    const record = this.#record(name);
    const slot = this.#push(record, "action", atMs);
    record.events.bytes[slot * 4 + 1] = ACTIONS.indexOf(action);
  }

  /**
   * A sample of the metrics of `name` taken at `atMs`; `undefined` when it
   * has no process (the point stays null unless another sample fills it).
   */
  sample(
    name: string,
    metrics: { cpuPercent: number | null; rssBytes: number } | undefined,
    atMs: number = this.#now(),
  ): void {
    if (metrics === undefined) return;
    const record = this.#record(name);
    record.series ??= new Series(this.#points);
    record.series.add(Math.floor(atMs / this.#stepMs), metrics.cpuPercent, metrics.rssBytes);
  }

  /** Drop what is kept of `name` (a service removed from the registry). */
  forget(name: string): void {
    this.#records.delete(name);
  }

  /** The events and series of `name` in the API's shape (empty for a service never seen). */
  of(name: string): ServiceHistory {
    const record = this.#records.get(name);
    const events: HistoryEvent[] = [];
    if (record) {
      for (const slot of record.events.slots()) events.push(eventAt(record.events, slot));
    }
    const last = Math.floor(this.#now() / this.#stepMs);
    const cpu: (number | null)[] = [];
    const rss: (number | null)[] = [];
    for (let bucket = last - this.#points + 1; bucket <= last; bucket++) {
      const [c, r] = record?.series?.point(bucket) ?? [null, null];
      cpu.push(c);
      rss.push(r);
    }
    return {
      events,
      series: {
        step: this.#stepMs / 1000,
        end: iso((last + 1) * this.#stepMs),
        cpu_percent: cpu,
        memory_rss_bytes: rss,
      },
    };
  }

  /**
   * The start and exit markers of `name` at or after `fromMs`, oldest
   * first: the starts of its processes and the ends of its processes
   * that are still in its events (an exit marker stands where the
   * orchestrator had read the process's output to its end).
   */
  markers(name: string, fromMs = -Infinity): Marker[] {
    const record = this.#records.get(name);
    if (!record) return [];
    const { starts, events } = record;
    // Starts older than the oldest event kept would have lost their exits.
    const full = events.size >= this.#events;
    const horizon = Math.max(fromMs, full ? events.oldest() ?? -Infinity : -Infinity);
    const found: { ms: number; pid: number | null; marker: Marker }[] = [];
    for (const slot of starts.slots()) {
      const ms = starts.at[slot]!;
      const pid = starts.ints[slot]!;
      if (ms >= horizon) {
        found.push({
          ms,
          pid,
          marker: { at: iso(ms), marker: "start", text: `started (pid ${pid})` },
        });
      }
    }
    for (const slot of events.slots()) {
      if (TYPES[events.bytes[slot * 4]!] !== "exit") continue;
      const ms = events.at[slot]! + events.ints[slot * 3 + 2]!;
      if (ms < horizon) continue;
      const pid = intOrNull(events.ints[slot * 3]!);
      const what = describeExit({
        code: intOrNull(events.ints[slot * 3 + 1]!),
        signal: events.texts[slot] ?? null,
      });
      const text = pid === null ? what : `${what} (pid ${pid})`;
      found.push({ ms, pid, marker: { at: iso(ms), marker: "exit", text } });
    }
    // In the same millisecond, a process starts before it exits, and exits before the next starts.
    found.sort((a, b) => {
      if (a.ms !== b.ms || a.marker.marker === b.marker.marker) return a.ms - b.ms;
      const startFirst = a.pid === b.pid ? -1 : 1;
      return a.marker.marker === "start" ? startFirst : -startFirst;
    });
    return found.map((f) => f.marker);
  }

  #record(name: string): Kept {
    let record = this.#records.get(name);
    if (!record) {
      record = new Kept(this.#events);
      this.#records.set(name, record);
    }
    return record;
  }

  #push(record: Kept, type: (typeof TYPES)[number], atMs: number): number {
    const slot = record.events.push(atMs);
    record.events.bytes.fill(0, slot * 4, slot * 4 + 4);
    record.events.bytes[slot * 4] = TYPES.indexOf(type);
    record.events.ints.fill(NONE, slot * 3, slot * 3 + 3);
    return slot;
  }
}

/** Index of a check's role in `ROLES` (`liveness` for a role it does not know). */
function roleIndex(role: string): number {
  const i = ROLES.indexOf(role as (typeof ROLES)[number]);
  return i < 0 ? ROLES.indexOf("liveness") : i;
}

function healthIndex(value: string): number {
  const i = HEALTH.indexOf(value as (typeof HEALTH)[number]);
  return i < 0 ? 0 : i;
}

/** The event in slot `slot` of `ring`, in the API's shape. */
function eventAt(ring: Ring, slot: number): HistoryEvent {
  const at = iso(ring.at[slot]!);
  const b = ring.bytes;
  const i = ring.ints;
  const text = ring.texts[slot] ?? null;
  switch (TYPES[b[slot * 4]!]) {
    case "state":
      return {
        at,
        type: "state",
        from: SERVICE_STATES[b[slot * 4 + 1]!] as ServiceState,
        to: SERVICE_STATES[b[slot * 4 + 2]!] as ServiceState,
        reason: text,
        pid: intOrNull(i[slot * 3]!),
      };
    case "exit":
      return {
        at,
        type: "exit",
        pid: intOrNull(i[slot * 3]!) ?? 0,
        code: intOrNull(i[slot * 3 + 1]!),
        signal: text,
      };
    case "health":
      return {
        at,
        type: "health",
        role: ROLES[b[slot * 4 + 1]!]!,
        from: HEALTH[b[slot * 4 + 2]!]!,
        to: HEALTH[b[slot * 4 + 3]!]!,
        message: text ?? "",
      };
    default:
      return { at, type: "action", action: ACTIONS[b[slot * 4 + 1]!]! };
  }
}
