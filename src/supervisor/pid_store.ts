/**
 * Remembers the process of each running service in the state directory (its
 * pid, start time, cgroup and output pipes), so that an orchestrator started
 * after a SIGKILL of the previous one can end what it left behind before
 * starting fresh copies (see `leftoversOf` in `containment.ts`).
 *
 * @module
 */

/** What is remembered of one service's process. */
export interface PidRecord {
  /** Service name. */
  name: string;
  /** Pid of the leader, equal to the process group id. */
  pid: number;
  /** Start time of the leader in clock ticks since boot (0 while unknown, and with a cgroup). */
  start_time: number;
  /**
   * While `start_time` is unknown (the first moment of a run without a
   * cgroup): the time since boot in clock ticks read just after the spawn;
   * the leader started at most a few seconds before it.
   */
  spawned_by?: number;
  /** Command, for messages. */
  cmd: string;
  /** Directory of the service's cgroup v2, when it ran in one. */
  cgroup?: string;
  /** Its output pipes (`pipe:[inode]`): a process that still holds one is a leftover. */
  pipes?: string[];
  /** Without a cgroup: processes of the run seen outside its group and session. */
  escapees?: Escapee[];
}

/** A process that left the group and session of its service, identified by pid and start time. */
export interface Escapee {
  /** Its pid. */
  pid: number;
  /** Its start time in clock ticks since boot. */
  start_time: number;
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

  /**
   * Remember a freshly spawned process (synchronously: asynchronous file
   * operations would each wake a thread of Deno's pool, whose memory stays).
   * Never throws: a failure is returned.
   */
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
        if (isRecord(r)) out.push(r);
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

/** Whether a parsed file is a well-formed record. */
function isRecord(r: PidRecord): boolean {
  return Number.isInteger(r.pid) && r.pid > 1 && Number.isFinite(r.start_time) &&
    (r.spawned_by === undefined || Number.isFinite(r.spawned_by)) &&
    (r.cgroup === undefined ||
      (typeof r.cgroup === "string" && r.cgroup.startsWith("/") && !r.cgroup.includes("/.."))) &&
    (r.pipes === undefined ||
      (Array.isArray(r.pipes) && r.pipes.every((p) => /^pipe:\[\d+\]$/.test(String(p))))) &&
    (r.escapees === undefined ||
      (Array.isArray(r.escapees) &&
        r.escapees.every((e) => Number.isInteger(e?.pid) && Number.isFinite(e?.start_time))));
}
