/**
 * The one parser of `/proc/{pid}/stat` (proc(5)), used by process liveness,
 * containment and the metrics sampler. The command (field 2) may hold
 * spaces and parentheses, so fields are counted from the last `)`. The line
 * is decoded and split by the engine's own string functions, which stay
 * fast without V8's optimizing compilers (edgevisor runs with
 * `--max-opt=1`), where a loop over the bytes does not.
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

const decoder = new TextDecoder();

/** Parse `/proc/{pid}/stat`, as bytes or text; undefined when it is not one. */
export function parseProcStat(input: Uint8Array | string): ProcStat | undefined {
  const text = typeof input === "string" ? input : decoder.decode(input);
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" (")));
  if (close < 0 || !Number.isInteger(pid) || pid <= 0) return undefined;
  // f[k - 3] is field k.
  const f = text.slice(close + 2).split(" ");
  const stat: ProcStat = {
    pid,
    state: f[0]!,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    ticks: Number(f[11]) + Number(f[12]),
    threads: Number(f[17]),
    startTime: Number(f[19]),
    rssPages: Number(f[21]),
  };
  return Number.isFinite(stat.rssPages) && Number.isFinite(stat.ticks) && Number.isFinite(stat.pgrp)
    ? stat
    : undefined;
}

/** Whether a row is of a process that ended (a zombie, or one being torn down). */
export function isDead(row: { state: string }): boolean {
  return row.state === "Z" || row.state === "X";
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
