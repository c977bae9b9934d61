/**
 * The `/proc` scan of the metrics sampler, made cheap enough to run every
 * 2 s with hundreds of services: one reused read buffer instead of a new
 * file read per process, and no read at all for a process that cannot be in
 * any sampled group.
 *
 * A service runs in its own session (it is spawned through `setsid`, so its
 * pid is both its group and its session). A process outside that session can
 * never join the group (`setpgid` only moves a process into a group of its own
 * session), so once a process is seen in a foreign session it is skipped
 * until its pid names another process: that is told by the inode number of
 * `/proc/{pid}`, which a new process under a reused pid does not share (a
 * changed inode only costs a read). The only way out of a session is
 * setsid(2), which makes a session whose id is the caller's pid, so a process
 * whose own pid is wanted is always read: a service caught just before its
 * `setsid` ran is still in the orchestrator's session. Groups whose leader is not a session
 * leader (a process adopted after a restart) are handled too: processes of
 * their session are read again in the same scan.
 *
 * Most scans do not list `/proc` at all. The last pid allocated (the 5th
 * field of `/proc/loadavg`) changes whenever a process (or thread) is
 * created; while it stays the same, no new member can exist, so the scan only
 * reads again the `stat` files of the members found by the last listing,
 * kept open (a read of an open file costs a third of an open, read and
 * close; a listing reads members through them too). A kept file never
 * follows a reused pid: a read fails once its process is gone. `/proc` is
 * still listed every 30th scan, when the wanted groups change, and when a
 * member leaves its group or session.
 *
 * @module
 */
import { isDead } from "./proc_stat.ts";

/** Options of a {@linkcode ProcScanner}. */
export interface ProcScannerOptions {
  /**
   * The last pid allocated, or undefined when unknown (then every scan lists
   * `/proc`); a scan lists `/proc` only when it changed since the last
   * listing. Tests inject their own. @default {@linkcode readLastPid}
   */
  lastPid?: () => number | undefined;
  /**
   * List `/proc` at least every this many scans, to bound how stale the
   * members can be in cases no fork shows (a `setpgid` without a fork).
   * @default 30
   */
  listEvery?: number;
  /**
   * At most this many `stat` files kept open; members beyond are read by
   * path between listings. @default 512
   */
  maxKept?: number;
}

/** A process seen outside every sampled group and session. */
interface Outsider {
  /** Inode of `/proc/{pid}` when it was read. */
  ino: number;
  /** Its session. */
  session: number;
}

/**
 * Reads `/proc/{pid}/stat` of every process that may belong to a wanted
 * group, and parses each with `parse` (which gives at least the group).
 * Call {@linkcode ProcScanner.close} to close the files it keeps open.
 */
export class ProcScanner<
  Row extends { pid: number; pgrp: number; session: number; state: string },
