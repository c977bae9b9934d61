/**
 * Where cgroups cannot hold a service, the orchestrator becomes a child
 * subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`): the orphans of services
 * (daemons that double-fork, children that called setsid(2) and whose parent
 * died) become its children instead of init's, so that they can be found
 * (`/proc/self/task/{tid}/children` of the main thread, which adopts them),
 * ended and reaped: on each SIGCHLD (a burst of them makes one sweep) and
 * whenever a run is signalled or looked at.
 *
 * Reaping must leave alone the children Deno spawned itself: Deno waits for
 * those by pid, and a child reaped behind its back never resolves its
 * `status`. So every pid spawned through `Deno.Command` is registered
 * ({@linkcode trackSpawn}) in the same synchronous step as its spawn, and
 * only other children are reaped, by pid (`waitpid(pid, WNOHANG)`, never
 * `waitpid(-1)`). Children in this process's own session are never touched
 * either: services, hooks and checks are spawned in sessions of their own, so
 * such a child was spawned by other code.
 *
 * An adopted orphan is attributed to a service ({@linkcode Trail}) by, in
 * order: its pid, group or session being one recorded for the service (its
 * main process, and every process of it seen since); holding one of the
 * service's output pipes; otherwise, the service whose main process ended
 * most recently, within {@linkcode ADOPTION_WINDOW_MS} of the adoption being
 * seen. That last rule guesses: an orphan that made a session of its own and
 * closed its output, adopted when two services ended at once, may be given to
 * the wrong one; one adopted while no service ended (its parent, another
 * process of a running service, ended) is given to none and is only reaped.
 *
 * @module
 */
import { isDead, readProcStat } from "./proc_stat.ts";
import { errorText } from "../errors.ts";

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

/** A service's orphan seen this long after its main process ended is still attributed to it. */
export const ADOPTION_WINDOW_MS = 1000;

const SYMBOLS = {
  prctl: { parameters: ["i32", "usize", "usize", "usize", "usize"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** libc through FFI, as `memory_trim.ts` opens it; null without FFI permission or glibc. */
function openLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc === undefined) {
    try {
      libc = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      libc = null;
    }
  }
  return libc;
}

let subreaper = false;

/**
 * Make this process the reaper of its descendants' orphans. Returns an error
 * message when it cannot (no FFI, no glibc, an old kernel), else undefined.
 */
export function becomeSubreaper(): string | undefined {
  if (subreaper) return undefined;
  const lib = openLibc();
  if (!lib) return "cannot call prctl (no FFI permission, or no glibc)";
  if (lib.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) !== 0) {
    return "prctl(PR_SET_CHILD_SUBREAPER) failed";
  }
  subreaper = true;
  return undefined;
}

/** Whether orphans of this process's descendants become its children (a subreaper, or pid 1). */
export function adoptsOrphans(): boolean {
  return subreaper || Deno.pid === 1;
}

/** Reap child `pid` if it is a zombie; true when it was reaped. */
function reap(pid: number): boolean {
  const lib = openLibc();
  return lib !== null && lib.symbols.waitpid(pid, new Int32Array(1), WNOHANG) === pid;
}

/** Pids spawned through `Deno.Command` that Deno has not reaped yet. */
const spawned = new Set<number>();

/**
 * Register a child just spawned through `Deno.Command`, before anything else
 * runs (in the same synchronous step as the spawn); call the function
 * returned once its `status` resolved.
 */
export function trackSpawn(pid: number): () => void {
  spawned.add(pid);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    spawned.delete(pid);
  };
}

/** Numbers in the text of a `children` file. */
function parsePids(text: string, into: number[]): void {
  for (const word of text.split(" ")) {
    const pid = Number(word);
    if (word && Number.isInteger(pid)) into.push(pid);
  }
}

/** Children of every thread of process `pid` (`/proc/{pid}/task/*\/children`). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  let tasks: Iterable<Deno.DirEntry>;
  try {
    tasks = Deno.readDirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const task of tasks) {
    try {
      parsePids(Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`), children);
    } catch {
      // the thread or the process ended
    }
  }
  return children;
}

/**
 * Children of this process: those of its main thread, which adopts orphans
 * and runs JavaScript under `deno run` (so spawns), and of the thread that
 * runs JavaScript when it is another (under `deno test`).
 */
function ownChildren(): number[] {
  const children: number[] = [];
  for (const task of ownThreads()) {
    try {
      parsePids(Deno.readTextFileSync(`/proc/${Deno.pid}/task/${task}/children`), children);
    } catch {
      // no /proc/PID/task/TID/children (a kernel without CONFIG_PROC_CHILDREN)
    }
  }
  return children;
}

