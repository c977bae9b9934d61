/**
 * How the processes of each service are held, so that none escapes a stop:
 *
 * - **cgroup v2**, when this process may create cgroups under its own and
 *   move processes into them: an instance directory per supervisor
 *   (`edgevisor-{pid}`) under the own cgroup, and one cgroup per service
 *   (`svc-{name}`). Each process is spawned through
 *   `sh -c 'echo 0 >"$0" && exec "$@"' …/cgroup.procs setsid -- cmd args…`,
 *   so it is inside its cgroup before its command runs. Its members are
 *   `cgroup.procs`; `cgroup.kill` ends them all at once.
 * - **process group, session, output pipes and orphans** otherwise: the
 *   group the service's main process leads, its descendants, and (as a child
 *   subreaper, see `reaper.ts`) the orphans it leaves, found without a scan
 *   of `/proc`; in the background, the processes of each run outside its
 *   group are noted (and recorded), 20 runs a second. Without a subreaper, a scan of `/proc` for the
 *   members of its sessions and the holders of its output pipes when these
 *   do not reach their end after an exit.
 *
 * A watchdog process (one `sh` per supervisor, in a session of its own, whose
 * standard input is a pipe from this process) ends the services when this
 * process ends without stopping them, `kill -9` included: at end of file it
 * writes `cgroup.kill` of the instance directory, or SIGKILLs the process
 * groups and the processes (checked by start time) it was told of.
 *
 * @module
 */
import type { Escapee, PidRecord } from "./pid_store.ts";
import {
  Cgroup,
  enterCgroup,
  instanceOwner,
  openInstance,
  ownCgroupDirectory,
  removeStaleInstances,
  serviceCgroupName,
} from "./cgroup.ts";
import { findProgram, inOwnSession, type SessionLaunch } from "./guards.ts";
import {
  adoptsOrphans,
  becomeSubreaper,
  findLeftovers,
  type LeftoverQuery,
  orphans,
  outputPipes,
  trackSpawn,
  Trail,
  withDescendants,
} from "./reaper.ts";
import { delay, groupAlive, signalChild, signalGroup } from "./process.ts";
import { bootTicks, CLOCK_TICKS, isDead, readProcStat } from "./proc_stat.ts";
import { errorText } from "../errors.ts";

/** How long to wait for processes to vanish after SIGKILL. */
export const KILL_WAIT_MS = 2000;
/**
 * Without cgroups, the processes of runs are looked for outside their group
 * every REFRESH_MS, for at most REFRESH_RUNS runs at a time (in turn), so
 * that the walk (a few reads per run) never stalls the event loop long.
 */
const REFRESH_MS = 1000;
const REFRESH_RUNS = 20;
/** Without cgroups, how long after the spawn the start time and output pipes of a run are read. */
const PIPES_AFTER_MS = 200;
/**
 * How long before the `spawned_by` of a record its leader may have started
 * (the spawn and the read of the clock after it take milliseconds; seconds
 * on a machine that is swapping).
 */
const SPAWN_SLACK_TICKS = 10 * CLOCK_TICKS;

/** Options of {@linkcode Containment.open}. */
export interface ContainmentOptions {
  /** Put each service in a cgroup v2 of its own when the system allows it. @default true */
  cgroup?: boolean;
  /** Without cgroups, become a child subreaper (process-wide, for good). @default false */
  subreaper?: boolean;
  /** Start the watchdog that ends the services if this process ends without stopping them. @default true */
  watchdog?: boolean;
  /** One line of the orchestrator's own log. */
  log: (line: string) => void;
}

