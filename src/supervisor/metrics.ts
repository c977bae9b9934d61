/**
 * Process metrics from `/proc`: one scan of every `/proc/{pid}/stat` per
 * sample, summed by process group, so that the cost does not grow with the
 * number of services times the number of processes. CPU % is the share of
 * one CPU used between two samples (200% = two CPUs busy).
 *
 * @module
 */
import { ProcScanner } from "./proc_scan.ts";

/** Clock ticks per second of the times in `/proc/{pid}/stat` (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

/** What metrics need from one line of `/proc/{pid}/stat`. */
export interface StatRow {
  /** Process id. */
  pid: number;
  /** Process group. */
  pgrp: number;
  /** State letter; `Z` and `X` are dead. */
  state: string;
  /** User plus system time, in clock ticks. */
  ticks: number;
  /** Number of threads. */
  threads: number;
  /** Resident set size, in pages. */
  rssPages: number;
  /** Session. */
  session: number;
}

const encoder = new TextEncoder();

/** Parse the text of `/proc/{pid}/stat`; undefined when it is not one. */
export function parseStatRow(text: string): StatRow | undefined {
  return parseStatBytes(encoder.encode(text));
}

/**
 * Parse the bytes of `/proc/{pid}/stat` without making a string of them (the
 * sampler reads hundreds every tick). Fields of proc(5): 3 state, 5 pgrp,
 * 6 session, 14 utime, 15 stime, 20 num_threads, 24 rss; the command (2) may
 * hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseStatBytes(b: Uint8Array): StatRow | undefined {
  const n = b.length;
  let p = 0;
  let pid = 0;
  while (p < n && b[p]! >= 48 && b[p]! <= 57) pid = pid * 10 + b[p++]! - 48;
  const close = b.lastIndexOf(41); // ")"
  if (p === 0 || close < 0 || close + 2 >= n) return undefined;
  p = close + 2;
  const state = String.fromCharCode(b[p]!);
  let field = 3;
  let pgrp = NaN, session = NaN, utime = NaN, stime = NaN, threads = NaN, rss = NaN;
  p++;
  while (p < n && field < 24 && b[p] === 32) {
    p++;
    field++;
    let value = 0;
    let digits = 0;
    const negative = b[p] === 45;
    if (negative) p++;
    while (p < n && b[p]! >= 48 && b[p]! <= 57) {
      value = value * 10 + b[p++]! - 48;
      digits++;
    }
    while (p < n && b[p] !== 32 && b[p] !== 10) p++;
    if (digits === 0) continue;
    if (negative) value = -value;
    if (field === 5) pgrp = value;
    else if (field === 6) session = value;
    else if (field === 14) utime = value;
    else if (field === 15) stime = value;
    else if (field === 20) threads = value;
    else if (field === 24) rss = value;
  }
  const ticks = utime + stime;
  if (!Number.isFinite(ticks) || !Number.isFinite(rss) || !Number.isFinite(pgrp)) return undefined;
  return { pid, pgrp, state, ticks, threads, rssPages: rss, session };
}

/** Totals of one process group at one instant. */
export interface GroupTotals {
  /** CPU time of the live members, in clock ticks. */
  ticks: number;
  /** Resident pages of the live members. */
  rssPages: number;
  /** Threads of the live members. */
  threads: number;
  /** Live members. */
  processes: number;
}

/** Sum the live rows by process group, keeping only the groups in `wanted`. */
export function sumByGroup(
  rows: Iterable<StatRow>,
  wanted: ReadonlySet<number>,
): Map<number, GroupTotals> {
  const totals = new Map<number, GroupTotals>();
  for (const row of rows) {
    if (!wanted.has(row.pgrp) || row.state === "Z" || row.state === "X") continue;
    const t = totals.get(row.pgrp) ?? { ticks: 0, rssPages: 0, threads: 0, processes: 0 };
    t.ticks += row.ticks;
    t.rssPages += row.rssPages;
    t.threads += row.threads;
    t.processes++;
    totals.set(row.pgrp, t);
  }
  return totals;
}

