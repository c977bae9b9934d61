/**
 * cgroup v2: where the hierarchy is mounted, which cgroup this process is in,
 * and one directory of it (members, populated, kill). Its CPU and memory
 * use are read by `CgroupReader` (`metrics.ts`).
 *
 * Nothing here assumes a path: the mount comes from `/proc/self/mountinfo`
 * (file system type `cgroup2`; `/sys/fs/cgroup` on a unified layout,
 * `/sys/fs/cgroup/unified` on a hybrid one) and the own cgroup from the
 * `0::/path` line of `/proc/self/cgroup`.
 *
 * @module
 */
import { errorText } from "../errors.ts";

/** A mount of the cgroup v2 file system. */
export interface Cgroup2Mount {
  /** Directory it is mounted on, e.g. `/sys/fs/cgroup`. */
  mountPoint: string;
  /** Path of the hierarchy that the mount point shows: `/` unless it is a bind mount. */
  root: string;
}

/**
 * Every `cgroup2` mount in the text of `/proc/self/mountinfo`. Fields:
 * `id parent major:minor root mount-point options [optional…] - type source super-options`;
 * paths escape space, tab, newline and backslash as octal (`\040`).
 */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const mounts: Cgroup2Mount[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6 || fields[dash + 1] !== "cgroup2") continue;
    mounts.push({ root: unescapeOctal(fields[3]!), mountPoint: unescapeOctal(fields[4]!) });
  }
  return mounts;
}

function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)));
}

/**
 * The cgroup v2 path of a process from the text of `/proc/{pid}/cgroup` (its
 * `0::/path` line); undefined when it has none, or when its cgroup was removed.
 */
export function parseOwnCgroup(text: string): string | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith("0::")) continue;
    const path = line.slice(3);
    return path.startsWith("/") && !path.endsWith(" (deleted)") ? path : undefined;
  }
  return undefined;
}

/**
 * The directory of cgroup `path` under one of `mounts` (the first whose root
 * holds it), or undefined when no mount shows it.
 *
 * @example
 * ```ts
 * cgroupDirectory([{ mountPoint: "/sys/fs/cgroup", root: "/" }], "/system.slice/edge.service");
 * // "/sys/fs/cgroup/system.slice/edge.service"
 * ```
 */
export function cgroupDirectory(mounts: readonly Cgroup2Mount[], path: string): string | undefined {
  for (const { mountPoint, root } of mounts) {
    const base = root === "/" ? "" : root.replace(/\/$/, "");
    if (path !== base && !path.startsWith(`${base}/`)) continue;
    const rest = path.slice(base.length);
    return (mountPoint.replace(/\/$/, "") + (rest === "/" ? "" : rest)) || "/";
  }
  return undefined;
}

/** The directory of this process's own cgroup v2, or why there is none. */
export function ownCgroupDirectory(): { dir: string } | { reason: string } {
  let mounts: Cgroup2Mount[];
  let own: string | undefined;
  try {
    mounts = parseCgroup2Mounts(Deno.readTextFileSync("/proc/self/mountinfo"));
    own = parseOwnCgroup(Deno.readTextFileSync("/proc/self/cgroup"));
  } catch (err) {
    return { reason: `cannot read /proc/self: ${errorText(err)}` };
  }
  if (mounts.length === 0) return { reason: "no cgroup2 file system is mounted" };
  if (own === undefined) return { reason: "this process has no cgroup v2 path" };
  const dir = cgroupDirectory(mounts, own);
  if (dir === undefined) {
    return { reason: `its cgroup "${own}" is outside every cgroup2 mount` };
  }
  return { dir };
}

/** One cgroup v2 directory. Every method is synchronous and cheap (a small read or write). */
export class Cgroup {
  /** Absolute path of the directory. */
  readonly path: string;

  /** A handle on the cgroup at `path` (nothing is created). */
  constructor(path: string) {
    this.path = path;
  }