let threads: number[] | undefined;
/** The main thread and the one running this code. */
function ownThreads(): number[] {
  if (!threads) {
    threads = [Deno.pid];
    try {
      const own = Number(Deno.readLinkSync("/proc/thread-self").split("/").pop());
      if (own !== Deno.pid && Number.isInteger(own)) threads.push(own);
    } catch {
      // the main thread only
    }
  }
  return threads;
}

/** `roots` and all their live descendants, parents before children. */
export function withDescendants(roots: Iterable<number>): number[] {
  const found: number[] = [];
  const seen = new Set<number>();
  const queue = [...roots];
  for (let i = 0; i < queue.length; i++) {
    const pid = queue[i]!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const stat = readProcStat(pid);
    if (!stat || isDead(stat)) continue;
    found.push(pid);
    queue.push(...childrenOf(pid));
  }
  return found;
}

/**
 * Identifiers (`pipe:[inode]`) of the pipes `pid` has as standard output and
 * error. (While `pid` is in the middle of an exec, the read waits for it.)
 */
export function outputPipes(pid: number): string[] {
  const pipes = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith("pipe:")) pipes.add(target);
    } catch {
      // gone, or not readable
    }
  }
  return [...pipes];
}

/** Whether process `pid` holds one of `pipes` open. */
export function holdsPipe(pid: number, pipes: ReadonlySet<string>): boolean {
  if (pipes.size === 0) return false;
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (pipes.has(Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`))) return true;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone
  }
  return false;
}

/** What {@linkcode findLeftovers} looks for. */
export interface LeftoverQuery {
  /** Members of these sessions or process groups. */
  groups: ReadonlySet<number>;
  /** Holders of these pipes (`pipe:[inode]`). */
  pipes: ReadonlySet<string>;
  /** Only processes started at or after this time (clock ticks since boot). @default 0 */
  startedAtOrAfter?: number;
}

/**
 * One pass over every process of `/proc` (asynchronous, so that the event
 * loop goes on meanwhile): for each query, the live processes in one of its
 * `groups` (as group or session) or holding one of its `pipes`. Costly: for
 * the cases the cheap paths miss. This process is never listed.
 */
export async function findLeftovers(queries: readonly LeftoverQuery[]): Promise<number[][]> {
  const found = queries.map((): number[] => []);
  const anyPipes = queries.some((q) => q.pipes.size > 0);
  try {
    for await (const entry of Deno.readDir("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid) || pid === Deno.pid || pid === 2) continue;
      const stat = readProcStat(pid);
      if (!stat || isDead(stat) || stat.ppid === 2) continue;
      let pipes: Set<string> | undefined;
      for (const [i, query] of queries.entries()) {
        if (stat.startTime < (query.startedAtOrAfter ?? 0)) continue;
        let match = query.groups.has(stat.pgrp) || query.groups.has(stat.session);
        if (!match && query.pipes.size > 0) {
          pipes ??= anyPipes ? await openPipes(pid) : new Set();
          for (const pipe of query.pipes) if (pipes.has(pipe)) match = true;
        }
        if (match) found[i]!.push(pid);
      }
    }
  } catch {
    // no /proc
  }
  return found;
}

/** The pipes (`pipe:[inode]`) process `pid` holds open. */
async function openPipes(pid: number): Promise<Set<string>> {
  const pipes = new Set<string>();
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      try {
        const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`);
        if (target.startsWith("pipe:")) pipes.add(target);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone
  }
  return pipes;
}

/** What the processes of one run of a service are known by, for attributing its orphans. */
export class Trail {
  /** Pids seen as the run's; groups and sessions they lead are the run's too. */
  readonly pids: Set<number>;
  /** Its output pipes (`pipe:[inode]`), once known. */
  readonly pipes: Set<string>;
  /** When its main process ended (epoch ms); undefined while it runs. */
  endedAtMs: number | undefined;
  /** Called with each orphan attributed to the run. */
  onAdopt: ((pid: number) => void) | undefined;

  /** The trail of a run whose main process is `pid`, writing to `pipes`. */
  constructor(pid: number, pipes: Iterable<string>) {
    this.pids = new Set([pid]);
    this.pipes = new Set(pipes);
  }

  /** Whether a process with this stat belongs to the run by its pid, group or session. */
  matches(pid: number, stat: { pgrp: number; session: number }): boolean {
    return this.pids.has(pid) || this.pids.has(stat.pgrp) || this.pids.has(stat.session);
  }
}

/** An adopted child, and to whom it was attributed (null: to none; undefined: not yet). */
interface Adoptee {
  /** Its group when it was adopted. */
  pgrp: number;
  /** Its session when it was adopted. */
  session: number;
  trail: Trail | null | undefined;
  firstSeenMs: number;
}

/**
 * The orphans this process adopted: attributes each to a {@linkcode Trail}
 * and reaps them when they die. One per process (orphans are adopted by the
 * process); see the module documentation for the rules.
 */
