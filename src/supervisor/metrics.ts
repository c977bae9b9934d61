/**
 * Process metrics: resident memory and threads are the sums over the live
 * processes of a service of their `/proc/{pid}/stat`. A service in a cgroup
 * of its own has the members of its cgroup (`cgroup.procs`), and its CPU
 * time from the cgroup's `cpu.stat` (which counts the members that already
 * ended). Other services have their process group, found by one scan of
 * every `/proc/{pid}/stat` per sample, so that the cost does not grow with
 * the number of services times the number of processes, and the CPU time of
 * its live members. CPU % is the share of one CPU used between two samples
 * (200% = two CPUs busy).
 *
 * @module
 */
import { CLOCK_TICKS, isDead, parseProcStat, type ProcStat, readProcStat } from "./proc_stat.ts";
import { ProcScanner, readLastPid } from "./proc_scan.ts";

/** Totals of one process group at one instant. */
export interface GroupTotals {
  /** CPU time of the live members (of all that ran, for a cgroup), in clock ticks. */
  ticks: number;
  /** Resident pages of the live members. */
  rssPages: number;
  /** Threads of the live members. */
  threads: number;
  /** Live members. */
  processes: number;
}

/** Add a live process to `totals`. */
function add(totals: GroupTotals, row: ProcStat): void {
  totals.ticks += row.ticks;
  totals.rssPages += row.rssPages;
  totals.threads += row.threads;
  totals.processes++;
}

/** Sum the live rows by process group, keeping only the groups in `wanted`. */
export function sumByGroup(
  rows: Iterable<ProcStat>,
  wanted: ReadonlySet<number>,
): Map<number, GroupTotals> {
  const totals = new Map<number, GroupTotals>();
  for (const row of rows) {
    if (!wanted.has(row.pgrp) || isDead(row)) continue;
    const t = totals.get(row.pgrp) ?? { ticks: 0, rssPages: 0, threads: 0, processes: 0 };
    add(t, row);
    totals.set(row.pgrp, t);
  }
  return totals;
}

/**
 * Reads the totals of cgroups, keeping the files it reads (`cgroup.procs`
 * and `cpu.stat` of each cgroup, `/proc/{pid}/stat` of each member) open
 * between samples, up to a cap: a read of an open file costs a third of an
 * open, read and close. A kept `stat` never follows a reused pid: its read fails once the
 * process is gone. As for groups (see
 * `proc_scan.ts`), the members are listed again only when a process was
 * created since (the last pid allocated changed), and every 30th sample.
 * Call {@linkcode CgroupReader.close} to close the files.
 */
export class CgroupReader {
  #buffer = new Uint8Array(4096);
  #decoder = new TextDecoder();
  #maxKept: number;
  #kept = new Map<string, Deno.FsFile>();
  /** Files read since the last sweep. */
  #used = new Set<string>();
  /** Cgroups read since the last sweep. */
  #usedCgroups = new Set<string>();
  /** Members of each cgroup at its last listing. */
  #members = new Map<string, number[]>();
  #lastPid: () => number | undefined;
  #listedAtPid: number | undefined;
  #sinceList = 0;
  #relist = true;

  /**
   * A reader that keeps at most `maxKept` files open (others are read by
   * path); `lastPid` gives the last pid allocated (tests inject their own).
   */
  constructor(maxKept = 512, lastPid: () => number | undefined = readLastPid) {
    this.#maxKept = maxKept;
    this.#lastPid = lastPid;
  }

  /** Before a sample: whether members must be listed again. */
  begin(): void {
    const lastPid = this.#lastPid();
    this.#relist = lastPid === undefined || lastPid !== this.#listedAtPid ||
      ++this.#sinceList >= 30;
    if (this.#relist) {
      this.#listedAtPid = lastPid;
      this.#sinceList = 0;
    }
  }

