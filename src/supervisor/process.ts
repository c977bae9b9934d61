/**
 * Process-group I/O on Linux: signal a group, tell whether it still has a
 * live member, and read a process's start time from `/proc`.
 *
 * @module
 */
import { isDead, readProcStat } from "./proc_stat.ts";

/** Send `signal` to every process of group `pgid`; false when the group is gone. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Send `signal` to the group that `pid` leads or, while it leads none yet (a
 * process spawned through `setsid` makes its group a moment after the spawn),
 * to the process itself. `pid` must be an unreaped child, so that it names no
 * other process. False when neither exists.
 */
export function signalChild(pid: number, signal: Deno.Signal): boolean {
  if (signalGroup(pid, signal)) return true;
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the live (not zombie) members of group `pgid`, from a scan of `/proc`. */
export function groupMembers(pgid: number, startedAtOrAfter = 0): number[] {
  const members: number[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return members; // no /proc, or not permitted: nothing can be listed
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (
      stat && stat.pgrp === pgid && !isDead(stat) && stat.startTime >= startedAtOrAfter
    ) {
      members.push(pid);
    }
  }
  return members;
}

/**
 * Whether group `pgid` has a live member. A cheap signal probe first; only
 * when it succeeds, a `/proc` scan that ignores zombies (orphans whose new
 * parent does not reap them stay zombies and must not count).
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, "SIGCONT")) return false;
  return !procReadable() || groupMembers(pgid).length > 0;
}

let procChecked: boolean | undefined;
/**
 * Whether `/proc` can be read. Deno grants it only with `--allow-all`;
 * without it, group liveness falls back to the signal probe alone.
 */
export function procReadable(): boolean {
  if (procChecked === undefined) {
    try {
      Deno.readTextFileSync("/proc/self/stat");
      procChecked = true;
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}

/** Resolve after `ms` milliseconds; the timer is cleared when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