export class Orphans {
  #trails = new Set<Trail>();
  #adopted = new Map<number, Adoptee>();
  /** Children in this process's own session: spawned by other code, not orphans. */
  #ours = new Set<number>();
  #ownSession: number | undefined;
  #pending: ReturnType<typeof setTimeout> | undefined;
  #listening = 0;
  #onSigchld = () => {
    // One sweep for a burst of exits.
    this.#pending ??= setTimeout(() => {
      this.#pending = undefined;
      this.sweep();
    }, 20);
  };
  #log: ((line: string) => void) | undefined;

  /** Follow the orphans of `trail` from now on. */
  add(trail: Trail): void {
    this.#trails.add(trail);
  }

  /** Stop following `trail`; its adopted orphans are then reaped but no longer attributed. */
  delete(trail: Trail): void {
    this.#trails.delete(trail);
    for (const adoptee of this.#adopted.values()) {
      if (adoptee.trail === trail) adoptee.trail = null;
    }
  }

  /**
   * Reap adopted children on every SIGCHLD (and say who an orphan that
   * belongs to none is, through `log`) until the function returned is called
   * (as many times as this one).
   */
  listen(log?: (line: string) => void): () => void {
    this.#log ??= log;
    if (this.#listening++ === 0) Deno.addSignalListener("SIGCHLD", this.#onSigchld);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#listening > 0) return;
      Deno.removeSignalListener("SIGCHLD", this.#onSigchld);
      if (this.#pending !== undefined) clearTimeout(this.#pending);
      this.#pending = undefined;
    };
  }

  /**
   * Look at this process's children: reap the dead ones Deno did not spawn,
   * and attribute the live adopted ones. Cheap: one read of the main
   * thread's `children`, a `stat` per newly adopted child and a
   * `waitpid(WNOHANG)` per known one.
   */
  sweep(nowMs: number = Date.now()): void {
    if (!adoptsOrphans()) return;
    this.#ownSession ??= readProcStat(Deno.pid)?.session;
    const present = new Set<number>();
    for (const pid of ownChildren()) {
      if (spawned.has(pid) || this.#ours.has(pid)) {
        if (this.#ours.has(pid)) present.add(pid);
        continue;
      }
      let adoptee = this.#adopted.get(pid);
      if (adoptee) {
        // Known: no /proc read, a wait tells whether it died (it is reaped then).
        if (reap(pid)) {
          this.#adopted.delete(pid);
          continue;
        }
      } else {
        const stat = readProcStat(pid);
        if (!stat) continue;
        // Same session: a child some other code spawned without setsid, not an orphan.
        if (stat.session === this.#ownSession) {
          this.#ours.add(pid);
          present.add(pid);
          continue;
        }
        if (isDead(stat)) {
          reap(pid);
          continue;
        }
        adoptee = { pgrp: stat.pgrp, session: stat.session, trail: undefined, firstSeenMs: nowMs };
        this.#adopted.set(pid, adoptee);
      }
      present.add(pid);
      if (adoptee.trail === undefined) {
        const trail = this.#attribute(pid, adoptee, nowMs);
        if (trail) {
          adoptee.trail = trail;
          trail.pids.add(pid);
          trail.onAdopt?.(pid);
        } else if (nowMs - adoptee.firstSeenMs > ADOPTION_WINDOW_MS) {
          adoptee.trail = null;
          this.#log?.(
            `adopted process ${pid} (${commandOf(pid)}) belongs to no service; left running`,
          );
        }
      }
    }
    // Gone (a pid is only reused once its process is reaped, by this process or Deno).
    for (const pid of this.#adopted.keys()) if (!present.has(pid)) this.#adopted.delete(pid);
    for (const pid of this.#ours) if (!present.has(pid)) this.#ours.delete(pid);
  }

  /** The trail an adopted orphan belongs to, if any can be told. */
  #attribute(
    pid: number,
    stat: { pgrp: number; session: number },
    nowMs: number,
  ): Trail | undefined {
    for (const trail of this.#trails) if (trail.matches(pid, stat)) return trail;
    for (const trail of this.#trails) if (holdsPipe(pid, trail.pipes)) return trail;
    let latest: Trail | undefined;
    for (const trail of this.#trails) {
      const ended = trail.endedAtMs;
      if (ended === undefined || nowMs - ended > ADOPTION_WINDOW_MS) continue;
      if (!latest || ended > latest.endedAtMs!) latest = trail;
    }
    return latest;
  }

  /** Live adopted orphans attributed to `trail` (as of the last sweep). */
  of(trail: Trail): number[] {
    const pids: number[] = [];
    for (const [pid, adoptee] of this.#adopted) if (adoptee.trail === trail) pids.push(pid);
    return pids;
  }
}

/** The orphans of this process. */
export const orphans: Orphans = new Orphans();

/** Short command of `pid`, for messages. */
function commandOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean).join(" ")
      .slice(0, 80);
  } catch (err) {
    return errorText(err);
  }
}