  /**
   * Totals of the members of cgroup `path` at one instant (as
   * {@linkcode sumByGroup} for a group), but the CPU time of everything that
   * ran in it since it was made (`cpu.stat`, in clock ticks). Undefined when
   * it has no member.
   */
  totals(path: string): GroupTotals | undefined {
    this.#usedCgroups.add(path);
    let members = this.#relist ? undefined : this.#members.get(path);
    if (!members) {
      const procs = this.#text(`${path}/cgroup.procs`);
      if (procs === undefined) return undefined;
      members = procs.split("\n").filter(Boolean).map(Number);
      this.#members.set(path, members);
    }
    const totals: GroupTotals = { ticks: 0, rssPages: 0, threads: 0, processes: 0 };
    const live: number[] = [];
    for (const pid of members) {
      const bytes = this.#read(`/proc/${pid}/stat`);
      const row = bytes && parseProcStat(bytes);
      if (!row || isDead(row)) continue;
      live.push(pid);
      add(totals, row);
    }
    this.#members.set(path, live);
    if (totals.processes === 0) return undefined;
    const usec = /^usage_usec (\d+)$/m.exec(this.#text(`${path}/cpu.stat`) ?? "")?.[1];
    if (usec) totals.ticks = Number(usec) / 1e6 * CLOCK_TICKS;
    return totals;
  }

  /** After a sample: close the files that were not read. */
  sweep(): void {
    for (const [path, file] of this.#kept) {
      if (this.#used.has(path)) continue;
      file.close();
      this.#kept.delete(path);
    }
    for (const path of this.#members.keys()) {
      if (!this.#usedCgroups.has(path)) this.#members.delete(path);
    }
    this.#used.clear();
    this.#usedCgroups.clear();
  }

  /** Close every kept file. */
  close(): void {
    this.#used.clear();
    this.#usedCgroups.clear();
    this.sweep();
    this.#members.clear();
    this.#listedAtPid = undefined;
  }

  #text(path: string): string | undefined {
    const bytes = this.#read(path);
    return bytes && this.#decoder.decode(bytes);
  }

  /**
   * The whole content of `path`, through its kept file (opened and kept
   * while under the cap); undefined when it cannot be read. A view of the
   * reused buffer, valid until the next read.
   */
  #read(path: string): Uint8Array | undefined {
    this.#used.add(path);
    let file = this.#kept.get(path);
    const keep = file !== undefined || this.#kept.size < this.#maxKept;
    try {
      file ??= Deno.openSync(path);
    } catch {
      return undefined;
    }
    try {
      file.seekSync(0, Deno.SeekMode.Start);
      let length = 0;
      while (true) {
        if (length === this.#buffer.length) {
          const bigger = new Uint8Array(this.#buffer.length * 2);
          bigger.set(this.#buffer);
          this.#buffer = bigger;
        }
        const room = this.#buffer.length - length;
        const n = file.readSync(this.#buffer.subarray(length)) ?? 0;
        length += n;
        if (n < room) break; // a short read: these files are read whole in one go
      }
      if (keep) this.#kept.set(path, file);
      else file.close();
      return this.#buffer.subarray(0, length);
    } catch {
      // the process is gone (ESRCH), or the cgroup
      file.close();
      this.#kept.delete(path);
      return undefined;
    }
  }
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
  /** Group id (pid of the service's process), or the directory of its cgroup. */
  pgid: number | string;
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
 * counted as no time rather than negative time. A cgroup (`pgid` its
 * directory) counts every process that ran in it, across runs.
 */
export function nextSample(
  previous: GroupSample | undefined,
  pgid: number | string,
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
    const row = readProcStat(Deno.pid);
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
  /** The cgroup (directory) of the current process, when it runs in one: sampled instead of its group. */
  readonly cgroup?: string | undefined;
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
  /** Called for each service at each sample, with its metrics (undefined without a process). */
  onSample?: (name: string, metrics: GroupMetrics | undefined, atMs: number) => void;
}

/** Samples `/proc` periodically for every service and for the orchestrator itself. */
export class MetricsSampler {
  #options: MetricsSamplerOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #samples = new Map<string, GroupSample>();
  #cpuSeconds = new Map<string, number>();
  #over = new Map<string, number>();
  #self = new SelfSampler();
  #scanner = new ProcScanner(parseProcStat);
  #cgroups = new CgroupReader();
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
    this.#cgroups.close();
  }

  /** Sample every target now; fire memory guards that have seen two samples above their limit. */
  sample(nowMs: number = Date.now()): void {
    const started = performance.now();
    const targets = [...this.#options.targets()];
    this.#cgroups.begin();
    const wanted = new Set<number>();
    for (const t of targets) if (t.pid !== null && !t.cgroup) wanted.add(t.pid);
    // With no group wanted, the scan reads nothing and closes its kept files.
    const totals = sumByGroup(this.#scanner.scan(wanted), wanted);
    const size = pageSize();
    const seen = new Set<string>();
    for (const target of targets) {
      seen.add(target.name);
      const group = target.pid === null
        ? undefined
        : target.cgroup
        ? this.#cgroups.totals(target.cgroup)
        : totals.get(target.pid);
      const previous = this.#samples.get(target.name);
      if (target.pid === null || group === undefined) {
        if (previous) this.#cpuSeconds.set(target.name, previous.metrics.cpuSeconds);
        // A cgroup's CPU time goes on across runs: its last sample is the next one's base.
        if (typeof previous?.pgid !== "string") this.#samples.delete(target.name);
        this.#over.delete(target.name);
        target.metrics = undefined;
        this.#options.onSample?.(target.name, undefined, nowMs);
        continue;
      }
      const carried = previous?.metrics.cpuSeconds ?? this.#cpuSeconds.get(target.name) ?? 0;
      const next = nextSample(previous, target.cgroup ?? target.pid, group, nowMs, size, carried);
      this.#samples.set(target.name, next);
      target.metrics = next.metrics;
      this.#options.onSample?.(target.name, next.metrics, nowMs);
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
    // What is kept of services removed from the registry.
    for (const kept of [this.#samples, this.#cpuSeconds, this.#over]) {
      for (const name of kept.keys()) if (!seen.has(name)) kept.delete(name);
    }
    this.#cgroups.sweep();
    this.#self.sample(nowMs);
    this.#lastCostMs = performance.now() - started;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}
