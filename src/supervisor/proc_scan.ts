/**
 * The `/proc` scan of the metrics sampler, made cheap enough to run every
 * 2 s with hundreds of services: one reused read buffer instead of a new
 * file read per process, and no read at all for a process that cannot be in
 * any sampled group.
 *
 * A service runs in its own session (it is spawned detached, so its pid is
 * both its group and its session). A process outside that session can never
 * join the group (`setpgid` only moves a process into a group of its own
 * session), so once a process is seen in a foreign session it is skipped
 * until its pid names another process: that is told by the inode number of
 * `/proc/{pid}`, which a new process under a reused pid does not share (a
 * changed inode only costs a read). Groups whose leader is not a session
 * leader (a process adopted after a restart) are handled too: processes of
 * their session are read again in the same scan.
 *
 * @module
 */
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
 */
export class ProcScanner<Row extends { pgrp: number; session: number }> {
  #parse: (bytes: Uint8Array) => Row | undefined;
  #buffer = new Uint8Array(2048);
  #outsiders = new Map<number, Outsider>();

  /** Processes skipped by the last scan (for tests and figures). */
  skipped = 0;

  /** A scanner that parses the bytes of each `/proc/{pid}/stat` with `parse`. */
  constructor(parse: (bytes: Uint8Array) => Row | undefined) {
    this.#parse = parse;
  }

  /**
   * Every live process that may be a member of a group in `wanted` (and
   * possibly others); rows of processes that vanish meanwhile are left out.
   */
  scan(wanted: ReadonlySet<number>): Row[] {
    const rows: Row[] = [];
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync("/proc");
    } catch {
      return rows;
    }
    const outsiders = new Map<number, Outsider>();
    const skipped: [number, Outsider][] = [];
    /** Sessions of wanted groups whose leader is not a session leader. */
    const extraSessions = new Set<number>();
    for (const entry of entries) {
      const c = entry.name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry.name);
      const known = this.#outsiders.get(pid);
      if (known !== undefined && !wanted.has(known.session)) {
        const ino = inodeOf(pid);
        if (ino === undefined) continue; // gone
        if (ino === known.ino) {
          outsiders.set(pid, known);
          skipped.push([pid, known]);
          continue;
        }
      }
      const bytes = this.#read(pid);
      const row = bytes === undefined ? undefined : this.#parse(bytes);
      if (row === undefined) continue;
      rows.push(row);
      const session = row.session;
      if (wanted.has(row.pgrp)) {
        if (session !== row.pgrp && !wanted.has(session)) extraSessions.add(session);
      } else if (!wanted.has(session)) {
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
    return rows;
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
