/**
 * Remembers the process group of each running service in the state
 * directory, so that an orchestrator started after a SIGKILL of the previous
 * one can end the groups it left behind before starting fresh copies.
 *
 * @module
 */
import { groupMembers, readProcStat } from "./process.ts";

/** What is remembered of one service's process. */
export interface PidRecord {
  /** Service name. */
  name: string;
  /** Pid of the leader, equal to the process group id. */
  pid: number;
  /** Start time of the leader in clock ticks since boot. */
  start_time: number;
  /** Command, for messages. */
  cmd: string;
}

const SUFFIX = ".pid.json";

/** Files `{stateDir}/{name}.pid.json`, written atomically. */
export class PidStore {
  #dir: string;

  /** Create a store in `dir` (created when missing). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The state directory. */
  get dir(): string {
    return this.#dir;
  }

  /** Create the directory. */
  async init(): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
  }

  /** Remember a freshly spawned leader. Never throws: a failure is returned. */
  save(record: PidRecord): Error | undefined {
    const path = `${this.#dir}/${record.name}${SUFFIX}`;
    try {
      Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify(record) + "\n");
      Deno.renameSync(`${path}.tmp`, path);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Forget a service's process. */
  remove(name: string): void {
    try {
      Deno.removeSync(`${this.#dir}/${name}${SUFFIX}`);
    } catch {
      // already gone
    }
  }

  /** Every record left in the directory; unreadable files are dropped. */
  records(): PidRecord[] {
    const out: PidRecord[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.#dir)];
    } catch {
      return out;
    }
    for (const entry of entries) {
      if (!entry.isFile || !entry.name.endsWith(SUFFIX)) continue;
      const path = `${this.#dir}/${entry.name}`;
      try {
        const r = JSON.parse(Deno.readTextFileSync(path)) as PidRecord;
        if (Number.isInteger(r.pid) && r.pid > 1 && Number.isFinite(r.start_time)) out.push(r);
        else Deno.removeSync(path);
      } catch {
        try {
          Deno.removeSync(path);
        } catch { /* ignore */ }
      }
    }
    return out;
  }
}

/**
 * Pids still alive from a record's process group. When a process with the
 * leader's pid exists but started at another time, the pid was reused and
 * nothing is ours (Linux never reuses a pid still in use as a group id).
 */
export function leftoverPids(record: PidRecord): number[] {
  const leader = readProcStat(record.pid);
  if (leader && leader.startTime !== record.start_time) return [];
  return groupMembers(record.pid, record.start_time);
}