  /** Create the directory unless it exists. Throws what `mkdir` throws otherwise. */
  create(): void {
    try {
      Deno.mkdirSync(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }

  /** Whether the directory exists. */
  exists(): boolean {
    try {
      return Deno.statSync(this.path).isDirectory;
    } catch {
      return false;
    }
  }

  /** Pids of its processes (not of its descendants); empty when it is gone. */
  procs(): number[] {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${this.path}/cgroup.procs`);
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (const line of text.split("\n")) if (line) pids.push(Number(line));
    return pids;
  }

  /** Whether a live process is in it or in a descendant (`populated 1` of `cgroup.events`). */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(Deno.readTextFileSync(`${this.path}/cgroup.events`));
    } catch {
      return false; // gone: nothing can be in it
    }
  }

  /** SIGKILL every process in it and its descendants at once (`cgroup.kill`). */
  kill(): boolean {
    try {
      Deno.writeTextFileSync(`${this.path}/cgroup.kill`, "1");
      return true;
    } catch {
      return false;
    }
  }

  /** Send `signal` to each of its processes; returns the pids signalled. */
  signal(signal: Deno.Signal, skip?: ReadonlySet<number>): number[] {
    const sent: number[] = [];
    for (const pid of this.procs()) {
      if (skip?.has(pid)) continue;
      try {
        Deno.kill(pid, signal);
        sent.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    return sent;
  }

  /** Remove the directory (it must hold no process and no child cgroup); false when it cannot. */
  remove(): boolean {
    try {
      Deno.removeSync(this.path);
      return true;
    } catch (err) {
      return err instanceof Deno.errors.NotFound;
    }
  }

  /**
   * Wait until no live process is left in it or `deadlineMs` (epoch ms)
   * passes; `onPoll` runs at each look (to signal newcomers). Returns whether
   * it is empty.
   */
  async waitEmpty(deadlineMs: number, onPoll?: () => void): Promise<boolean> {
    let pause = 2;
    while (this.populated()) {
      const left = deadlineMs - Date.now();
      if (left <= 0) return false;
      onPoll?.();
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 50);
    }
    return true;
  }
}

/** Prefix of the directory of one orchestrator instance under its own cgroup. */
const INSTANCE_PREFIX = "edgevisor-";
/** `edgevisor-{pid}` or `edgevisor-{pid}-{n}`. */
const INSTANCE_NAME = /^edgevisor-(\d+)(?:-\d+)?$/;

/** Name of the cgroup of service `name` inside the instance directory. */
export function serviceCgroupName(name: string): string {
  // A prefix no interface file has (those are `cgroup.*`, `memory.*`, …).
  return `svc-${name}`;
}

/** Name of instance `n` (from 1) of process `pid`. */
export function instanceName(pid: number, n: number): string {
  return n === 1 ? `${INSTANCE_PREFIX}${pid}` : `${INSTANCE_PREFIX}${pid}-${n}`;
}

/** Pid of the orchestrator that made instance directory `name`, or undefined when it is not one. */
export function instanceOwner(name: string): number | undefined {
  const match = INSTANCE_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Instances made by this process so far (several supervisors may live in one process). */
let instances = 0;

/**
 * Make the instance directory of a supervisor under the own cgroup and check
 * that a process can be moved into a child of it (and `cgroup.kill` exists,
 * Linux 5.14). `shell` is the `sh` that moves processes (see
 * {@linkcode enterCgroup}). Returns the instance or why cgroups cannot be used.
 */
export function openInstance(shell: string): { instance: Cgroup } | { reason: string } {
  const own = ownCgroupDirectory();
  if ("reason" in own) return own;
  let instance: Cgroup | undefined;
  try {
    for (let tries = 0; instance === undefined; tries++) {
      const candidate = new Cgroup(`${own.dir}/${instanceName(Deno.pid, ++instances)}`);
      try {
        Deno.mkdirSync(candidate.path);
        instance = candidate;
      } catch (err) {
        // Left by an earlier process with this pid: take the next name.
        if (!(err instanceof Deno.errors.AlreadyExists) || tries >= 100) throw err;
      }
    }
  } catch (err) {
    return { reason: `cannot create a cgroup under "${own.dir}": ${errorText(err)}` };
  }
  const probe = new Cgroup(`${instance.path}/probe`);
  try {
    probe.create();
    if (!exists(`${probe.path}/cgroup.kill`)) {
      throw new Error("the kernel has no cgroup.kill (Linux 5.14 or later needed)");
    }
    const moved = new Deno.Command(shell, {
      args: ["-c", 'echo 0 >"$0"', `${probe.path}/cgroup.procs`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!moved.success) {
      const why = new TextDecoder().decode(moved.stderr).trim().split("\n").pop();
      throw new Error(`cannot move a process into it${why ? ` (${why})` : ""}`);
    }
  } catch (err) {
    probe.remove();
    instance.remove();
    return { reason: `cannot use the cgroup "${instance.path}": ${errorText(err)}` };
  }
  probe.remove();
  return { instance };
}

/**
 * The program and arguments that move the spawned process into `cgroup`
 * before `cmd` runs: `sh` writes its own pid (`0`) to `cgroup.procs`, then
 * execs `cmd` in place (same pid), so no fork of the command can happen
 * outside the cgroup. A failed move exits with the shell's error and status.
 */
export function enterCgroup(
  shell: string,
  cgroup: Cgroup,
  cmd: string,
  args: readonly string[],
): { cmd: string; args: string[] } {
  return {
    cmd: shell,
    args: ["-c", 'echo 0 >"$0" && exec "$@"', `${cgroup.path}/cgroup.procs`, cmd, ...args],
  };
}

/**
 * Under the directory `parent` (an own cgroup), remove the empty instance
 * directories of orchestrators that are gone, with their empty service
 * directories. Populated ones are left alone (their own orchestrator, once
 * restarted, ends them). Returns the directories removed.
 */
export function removeStaleInstances(
  parent: string,
  alive: (pid: number) => boolean,
): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(parent)];
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const owner = instanceOwner(entry.name);
    if (!entry.isDirectory || owner === undefined || owner === Deno.pid || alive(owner)) continue;
    const instance = new Cgroup(`${parent}/${entry.name}`);
    try {
      for (const child of Deno.readDirSync(instance.path)) {
        const cgroup = new Cgroup(`${instance.path}/${child.name}`);
        if (child.isDirectory && !cgroup.populated() && cgroup.remove()) removed.push(cgroup.path);
      }
    } catch {
      continue;
    }
    if (instance.remove()) removed.push(instance.path);
  }
  return removed;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