/** Metrics of one service's process group. */
export interface GroupMetrics {
  /** Share of one CPU between the last two samples, in percent (null after the first sample). */
  cpuPercent: number | null;
  /** Resident memory of every live member, in bytes. */
  rssBytes: number;
  /** Threads of every live member. */
  threads: number;
  /** Live members. */
  processes: number;
  /** CPU seconds used by the group since the service started being sampled (never decreases). */
  cpuSeconds: number;
}

/** State kept between two samples of one group. */
export interface GroupSample {
  /** Group id (pid of the service's process). */
  pgid: number;
  /** When the sample was taken, ms. */
  atMs: number;
  /** Ticks at that time. */
  ticks: number;
  /** Metrics derived. */
  metrics: GroupMetrics;
}

/**
 * Metrics of a group from its previous sample (same pgid) and its totals
 * now. Ticks of members that ended in between are lost, so a drop is
 * counted as no time rather than negative time.
 */
export function nextSample(
  previous: GroupSample | undefined,
  pgid: number,
  totals: GroupTotals,
  atMs: number,
  pageSize: number,
  carriedCpuSeconds = 0,
): GroupSample {
  const same = previous !== undefined && previous.pgid === pgid;
  const deltaTicks = same ? Math.max(0, totals.ticks - previous.ticks) : totals.ticks;
  const deltaMs = same ? atMs - previous.atMs : 0;
  const cpuPercent = same && deltaMs > 0
    ? round1((deltaTicks / CLOCK_TICKS) * 1000 / deltaMs * 100)
    : null;
  const base = same ? previous.metrics.cpuSeconds : carriedCpuSeconds;
  return {
    pgid,
    atMs,
    ticks: totals.ticks,
    metrics: {
      cpuPercent,
      rssBytes: totals.rssPages * pageSize,
      threads: totals.threads,
      processes: totals.processes,
      cpuSeconds: round3(base + deltaTicks / CLOCK_TICKS),
    },
  };
}

let pageSizeCache: number | undefined;
/** Size of a memory page: VmRSS of `/proc/self/status` over resident pages of `/proc/self/statm`. */
export function pageSize(): number {
  if (pageSizeCache !== undefined) return pageSizeCache;
  pageSizeCache = 4096;
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const statm = Deno.readTextFileSync("/proc/self/statm");
    const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
    const pages = Number(statm.split(" ")[1]);
    if (kb > 0 && pages > 0) {
      const ratio = (kb * 1024) / pages;
      const candidates = [4096, 16384, 65536];
      pageSizeCache = candidates.reduce((best, c) =>
        Math.abs(c - ratio) < Math.abs(best - ratio) ? c : best
      );
    }
  } catch {
    // keep 4096
  }
  return pageSizeCache;
}

/** Resource use of this process (the orchestrator). */
export interface SelfMetrics {
  /** Share of one CPU between the last two samples, in percent. */
  cpuPercent: number | null;
  /** Resident memory in bytes. */
  rssBytes: number;
  /** CPU seconds since the process started. */
  cpuSeconds: number;
}

/** Samples the orchestrator's own CPU and memory. */
export class SelfSampler {
  #last: { atMs: number; ticks: number } | undefined;
  #metrics: SelfMetrics = { cpuPercent: null, rssBytes: 0, cpuSeconds: 0 };

  /** The last sample. */
  get metrics(): SelfMetrics {
    return this.#metrics;
  }

  /** Take a sample now. */
  sample(nowMs: number = Date.now()): SelfMetrics {
    let row: StatRow | undefined;
    try {
      row = parseStatRow(Deno.readTextFileSync("/proc/self/stat"));
    } catch {
      return this.#metrics;
    }
    if (!row) return this.#metrics;
    const last = this.#last;
    const cpuPercent = last && nowMs > last.atMs
      ? round1(((row.ticks - last.ticks) / CLOCK_TICKS) * 1000 / (nowMs - last.atMs) * 100)
      : null;
    this.#last = { atMs: nowMs, ticks: row.ticks };
    this.#metrics = {
      cpuPercent,
      rssBytes: row.rssPages * pageSize(),
      cpuSeconds: row.ticks / CLOCK_TICKS,
    };
    return this.#metrics;
  }
}