> {
  #parse: (bytes: Uint8Array) => Row | undefined;
  #buffer = new Uint8Array(2048);
  #outsiders = new Map<number, Outsider>();
  #lastPid: () => number | undefined;
  #listEvery: number;
  #maxKept: number;
  /** Last pid read just before the last listing; undefined forces a listing. */
  #listedAtPid: number | undefined;
  #sinceList = 0;
  #listedWanted: ReadonlySet<number> = new Set();
  /** Sessions whose processes count as members (besides wanted ones), from the last listing. */
  #extraSessions: ReadonlySet<number> = new Set();
  /** Open `/proc/{pid}/stat` of the members found by the last listing. */
  #kept = new Map<number, Deno.FsFile>();
  /** Members beyond `maxKept`, read by path. */
  #byPath: number[] = [];
  #listings = 0;

  /** Processes skipped by the last listing of `/proc` (for tests and figures). */
  skipped = 0;

  /** A scanner that parses the bytes of each `/proc/{pid}/stat` with `parse`. */
  constructor(parse: (bytes: Uint8Array) => Row | undefined, options: ProcScannerOptions = {}) {
    this.#parse = parse;
    this.#lastPid = options.lastPid ?? readLastPid;
    this.#listEvery = Math.max(1, options.listEvery ?? 30);
    this.#maxKept = Math.max(0, options.maxKept ?? 512);
  }

  /** Listings of `/proc` so far (the other scans re-read kept files). */
  get listings(): number {
    return this.#listings;
  }

  /** Number of `stat` files kept open. */
  get kept(): number {
    return this.#kept.size;
  }

  /**
   * Every live process that may be a member of a group in `wanted` (and
   * possibly others); rows of processes that vanish meanwhile are left out.
   */
  scan(wanted: ReadonlySet<number>): Row[] {
    if (wanted.size === 0) {
      this.close();
      return [];
    }
    const lastPid = this.#lastPid();
    if (
      lastPid !== undefined && lastPid === this.#listedAtPid &&
      ++this.#sinceList < this.#listEvery && sameSet(wanted, this.#listedWanted)
    ) {
      const rows = this.#reread(wanted);
      if (rows) return rows;
    }
    this.#sinceList = 0;
    this.#listings++;
    this.#listedWanted = new Set(wanted);
    const listed = this.#list(wanted);
    if (listed === undefined) {
      this.#listedAtPid = undefined; // list again at the next scan
      return [];
    }
    this.#listedAtPid = lastPid;
    this.#extraSessions = listed.extraSessions;
    this.#keep(listed.rows, wanted);
    return listed.rows;
  }

  /** Close every kept file; the next scan lists `/proc`. */
  close(): void {
    for (const file of this.#kept.values()) file.close();
    this.#kept.clear();
    this.#byPath = [];
    this.#listedAtPid = undefined;
  }

  /**
   * Rows of the members found by the last listing, read again; a member that
   * is gone is dropped (its file closed). Undefined when a member left the
   * wanted groups and sessions: then `/proc` must be listed.
   */
  #reread(wanted: ReadonlySet<number>): Row[] | undefined {
    const rows: Row[] = [];
    let left = false;
    /** Whether the member read as `bytes` is still one (its row then goes into `rows`). */
    const stillMember = (bytes: Uint8Array | undefined): boolean => {
      const row = bytes === undefined ? undefined : this.#parse(bytes);
      if (row === undefined) return false;
      if (!this.#isMember(row, wanted)) {
        left = true;
        return false;
      }
      if (isDead(row)) return false;
      rows.push(row);
      return true;
    };
    for (const pid of this.#kept.keys()) {
      if (stillMember(this.#readKept(pid))) continue;
      this.#kept.get(pid)?.close();
      this.#kept.delete(pid);
    }
    this.#byPath = this.#byPath.filter((pid) => stillMember(this.#read(pid)));
    return left ? undefined : rows;
  }

  /** Whether `row` is a process whose files are kept between listings. */
  #isMember(row: Row, wanted: ReadonlySet<number>): boolean {
    return wanted.has(row.pgrp) || wanted.has(row.session) || wanted.has(row.pid) ||
      this.#extraSessions.has(row.session);
  }

  /** Keep `/proc/{pid}/stat` open for every member in `rows` (up to the cap); close the others. */
  #keep(rows: readonly Row[], wanted: ReadonlySet<number>): void {
    const kept = new Map<number, Deno.FsFile>();
    const byPath: number[] = [];
    for (const row of rows) {
      const pid = row.pid;
      if (isDead(row) || !this.#isMember(row, wanted) || kept.has(pid)) continue;
      let file = this.#kept.get(pid);
      this.#kept.delete(pid);
      if (file === undefined) {
        if (kept.size >= this.#maxKept) {
          byPath.push(pid);
          continue;
        }
        try {
          file = Deno.openSync(`/proc/${pid}/stat`);
        } catch {
          continue; // gone meanwhile
        }
      }
      kept.set(pid, file);
    }
    for (const file of this.#kept.values()) file.close();
    this.#kept = kept;
    this.#byPath = byPath;
  }

  /**
   * List `/proc` and read every process that may be a member; also gives the
   * sessions of wanted groups whose leader is not a session leader.
   * Undefined when `/proc` cannot be listed.
   */
  #list(wanted: ReadonlySet<number>): { rows: Row[]; extraSessions: Set<number> } | undefined {
    const rows: Row[] = [];
    /** Sessions of wanted groups whose leader is not a session leader. */
    const extraSessions = new Set<number>();
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync("/proc");
    } catch {
      return undefined;
    }
    const outsiders = new Map<number, Outsider>();
    const skipped: [number, Outsider][] = [];
    for (const entry of entries) {
      const c = entry.name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry.name);
      const known = this.#outsiders.get(pid);
      // A wanted pid is always read: a service spawned through setsid sits in the
      // orchestrator's session until setsid(2) makes it the leader of its own.
      if (known !== undefined && !wanted.has(known.session) && !wanted.has(pid)) {
        const ino = inodeOf(pid);
        if (ino === undefined) continue; // gone
        if (ino === known.ino) {
          outsiders.set(pid, known);
          skipped.push([pid, known]);
          continue;
        }
      }
      // A kept file is cheaper to read; it fails when the pid names another process.
      const bytes = (this.#kept.has(pid) ? this.#readKept(pid) : undefined) ?? this.#read(pid);
      const row = bytes === undefined ? undefined : this.#parse(bytes);
      if (row === undefined) continue;
      rows.push(row);
      const session = row.session;
      if (wanted.has(row.pgrp)) {
        if (session !== row.pgrp && !wanted.has(session)) extraSessions.add(session);
      } else if (!wanted.has(session) && !wanted.has(pid)) {
        const ino = inodeOf(pid);
        if (ino !== undefined) outsiders.set(pid, { ino, session });
      }
    }
    let count = skipped.length;
    if (extraSessions.size > 0) {
      for (const [pid, outsider] of skipped) {
        if (!extraSessions.has(outsider.session)) continue;
        outsiders.delete(pid);
        count--;
        const bytes = this.#read(pid);
        const row = bytes === undefined ? undefined : this.#parse(bytes);
        if (row) rows.push(row);
      }
    }
    this.#outsiders = outsiders;
    this.skipped = count;
    return { rows, extraSessions };
  }

  /**
   * Bytes of `/proc/{pid}/stat` through the file kept open for `pid` (which
   * must be there), or undefined when its process is gone: then the file is
   * closed and dropped. A view of the reused buffer, valid until the next read.
   */
  #readKept(pid: number): Uint8Array | undefined {
    const file = this.#kept.get(pid)!;
    try {
      file.seekSync(0, Deno.SeekMode.Start);
      const n = file.readSync(this.#buffer);
      if (n !== null) {
        // Longer than the buffer (not seen in practice): read it whole.
        if (n === this.#buffer.length) return Deno.readFileSync(`/proc/${pid}/stat`);
        return this.#buffer.subarray(0, n);
      }
    } catch {
      // the process is gone (ESRCH)
    }
    file.close();
    this.#kept.delete(pid);
    return undefined;
  }

  /**
   * Bytes of `/proc/{pid}/stat`, or undefined when the process is gone; a
   * view of the reused buffer, valid until the next read.
   */
  #read(pid: number): Uint8Array | undefined {
    const path = `/proc/${pid}/stat`;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path);
    } catch {
      return undefined;
    }
    try {
      const n = file.readSync(this.#buffer);
      if (n === null) return undefined;
      // Longer than the buffer (not seen in practice): read it whole.
      if (n === this.#buffer.length) return Deno.readFileSync(path);
      return this.#buffer.subarray(0, n);
    } catch {
      return undefined;
    } finally {
      file.close();
    }
  }
}

/** Inode number of `/proc/{pid}`, or undefined when the process is gone. */
function inodeOf(pid: number): number | undefined {
  try {
    return Deno.statSync(`/proc/${pid}`).ino ?? undefined;
  } catch {
    return undefined;
  }
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * The last pid allocated in this pid namespace, from the 5th field of
 * `/proc/loadavg`; undefined when it cannot be read.
 */
export function readLastPid(): number | undefined {
  try {
    return parseLastPid(Deno.readTextFileSync("/proc/loadavg"));
  } catch {
    return undefined;
  }
}

/**
 * The last pid allocated, from the text of `/proc/loadavg`; undefined when it
 * is not one.
 *
 * @example
 * ```ts
 * parseLastPid("0.87 0.98 1.09 1/279 31179\n"); // 31179
 * ```
 */
export function parseLastPid(text: string): number | undefined {
  const fields = text.trim().split(" ");
  const pid = Number(fields[4]);
  return fields.length === 5 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