/** The processes of one run of a service: how to signal, count and end them. */
export interface RunScope {
  /** Pid of the main process. */
  readonly pid: number;
  /** The service's cgroup, when cgroups are used. */
  readonly cgroup: Cgroup | undefined;
  /** Without a cgroup: the output pipes (`pipe:[inode]`) of the main process, once read. */
  readonly pipes: readonly string[];
  /** Without a cgroup: processes of the run seen outside its group and session. */
  readonly escapees: readonly Escapee[];
  /**
   * The start time of the main process (clock ticks since boot), which tells
   * it from a later process with the same pid; 0 until it is read (a moment
   * after the spawn: reads of a child's `/proc` in the middle of its exec
   * wait for it), and in a cgroup, which identifies the run by itself.
   */
  readonly startTime: number;
  /**
   * Without a cgroup: the time since boot in clock ticks read just after the
   * spawn, which tells the main process from a later one with the same pid
   * while `startTime` is still 0 (see {@linkcode leftoversOf}); 0 in a cgroup.
   */
  readonly spawnedBy: number;
  /** Send `signal` to every process of the run, each once. */
  signal(signal: Deno.Signal): void;
  /** The main process ended (and was reaped). */
  exited(): void;
  /** Whether a process of the run is left (the main one excluded once it ended). */
  alive(): boolean;
  /** SIGKILL every process of the run. */
  kill(): void;
  /**
   * Wait until no process of the run is left or `deadlineMs` passes; with
   * `signal`, processes that appear meanwhile get it. Returns whether none is left.
   */
  waitGone(deadlineMs: number, signal?: Deno.Signal): Promise<boolean>;
  /**
   * SIGKILL the processes that still hold the run's output pipes once it
   * ended, when nothing else could have found them (no cgroup, no subreaper:
   * a `/proc` scan, also for the members of its sessions); how many.
   */
  endPipeHolders(): Promise<number>;
  /** Forget the run. */
  end(): void;
}

/** How every service of one supervisor is held; see the module documentation. */
export class Containment {
  #log: (line: string) => void;
  #instance: Cgroup | undefined;
  #shell = "/bin/sh";
  #cgroups = new Map<string, Cgroup>();
  #watchdog: Watchdog | undefined;
  #stopListening: (() => void) | undefined;
  #description: string;
  /** Live runs without a cgroup, looked at in turn (see {@linkcode REFRESH_MS}). */
  #runs = new Set<GroupRun>();
  #refresh: ReturnType<typeof setInterval> | undefined;