/**
 * Whether a memory guard should fire: `samplesAbove` consecutive samples
 * (including this one) above `maxBytes`. Returns the new count.
 */
export function memoryOverCount(previous: number, rssBytes: number, maxBytes: number): number {
  return rssBytes > maxBytes ? previous + 1 : 0;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** What the sampler needs from one service. */
export interface MetricsTarget {
  /** Service name. */
  readonly name: string;
  /** Pid (= process group) of the current process, or null. */
  readonly pid: number | null;
  /** Restart guard: restart when RSS stays above this many bytes for two samples. */
  readonly maxMemoryBytes: number | undefined;
  /** Where the latest metrics go (undefined without a process). */
  metrics: GroupMetrics | undefined;
  /** End the current process; the restart policy decides what next. */
  recycle(reason: string): void;
}

/** Options of a {@linkcode MetricsSampler}. */
export interface MetricsSamplerOptions {
  /** Milliseconds between samples; 0 samples only on request. @default 2000 */
  intervalMs?: number;
  /** The services to sample, read at each sample. */
  targets: () => Iterable<MetricsTarget>;
}

/** Samples `/proc` periodically for every service and for the orchestrator itself. */
export class MetricsSampler {
  #options: MetricsSamplerOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #samples = new Map<string, GroupSample>();
  #cpuSeconds = new Map<string, number>();
  #over = new Map<string, number>();
  #self = new SelfSampler();
  #scanner = new ProcScanner(parseStatBytes);
  #lastCostMs = 0;

  /** Create an idle sampler. */
  constructor(options: MetricsSamplerOptions) {
    this.#options = options;
  }

  /** The orchestrator's own CPU and memory at the last sample. */
  get self(): SelfMetrics {
    return this.#self.metrics;
  }

  /** Milliseconds the last sample took. */
  get lastCostMs(): number {
    return this.#lastCostMs;
  }

  /** Take a first sample and go on every `intervalMs`. */
  start(): void {
    this.stop();
    this.sample();
    const intervalMs = this.#options.intervalMs ?? 2000;
    if (intervalMs > 0) this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Stop sampling and close the files the scanner keeps open. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#scanner.close();
  }

  /** Sample every target now; fire memory guards that have seen two samples above their limit. */
  sample(nowMs: number = Date.now()): void {
    const started = performance.now();
    const targets = [...this.#options.targets()];
    const wanted = new Set<number>();
    for (const t of targets) if (t.pid !== null) wanted.add(t.pid);
    // With no group wanted, the scan reads nothing and closes its kept files.
    const totals = sumByGroup(this.#scanner.scan(wanted), wanted);
    const size = pageSize();
    const seen = new Set<string>();
    for (const target of targets) {
      seen.add(target.name);
      const group = target.pid === null ? undefined : totals.get(target.pid);
      const previous = this.#samples.get(target.name);
      if (target.pid === null || group === undefined) {
        if (previous) this.#cpuSeconds.set(target.name, previous.metrics.cpuSeconds);
        this.#samples.delete(target.name);
        this.#over.delete(target.name);
        target.metrics = undefined;
        continue;
      }
      const carried = previous?.metrics.cpuSeconds ?? this.#cpuSeconds.get(target.name) ?? 0;
      const next = nextSample(previous, target.pid, group, nowMs, size, carried);
      this.#samples.set(target.name, next);
      target.metrics = next.metrics;
      if (target.maxMemoryBytes !== undefined) {
        const count = memoryOverCount(
          this.#over.get(target.name) ?? 0,
          next.metrics.rssBytes,
          target.maxMemoryBytes,
        );
        this.#over.set(target.name, count);
        if (count >= 2) {
          this.#over.set(target.name, 0);
          target.recycle(
            `memory ${mib(next.metrics.rssBytes)} MiB above max_memory_mb ${
              mib(target.maxMemoryBytes)
            } for 2 samples`,
          );
        }
      }
    }
    for (const name of this.#samples.keys()) if (!seen.has(name)) this.#samples.delete(name);
    this.#self.sample(nowMs);
    this.#lastCostMs = performance.now() - started;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}
