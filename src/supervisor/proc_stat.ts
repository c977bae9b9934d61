/**
 * The one parser of `/proc/{pid}/stat` (proc(5)), used by process liveness,
 * containment and the metrics sampler. It reads bytes without making a
 * string of them (the sampler reads hundreds every tick). The command (field
 * 2) may hold spaces and parentheses, so fields are counted from the last `)`.
 *
 * @module
 */

/** The fields of one `/proc/{pid}/stat` that edgevisor uses. */
export interface ProcStat {
  /** Process id (field 1). */
  pid: number;
  /** State letter (3); `Z` and `X` are dead. */
  state: string;
  /** Parent pid (4). */
  ppid: number;
  /** Process group (5). */
  pgrp: number;
  /** Session (6). */
  session: number;
  /** User plus system time, in clock ticks (14 + 15). */
  ticks: number;
  /** Number of threads (20). */
  threads: number;
  /** Start time in clock ticks since boot (22): with the pid, identifies one process. */
  startTime: number;
  /** Resident set size, in pages (24). */
  rssPages: number;
}

/** Clock ticks per second of the times in `/proc/{pid}/stat` (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

const encoder = new TextEncoder();

/** Parse `/proc/{pid}/stat`, as bytes or text; undefined when it is not one. */
export function parseProcStat(input: Uint8Array | string): ProcStat | undefined {
  const b = typeof input === "string" ? encoder.encode(input) : input;
  const n = b.length;
  let p = 0;
  let pid = 0;
  while (p < n && b[p]! >= 48 && b[p]! <= 57) pid = pid * 10 + b[p++]! - 48;
  const close = b.lastIndexOf(41); // ")"
  if (p === 0 || close < 0 || close + 2 >= n) return undefined;
  p = close + 2;
  const state = String.fromCharCode(b[p]!);
  let field = 3;
  let ppid = NaN, pgrp = NaN, session = NaN, utime = NaN, stime = NaN;
  let threads = NaN, startTime = NaN, rss = NaN;
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
    if (field === 4) ppid = value;
    else if (field === 5) pgrp = value;
    else if (field === 6) session = value;
    else if (field === 14) utime = value;
    else if (field === 15) stime = value;
    else if (field === 20) threads = value;
    else if (field === 22) startTime = value;
    else if (field === 24) rss = value;
  }
  const ticks = utime + stime;
  if (!Number.isFinite(ticks) || !Number.isFinite(rss) || !Number.isFinite(pgrp)) return undefined;
  return { pid, state, ppid, pgrp, session, ticks, threads, startTime, rssPages: rss };
}

/** Read `/proc/{pid}/stat`; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/**
 * The time since boot in clock ticks (from `/proc/uptime`), on the clock of
 * the start times in `/proc/{pid}/stat`; 0 when it cannot be read.
 */
export function bootTicks(): number {
  try {
    const uptime = Number.parseFloat(Deno.readTextFileSync("/proc/uptime"));
    return Number.isFinite(uptime) ? Math.round(uptime * CLOCK_TICKS) : 0;
  } catch {
    return 0;
  }
}