  private constructor(options: ContainmentOptions) {
    this.#log = options.log;
    const shell = findProgram("sh");
    let why = "turned off (--no-cgroup)";
    if (options.cgroup ?? true) {
      const opened = shell ? openInstance(shell) : { reason: '"sh" not found' };
      if ("instance" in opened) {
        this.#instance = opened.instance;
        this.#shell = shell!;
      } else why = opened.reason;
    }
    if (this.#instance) {
      this.#description = `services run in cgroups under "${this.#instance.path}"`;
    } else {
      let adopting = "";
      if (options.subreaper) {
        const failed = becomeSubreaper();
        adopting = failed ? `; orphans go to init (${failed})` : ", and adopted orphans";
        if (!failed) this.#stopListening = orphans.listen(this.#log);
      }
      this.#description =
        `cgroups not used (${why}); services are followed through process groups, sessions, output pipes${adopting}`;
      let turn: GroupRun[] = [];
      this.#refresh = setInterval(() => {
        if (turn.length === 0) turn = [...this.#runs];
        orphans.sweep();
        for (const run of turn.splice(0, REFRESH_RUNS)) if (this.#runs.has(run)) run.refresh();
      }, REFRESH_MS);
      Deno.unrefTimer(this.#refresh);
    }
    // As pid 1 (in a container), orphans come here anyway: reap them.
    if (!this.#stopListening && adoptsOrphans()) this.#stopListening = orphans.listen();
    if (options.watchdog ?? true) this.#watchdog = new Watchdog(this.#instance, this.#log);
  }

  /**
   * Choose how services are held (creating the instance cgroup when cgroups
   * are used), remove empty cgroup directories left by orchestrators that
   * are gone, and start the watchdog.
   */
  static open(options: ContainmentOptions): Containment {
    const containment = new Containment(options);
    const own = ownCgroupDirectory();
    if ("dir" in own) removeStaleInstances(own.dir, (pid) => readProcStat(pid) !== undefined);
    return containment;
  }

  /** One line for the log: cgroups or not, and why. */
  get description(): string {
    return this.#description;
  }

  /** The instance directory, when cgroups are used. */
  get instance(): Cgroup | undefined {
    return this.#instance;
  }

  /**
   * How to spawn `launch` (a command already in a session of its own) for
   * service `name`: inside its cgroup (created on first use) when cgroups
   * are used. Throws when the cgroup cannot be created.
   */
  wrap(name: string, launch: SessionLaunch): SessionLaunch {
    if (!this.#instance) return launch;
    let cgroup = this.#cgroups.get(name);
    if (!cgroup) {
      cgroup = new Cgroup(`${this.#instance.path}/${serviceCgroupName(name)}`);
      try {
        cgroup.create();
      } catch (err) {
        throw new Error(`cannot create its cgroup "${cgroup.path}": ${errorText(err)}`);
      }
      this.#cgroups.set(name, cgroup);
    }
    return { ...launch, ...enterCgroup(this.#shell, cgroup, launch.cmd, launch.args) };
  }

  /**
   * The processes of a run of service `name` whose main process `pid` was
   * just spawned. Without cgroups, `changed` is called when its `pipes` or
   * `escapees` change, so that they can be recorded for an orchestrator that
   * comes after a kill -9.
   */
  begin(name: string, pid: number, changed?: () => void): RunScope {
    const cgroup = this.#cgroups.get(name);
    if (cgroup) return new CgroupRun(pid, cgroup);
    return new GroupRun(pid, { watchdog: this.#watchdog, changed, runs: this.#runs });
  }

  /**
   * Service `name` is gone (removed, replaced, or the supervisor stops):
   * SIGKILL what is left in its cgroup (what its hooks left) and remove it.
   */
  async release(name: string): Promise<void> {
    const cgroup = this.#cgroups.get(name);
    if (!cgroup) return;
    this.#cgroups.delete(name);
    if (cgroup.populated()) {
      cgroup.kill();
      await cgroup.waitEmpty(Date.now() + KILL_WAIT_MS);
    }
    if (!cgroup.remove()) this.#log(`cannot remove the cgroup "${cgroup.path}"`);
  }

  /** Release every service, stop the watchdog, remove the instance directory. */
  async close(): Promise<void> {
    await Promise.all([...this.#cgroups.keys()].map((name) => this.release(name)));
    await this.#watchdog?.close();
    this.#stopListening?.();
    clearInterval(this.#refresh);
    if (this.#instance && !this.#instance.remove()) {
      this.#log(`cannot remove the cgroup "${this.#instance.path}"`);
    }
  }
}

/** A run inside a cgroup of its own. */
class CgroupRun implements RunScope {
  readonly pid: number;
  readonly cgroup: Cgroup;
  readonly pipes: readonly string[] = [];
  readonly escapees: readonly Escapee[] = [];
  #exited = false;
  #signalled = new Set<number>();

  constructor(pid: number, cgroup: Cgroup) {
    this.pid = pid;
    this.cgroup = cgroup;
  }

  readonly startTime = 0;
  readonly spawnedBy = 0;

  signal(signal: Deno.Signal): void {
    if (signal === "SIGKILL") return this.kill();
    this.#send(signal, false);
  }

  /** `signal` to the members (only to those not signalled yet with `newOnly`). */
  #send(signal: Deno.Signal, newOnly: boolean): void {
    const procs = this.cgroup.procs();
    // The shell moves itself into the cgroup a moment after the spawn.
    if (!this.#exited && !procs.includes(this.pid) && !this.#signalled.has(this.pid)) {
      if (signalChild(this.pid, signal)) this.#signalled.add(this.pid);
    }
    for (const pid of procs) {
      if (newOnly && this.#signalled.has(pid)) continue;
      try {
        Deno.kill(pid, signal);
        this.#signalled.add(pid);
      } catch {
        // gone meanwhile
      }
    }
  }

  exited(): void {
    this.#exited = true;
  }

  alive(): boolean {
    return this.cgroup.populated();
  }

  kill(): void {
    if (!this.#exited) signalChild(this.pid, "SIGKILL");
    this.cgroup.kill();
  }

  waitGone(deadlineMs: number, signal?: Deno.Signal): Promise<boolean> {
    if (signal === undefined) return this.cgroup.waitEmpty(deadlineMs);
    return this.cgroup.waitEmpty(
      deadlineMs,
      signal === "SIGKILL" ? () => this.kill() : () => this.#send(signal, true),
    );
  }

  endPipeHolders(): Promise<number> {
    return Promise.resolve(0); // what holds them outside the cgroup was given them on purpose
  }

  end(): void {}
}

/** A run followed through its group, session, descendants, pipes and orphans. */
class GroupRun implements RunScope {
  readonly pid: number;
  readonly cgroup = undefined;
  #trail: Trail;
  #exited = false;
  #signalled = new Set<number>();
  #watchdog: Watchdog | undefined;
  /** Processes of the run seen outside its group and session: pid → start time. */
  #escapees = new Map<number, number>();
  #changed: (() => void) | undefined;
  #runs: Set<GroupRun>;
  #pipesTimer: ReturnType<typeof setTimeout> | undefined;
  startTime = 0;
  readonly spawnedBy = bootTicks();

  constructor(
    pid: number,
    options: {
      watchdog: Watchdog | undefined;
      changed: (() => void) | undefined;
      runs: Set<GroupRun>;
    },
  ) {
    this.pid = pid;
    this.#trail = new Trail(pid, []);
    this.#trail.onAdopt = (orphan) => this.#note(orphan);
    this.#watchdog = options.watchdog;
    this.#changed = options.changed;
    this.#runs = options.runs;
    this.#runs.add(this);
    orphans.add(this.#trail);
    this.#watchdog?.add(`-${pid}`);
    // Reading /proc/PID of a process in the middle of an exec waits for the
    // exec (tens of ms on a busy machine): its start time and pipes are read
    // once the chain of execs is likely over (or when they are needed first).
    this.#pipesTimer = setTimeout(() => this.#identify(), PIPES_AFTER_MS);
  }

  get pipes(): readonly string[] {
    return [...this.#trail.pipes];
  }

  get escapees(): readonly Escapee[] {
    return [...this.#escapees].map(([pid, start_time]) => ({ pid, start_time }));
  }

  /** Read the start time and output pipes of the main process, once. */
  #identify(): void {
    if (this.#pipesTimer === undefined) return;
    clearTimeout(this.#pipesTimer);
    this.#pipesTimer = undefined;
    if (this.#exited) return;
    this.startTime = readProcStat(this.pid)?.startTime ?? 0;
    for (const pipe of outputPipes(this.pid)) this.#trail.pipes.add(pipe);
    this.#changed?.();
  }

  /** Remember `pid` if it is a process of the run outside its group and session. */
  #note(pid: number): void {
    if (this.#escapees.has(pid)) return;
    const stat = readProcStat(pid);
    if (!stat || stat.pgrp === this.pid || stat.session === this.pid) return;
    this.#escapees.set(pid, stat.startTime);
    this.#watchdog?.add(`${pid}:${stat.startTime}`);
    this.#changed?.();
  }

  /**
   * Look for processes of the run that left its group (called periodically,
   * after an orphan sweep), and forget those that ended.
   */
  refresh(): void {
    this.#outsiders(false);
    let ended = false;
    for (const [pid, startTime] of this.#escapees) {
      const stat = readProcStat(pid);
      if (stat && !isDead(stat) && stat.startTime === startTime) continue;
      this.#escapees.delete(pid);
      this.#watchdog?.remove(`${pid}:${startTime}`);
      ended = true;
    }
    if (ended) this.#changed?.();
  }

  /**
   * Processes of the run outside its group: the descendants of the main
   * process while it lives, and the orphans of the run with theirs. Each is
   * remembered, so that its own orphans are attributed to the run later.
   */
  #outsiders(sweep = true): number[] {
    if (sweep) orphans.sweep();
    const roots = orphans.of(this.#trail);
    if (!this.#exited) roots.push(this.pid);
    const outside: number[] = [];
    for (const pid of withDescendants(roots)) {
      this.#trail.pids.add(pid);
      if (pid !== this.pid && readProcStat(pid)?.pgrp !== this.pid) {
        outside.push(pid);
        this.#note(pid);
      }
    }
    return outside;
  }

  signal(signal: Deno.Signal): void {
    this.#identify(); // an orphan holding its pipes is then the run's
    this.#send(signal, false);
  }

  /** `signal` to the group and to each process outside it (only new ones with `newOnly`). */
  #send(signal: Deno.Signal, newOnly: boolean): void {
    const outside = this.#outsiders();
    if (!newOnly) {
      // The group (or, before setsid made it, the main process).
      if (this.#exited) signalGroup(this.pid, signal);
      else signalChild(this.pid, signal);
    }
    for (const pid of outside) {
      if (newOnly && this.#signalled.has(pid)) continue;
      try {
        Deno.kill(pid, signal);
        this.#signalled.add(pid);
      } catch {
        // gone meanwhile
      }
    }
  }

  exited(): void {
    this.#exited = true;
    this.#trail.endedAtMs = Date.now();
  }

  alive(): boolean {
    if (this.#outsiders().length > 0) return true;
    // As a subreaper, the zombies of the group were just reaped: a signal probe is exact.
    return adoptsOrphans() ? signalGroup(this.pid, "SIGCONT") : groupAlive(this.pid);
  }

  kill(): void {
    this.#send("SIGKILL", false);
  }

  async waitGone(deadlineMs: number, signal?: Deno.Signal): Promise<boolean> {
    let pause = 2;
    while (this.alive()) {
      const left = deadlineMs - Date.now();
      if (left <= 0) return false;
      if (signal === "SIGKILL") this.kill();
      else if (signal !== undefined) this.#send(signal, true);
      await delay(Math.min(pause, left));
      pause = Math.min(pause * 2, 50);
    }
    return true;
  }

  async endPipeHolders(): Promise<number> {
    // As a subreaper, every process that descends from the run was found already.
    if (adoptsOrphans()) return 0;
    // Else the whole /proc: members of the run's sessions and groups, and holders of its pipes.
    const [found] = await findLeftovers([
      { groups: new Set(this.#trail.pids), pipes: new Set(this.pipes) },
    ]);
    return killAll(found!);
  }

  end(): void {
    clearTimeout(this.#pipesTimer);
    this.#pipesTimer = undefined;
    this.#runs.delete(this);
    this.#trail.onAdopt = undefined;
    orphans.delete(this.#trail);
    this.#watchdog?.remove(`-${this.pid}`);
    for (const [pid, startTime] of this.#escapees) this.#watchdog?.remove(`${pid}:${startTime}`);
  }
}

/** SIGKILL each of `pids`; how many were signalled. */
function killAll(pids: readonly number[]): number {
  let killed = 0;
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/**
 * The watchdog's script. It reads `+ ENTRY` and `- ENTRY` lines until end of
 * file, which comes when the orchestrator closes its end or ends in any way;
 * an entry is a process group (`-PGID`) or one process (`PID:START`, its start
 * time in clock ticks since boot, checked so that a reused pid is spared).
 * At end of file it kills the instance cgroup (`$0`, when not empty), then
 * every entry it holds.
 */
const WATCHDOG_SCRIPT = `# edgevisor-watchdog
e=" "
while read -r op id; do
  case $op$e in
    +*) e="$e$id " ;;
    -*" $id "*) e="\${e%%" $id "*} \${e#*" $id "}" ;;
  esac
done
[ -z "$0" ] || echo 1 >"$0/cgroup.kill"
for id in $e; do
  case $id in
    -*) kill -s KILL -- "$id" ;;
    *:*) read -r stat <"/proc/\${id%:*}/stat" && set -- \${stat##*) } &&
      [ "\${20}" = "\${id#*:}" ] && kill -s KILL "\${id%:*}" ;;
  esac
done`;

/** Ends the services when the orchestrator ends without stopping them; see the module documentation. */
class Watchdog {
  #instance: Cgroup | undefined;
  #log: (line: string) => void;
  #entries = new Set<string>();
  #child: Deno.ChildProcess | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  #closed = false;
  #encoder = new TextEncoder();

  constructor(instance: Cgroup | undefined, log: (line: string) => void) {
    this.#instance = instance;
    this.#log = log;
    this.#spawn();
  }

  #spawn(): void {
    const launch = inOwnSession("sh", ["-c", WATCHDOG_SCRIPT, this.#instance?.path ?? ""]);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(launch.cmd, {
        args: launch.args,
        stdin: "piped",
        stdout: "null",
        stderr: "null",
        detached: launch.detached,
      }).spawn();
    } catch (err) {
      this.#log(`cannot start the watchdog: ${errorText(err)}; services would outlive a kill -9`);
      return;
    }
    const release = trackSpawn(child.pid);
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    for (const entry of this.#entries) this.#send(`+ ${entry}`);
    this.#exited = child.status.then((status) => {
      release();
      if (this.#closed) return;
      this.#child = undefined;
      this.#writer = undefined;
      this.#log(
        `the watchdog (pid ${child.pid}) ended (${
          status.signal ?? `exit code ${status.code}`
        }); starting another`,
      );
      setTimeout(() => this.#closed || this.#spawn(), 1000);
    });
  }

  #send(line: string): void {
    this.#writer?.write(this.#encoder.encode(line + "\n")).catch(() => {});
  }

  /** End `entry` (`-PGID` or `PID:START`) too if the orchestrator ends. */
  add(entry: string): void {
    if (this.#entries.has(entry)) return;
    this.#entries.add(entry);
    this.#send(`+ ${entry}`);
  }

  /** `entry` is over. */
  remove(entry: string): void {
    if (this.#entries.delete(entry)) this.#send(`- ${entry}`);
  }

  /** Close its input (it then finds nothing left to end) and wait for its exit. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer?.close().catch(() => {});
    await this.#exited;
  }
}

/** What an earlier orchestrator left of one service, and how to end it. */
export interface Leftovers {
  /** Pids found. */
  pids: number[];
  /** Send `signal` to each, SIGKILL what is left after `timeoutMs`, clean up. */
  end(signal: Deno.Signal, timeoutMs: number): Promise<void>;
}

/**
 * The processes left of the runs recorded in `records` by an orchestrator
 * that did not stop them (killed, or crashed), one entry per record: for a
 * run that had a cgroup, everything still in it; else the members of its
 * group and session and the holders of its output pipes, started after it
 * (one `/proc` scan for all). Undefined when nothing is left (an empty
 * cgroup is then removed, with the old instance directory once empty).
 */
export async function leftoversOf(
  records: readonly PidRecord[],
): Promise<(Leftovers | undefined)[]> {
  const result: (Leftovers | undefined)[] = records.map(() => undefined);
  const scanned: { index: number; record: PidRecord; query: LeftoverQuery }[] = [];
  for (const [index, record] of records.entries()) {
    if (record.cgroup !== undefined) {
      // A cgroup cannot be removed while a process is in it: gone means empty.
      const cgroup = new Cgroup(record.cgroup);
      if (cgroup.exists()) result[index] = cgroupLeftovers(cgroup);
      continue;
    }
    const leader = readProcStat(record.pid);
    // A reused pid: the group and session are gone (Linux reuses no pid still naming one).
    const reused = leader !== undefined && !isLeaderOf(record, leader.startTime);
    const query = {
      groups: new Set(reused ? [] : [record.pid]),
      pipes: new Set(record.pipes ?? []),
      startedAtOrAfter: startedAtOrAfter(record),
    };
    scanned.push({ index, record, query });
  }
  if (scanned.length === 0) return result;
  const found = await findLeftovers(scanned.map((s) => s.query));
  for (const [i, { index, record, query }] of scanned.entries()) {
    // Recorded escapees that still run (same pid, same start time).
    const escaped = (record.escapees ?? []).filter(({ pid, start_time }) => {
      const stat = readProcStat(pid);
      return stat && !isDead(stat) && stat.startTime === start_time;
    }).map(({ pid }) => pid);
    const pids = [...new Set([...found[i]!, ...escaped])];
    if (pids.length > 0) result[index] = processLeftovers(pids, query);
  }
  return result;
}

/**
 * Whether a process that started at `startTime` (clock ticks since boot) is
 * the leader `record` remembers: the same start time; or, when the
 * orchestrator ended before it could read that (a moment after the spawn),
 * a start in the seconds before `spawned_by`.
 */
function isLeaderOf(record: PidRecord, startTime: number): boolean {
  if (record.start_time !== 0) return startTime === record.start_time;
  const by = record.spawned_by;
  return by !== undefined && by > 0 && startTime <= by && startTime >= by - SPAWN_SLACK_TICKS;
}

/** The earliest start time of a process of the run `record` remembers. */
function startedAtOrAfter(record: PidRecord): number {
  if (record.start_time !== 0) return record.start_time;
  return Math.max(0, (record.spawned_by ?? 0) - SPAWN_SLACK_TICKS);
}

/** What is left in the cgroup of an earlier run; undefined (and the cgroup removed) when empty. */
function cgroupLeftovers(cgroup: Cgroup): Leftovers | undefined {
  const pids = cgroup.procs();
  if (pids.length === 0) {
    removeWithInstance(cgroup);
    return undefined;
  }
  return {
    pids,
    async end(signal, timeoutMs) {
      cgroup.signal(signal);
      if (!(await cgroup.waitEmpty(Date.now() + timeoutMs))) cgroup.kill();
      await cgroup.waitEmpty(Date.now() + KILL_WAIT_MS);
      removeWithInstance(cgroup);
    },
  };
}

/** Processes left of an earlier run without a cgroup, found by `query`. */
function processLeftovers(pids: number[], query: LeftoverQuery): Leftovers {
  const startTime = query.startedAtOrAfter ?? 0;
  const left = (list: readonly number[]) =>
    list.filter((pid) => {
      const stat = readProcStat(pid);
      return stat && !isDead(stat) && stat.startTime >= startTime;
    });
  return {
    pids,
    async end(signal, timeoutMs) {
      for (const pid of pids) trySignal(pid, signal);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && left(pids).length > 0) await delay(20);
      // Again, with what was forked meanwhile.
      const [again] = await findLeftovers([query]);
      const rest = [...new Set([...left(pids), ...again!])];
      killAll(rest);
      const killDeadline = Date.now() + KILL_WAIT_MS;
      while (Date.now() < killDeadline && left(rest).length > 0) await delay(20);
    },
  };
}

/** Remove `cgroup`, then its instance directory if that is empty and its orchestrator gone. */
function removeWithInstance(cgroup: Cgroup): void {
  cgroup.remove();
  const parent = cgroup.path.slice(0, cgroup.path.lastIndexOf("/"));
  const owner = instanceOwner(parent.slice(parent.lastIndexOf("/") + 1));
  if (owner !== undefined && owner !== Deno.pid && readProcStat(owner) === undefined) {
    new Cgroup(parent).remove();
  }
}

function trySignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // gone already
  }
}
