/**
 * One supervised service: spawns its process in a session (and, when
 * cgroups are used, a cgroup) of its own, captures its output, and carries
 * out what the lifecycle step (`lifecycle.ts`) decides on requests, exits and
 * timers. Every process of a run ends with it: see `containment.ts` for how
 * they are found.
 *
 * @module
 */
import { ConflictError, errorText, NotImplementedError, SpawnError } from "../errors.ts";
import type { EventBus } from "../events.ts";
import { type LogSink, pipeToLog, TimestampSink } from "../logs/capture.ts";
import { LogFile } from "../logs/log_file.ts";
import { logPath } from "../logs/paths.ts";
import { tailLines } from "../logs/tail.ts";
import { batchSince, mergeLogs, splitTimes, type TimedLines } from "../logs/times.ts";
import type { HealthCheckSpec, ServiceSpec } from "../registry/schema.ts";
import type {
  ExitInfo,
  HealthInfo,
  LogOptions,
  LogStream,
  LogTail,
  ServiceState,
  ServiceStatus,
  SupervisorEvent,
} from "../types.ts";
import { type Containment, KILL_WAIT_MS, type RunScope } from "./containment.ts";
import { launchCommand, type SessionLaunch, sessionLaunch } from "./guards.ts";
import { type HookName, runHook } from "./hooks.ts";
import { resolveChecks, ServiceHealth } from "./health_runner.ts";
import type { History } from "./history.ts";
import { JobHistory, JobScheduler, scheduleOf } from "./jobs.ts";
import type { GroupMetrics } from "./metrics.ts";
import type { RememberedService } from "./memory.ts";
import type { PidRecord, PidStore } from "./pid_store.ts";
import {
  type Effect,
  type Life,
  type LifeConfig,
  type LifeEvent,
  NEW_LIFE,
  preStartFailure,
  step,
} from "./lifecycle.ts";
import { type ExitStatus, restartConfig } from "./policy.ts";
import { cancellablePipe } from "./pipes.ts";
import { delay } from "./process.ts";
import { LIVE_STATES, WAITING_STATES } from "./state_machine.ts";

/** What a service needs from the supervisor. */
export interface ServiceDeps {
  /** Directory of the log files. */
  logDir: string;
  /** Where transitions are published. */
  events: EventBus<SupervisorEvent>;
  /** Where pids are remembered across orchestrator restarts. */
  pids: PidStore;
  /** How the processes of the service are held and ended. */
  containment: ServiceContainment;
  /** One line of the orchestrator's own log. */
  log: (line: string) => void;
  /** Source of backoff jitter. @default Math.random */
  random?: () => number;
  /** Named health checks of the registry (`health_checks`). @default {} */
  healthChecks?: Record<string, HealthCheckSpec>;
  /** Called when a service with `on_exit: "shutdown_everything"` ended and will not be restarted. */
  onShutdownEverything?: (service: string, reason: string) => void;
  /** Where the starts of its processes are recorded, and the markers of its logs come from. */
  history?: History;
  /** How processes are spawned. @default `new Deno.Command(cmd, options).spawn()` */
  spawn?: Spawn;
}

/** What a service needs of {@linkcode Containment}. */
export type ServiceContainment = Pick<Containment, "wrap" | "begin" | "release">;

/** The process of a service, as far as {@linkcode Service} uses it. */
export interface ServiceProcess {
  /** Its pid. */
  readonly pid: number;
  /** Its standard output. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its standard error. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Settles when it ended and was reaped. */
  readonly status: Promise<Deno.CommandStatus>;
}

/** Spawn a process; throws as `Deno.Command#spawn` does. */
export type Spawn = (cmd: string, options: Deno.CommandOptions) => ServiceProcess;

const spawnCommand: Spawn = (cmd, options) => new Deno.Command(cmd, options).spawn();

/** What a launch came to: a spawn error, nothing (spawned), or, after `pre_start`, the promise of one. */
type Launched = SpawnError | undefined | Promise<SpawnError | undefined>;

/** One process of the service, from spawn to the end of its exit handling. */
interface Run {
  child: ServiceProcess;
  pid: number;
  /** Every process of the run (the main one and what it started). */
  scope: RunScope;
  /** Deno reaped the main process: the pid is no longer its child. */
  reaped: () => void;
  startedAtMs: number;
  exited: boolean;
  stopRequested: boolean;
  forced: boolean;
  stopDeadlineMs: number;
  /** Why the supervisor ended this run itself (a failed liveness check, a resource guard). */
  killReason?: string;
  /** The process and its group are gone and the next state is taken. */
  done: Promise<void>;
  /** Both output pipes reached their end (or were closed). */
  pipes: Promise<unknown>;
  /** Close the orchestrator's end of both output pipes. */
  closePipes: () => void;
  /** Its pid could not be recorded: it was killed at once and its exit changes no state. */
  abandoned: boolean;
  /** What is recorded of it in the state directory. */
  record?: PidRecord;
  /** Its record is removed: nothing may write it again. */
  forgotten: boolean;
}

/**
 * Automatic spawns (at boot, after backoff or cooldown) of every service
 * share each turn of the event loop up to this many milliseconds; the others
 * wait for the next turn. A spawn holds the thread until the child's exec
 * (longer while cgroup migrations hold forks), so a burst (hundreds of
 * services at boot, a crash storm) would otherwise hold the API for all of
 * them in a row.
 */
const SPAWN_SLICE_MS = 20;
const spawnQueue: (() => void)[] = [];
/** When the current turn began spawning; undefined when it has not. */
let turnStartMs: number | undefined;

/** Run `spawn` now if this turn has time left (and nothing waits), else in a later turn. */
function spawnInTurn(spawn: () => void): void {
  if (spawnQueue.length > 0 || !turnOpen()) spawnQueue.push(spawn);
  else spawn();
}

/** Whether the current turn may spawn more; the first spawn of a turn schedules its end. */
function turnOpen(): boolean {
  const now = performance.now();
  if (turnStartMs === undefined) {
    turnStartMs = now;
    setTimeout(nextTurn, 0);
    return true;
  }
  return now - turnStartMs < SPAWN_SLICE_MS;
}

function nextTurn(): void {
  turnStartMs = undefined;
  while (spawnQueue.length > 0 && turnOpen()) spawnQueue.shift()!();
}

/** How long output pipes may take to reach their end once a run's processes are gone. */
const PIPE_EOF_MS = 100;
/** How long to wait for output pipes after that search before closing them. */
const PIPE_DRAIN_MS = 1000;

/** One supervised service. */
export class Service {
  #spec: ServiceSpec;
  #deps: ServiceDeps;
  #spawnProcess: Spawn;
  /** The lifecycle, changed only by {@linkcode step} (see `#dispatch`). */
  #life: Life = NEW_LIFE;
  #lifeConfig: LifeConfig;
  #run: Run | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped when the timer is disarmed: a retry already on its way is then dropped. */
  #timerEpoch = 0;
  #lastExit: ExitInfo | null = null;
  #stdout: LogFile;
  #stderr: LogFile;
  /** Where the output goes: the log files, or with `log.timestamps` each line with its time first. */
  #sinks: Record<"stdout" | "stderr", LogSink & { endLine?: () => Promise<void> }>;
  #health: ServiceHealth;
  #metrics: GroupMetrics | undefined;
  #cpuSeconds = 0;
  #job: JobHistory | undefined;
  #scheduler: JobScheduler | undefined;
  #hookAbort: AbortController | undefined;
  /** Stop requests so far: an automatic start that waited is dropped when one came meanwhile. */
  #stops = 0;
  /** Processes of an earlier run still being ended: nothing is spawned until they are gone. */
  #ending: { reason: string; done: Promise<void> } | undefined;
  /** When the next scheduled run of a job is due (epoch ms), or null. */
  nextRunAtMs: number | null = null;

  /** Create a stopped service. */
  constructor(spec: ServiceSpec, deps: ServiceDeps) {
    this.#spec = spec;
    this.#spawnProcess = deps.spawn ?? spawnCommand;
    let restart = restartConfig(spec);
    if (spec.kind === "job") {
      // A job runs to completion: never restarted by policy.
      restart = { ...restart, policy: "never" };
      this.#job = new JobHistory();
      const next = scheduleOf(spec);
      if (next) this.#scheduler = new JobScheduler(this, next, deps.log);
    }
    this.#deps = deps;
    const logOptions = {
      maxBytes: Math.max(1, Math.round(spec.log.max_size_mb * 1024 * 1024)),
      keep: spec.log.keep,
      onError: (err: Error) => deps.log(`service "${spec.name}": ${err.message}`),
    };
    this.#stdout = new LogFile(logPath(deps.logDir, spec.name, "stdout"), logOptions);
    this.#stderr = new LogFile(logPath(deps.logDir, spec.name, "stderr"), logOptions);
    this.#sinks = spec.log.timestamps
      ? { stdout: new TimestampSink(this.#stdout), stderr: new TimestampSink(this.#stderr) }
      : { stdout: this.#stdout, stderr: this.#stderr };
    this.#health = new ServiceHealth(resolveChecks(spec, deps.healthChecks ?? {}), {
      ready: (message) => void this.#dispatch({ type: "ready", message }),
      unhealthy: (reason) => this.recycle(reason),
      changed: (role, from, to, message) => {
        deps.log(`service "${spec.name}": ${role} ${from} -> ${to} (${message})`);
        deps.events.emit({
          type: "health",
          service: spec.name,
          role,
          from,
          to,
          message,
          at: new Date().toISOString(),
        });
      },
    });
    this.#lifeConfig = {
      name: spec.name,
      restart,
      preStart: spec.pre_start !== undefined,
      readiness: this.#health.hasReadiness,
      graceMs: spec.start_grace * 1000,
      stopSignal: spec.stop_signal,
      shutdownEverything: spec.on_exit === "shutdown_everything",
    };
  }

  /** The service name. */
  get name(): string {
    return this.#spec.name;
  }

  /** The definition the service runs with. */
  get spec(): ServiceSpec {
    return this.#spec;
  }

  /** Current lifecycle state. */
  get state(): ServiceState {
    return this.#life.state;
  }

  /** Pid of the current process, if any. */
  get pid(): number | null {
    return this.#run?.pid ?? null;
  }

  /** Status in the API's shape. */
  status(nowMs: number = Date.now()): ServiceStatus {
    const run = this.#run;
    const spec = this.#spec;
    const life = this.#life;
    return {
      name: spec.name,
      display_name: spec.display_name ?? spec.name,
      description: spec.description ?? null,
      type: spec.type ?? null,
      status: life.state,
      pid: run?.pid ?? null,
      started_at: run ? iso(run.startedAtMs) : null,
      uptime: run ? Math.max(0, nowMs - run.startedAtMs) / 1000 : 0,
      restarts: life.restarts,
      crash_count: life.crashCount,
      last_exit: this.#lastExit,
      last_restart: life.lastRestartMs === null ? null : iso(life.lastRestartMs),
      next_restart_at: life.nextStartMs === null ? null : iso(life.nextStartMs),
      reason: life.reason ?? this.#ending?.reason ?? null,
      autostart: spec.autostart,
      restart_policy: spec.restart_policy,
      port: spec.port ?? null,
      health_check: spec.health_check ?? null,
      health: this.#health.info(),
      cpu_percent: run ? this.#metrics?.cpuPercent ?? null : null,
      memory_rss_bytes: run ? this.#metrics?.rssBytes ?? null : null,
      threads: run ? this.#metrics?.threads ?? null : null,
      cpu_seconds: this.#cpuSeconds,
      kind: spec.kind ?? "service",
      ...(this.#job ? { runs: this.#job.runs(nowMs) } : {}),
      ...(this.#scheduler
        ? { next_run_at: this.nextRunAtMs === null ? null : iso(this.nextRunAtMs) }
        : {}),
    };
  }

  /** Jobs: whether a run is in progress. */
  get busy(): boolean {
    return this.#run !== undefined || LIVE_STATES.has(this.#life.state);
  }

  /** Jobs: whether the last finished run exited with code 0; undefined for services. */
  get completed(): boolean | undefined {
    return this.#job ? this.#job.lastSucceeded === true : undefined;
  }

  /**
   * Start one run of a job; resolves to its run id once it is spawned.
   * @throws {ConflictError} when the service is not a job, or a run is in progress.
   * @throws {SpawnError} when the process cannot be spawned.
   */
  async runJob(): Promise<number> {
    if (!this.#job) {
      throw new ConflictError(
        `Cannot run service "${this.name}": it is not a job (set "kind": "job")`,
      );
    }
    const current = this.#job.current;
    if (this.busy) {
      throw new ConflictError(
        `Cannot run job "${this.name}": run ${current?.id ?? "?"} is still going`,
      );
    }
    await this.start();
    return this.#job.current?.id ?? 0;
  }

  /** Jobs: a run started by the schedule (errors are logged, not thrown). */
  runScheduled(): void {
    if (this.#life.closed) return;
    this.runJob().catch((err) =>
      this.#deps.log(`job "${this.name}": scheduled run failed: ${(err as Error).message}`)
    );
  }

  /** Start the job's schedule, if it has one. */
  startSchedule(): void {
    if (!this.#life.closed) this.#scheduler?.start();
  }

  /** The cgroup of the current run, for the metrics sampler (undefined without cgroups). */
  get cgroup(): string | undefined {
    return this.#run?.scope.cgroup?.path;
  }

  /** Metrics of the process group at the last sample; set by the metrics sampler. */
  get metrics(): GroupMetrics | undefined {
    return this.#metrics;
  }

  set metrics(metrics: GroupMetrics | undefined) {
    this.#metrics = metrics;
    if (metrics) this.#cpuSeconds = metrics.cpuSeconds;
  }

  /** Say why the service waits to be started (only while it has no process; null clears it). */
  setWaiting(reason: string | null): void {
    if (!this.#run) this.#dispatch({ type: "waiting", reason });
  }

  /** `max_memory_mb` in bytes, if set. */
  get maxMemoryBytes(): number | undefined {
    const mb = this.#spec.max_memory_mb;
    return mb === undefined ? undefined : mb * 1024 * 1024;
  }

  /** Health with its recent history; with `now`, one check runs first. */
  health(now = false): Promise<HealthInfo> {
    return this.#health.detail(now);
  }

  /**
   * End the current process because the supervisor judged it bad (`reason`
   * says why): the stop signal to every process of the run, SIGKILL after `stop_timeout`.
   * The exit counts as a failure and the restart policy decides what next.
   */
  recycle(reason: string): void {
    const run = this.#run;
    if (!run || run.exited || run.stopRequested || run.killReason !== undefined) return;
    run.killReason = reason;
    this.#deps.log(`service "${this.name}": ${reason}; stopping it`);
    run.scope.signal(this.#spec.stop_signal);
    const timer = setTimeout(() => {
      if (!run.exited) run.scope.kill();
    }, this.#spec.stop_timeout * 1000);
    run.done.then(() => clearTimeout(timer));
  }

  /**
   * Start the service on request. Resolves once the process is spawned.
   * @throws {ConflictError} when it is already starting, running or stopping, or
   * processes of an earlier run are still being ended.
   * @throws {SpawnError} when the process cannot be spawned or its pid cannot be
   * recorded (the service is then `failed`).
   */
  async start(): Promise<void> {
    await this.#requestStart("start");
  }

  /**
   * Start at boot: a spawn failure leaves the service `failed` (and logged)
   * without throwing. While processes of an earlier run are being ended, it
   * starts once they are gone; in a burst of spawns, in a later turn of the
   * event loop (see `SPAWN_SLICE_MS`); unless stopped meanwhile.
   */
  autostart(): void {
    // A stop requested meanwhile cancels it.
    const stops = this.#stops;
    const ending = this.#ending;
    if (ending) {
      ending.done.then(() => {
        if (this.#stops === stops && !this.#life.closed) this.autostart();
      });
      return;
    }
    spawnInTurn(() => {
      // A live service refuses it; a failed spawn leaves it `failed`, logged.
      if (this.#stops === stops) {
        this.#dispatch({ type: "start", kind: "autostart", atMs: Date.now() });
      }
    });
  }

  /**
   * Refuse starts until `done` settles (automatic ones wait for it), because
   * processes of an earlier run are still being ended; `reason` says so in
   * the status meanwhile and in the error of a refused start.
   */
  holdUntil(done: Promise<unknown>, reason: string): void {
    const ending = { reason, done: done.then(() => {}, () => {}) };
    this.#ending = ending;
    ending.done.then(() => {
      if (this.#ending === ending) this.#ending = undefined;
    });
  }

  /**
   * Stop the service on request: the stop signal to every process of the
   * run (its cgroup, or its group and what left it), then SIGKILL of them all
   * after `stop_timeout` (at once with `force`). Resolves once they are gone.
   * @throws {ConflictError} when it is not running.
   */
  async stop(force = false): Promise<void> {
    this.#stops++;
    const { refused } = this.#dispatch({ type: "stop", force });
    if (refused) throw new ConflictError(`Cannot stop service "${this.name}": ${refused}`);
    const run = this.#run;
    // Waiting, or stopped during its pre_start hook: nothing runs.
    if (!run) return;
    if (!run.exited && !run.forced) {
      const abort = new AbortController();
      const timeout = delay(run.stopDeadlineMs - Date.now(), abort.signal).then(() => {
        if (!run.exited && !abort.signal.aborted) {
          this.#deps.log(
            `service "${this.name}": still running after stop_timeout ${this.#spec.stop_timeout}s; sending SIGKILL`,
          );
          run.scope.kill();
        }
      });
      await run.done;
      abort.abort();
      await timeout;
    } else {
      await run.done;
    }
  }

  /**
   * Stop the service if it is live, then start it again.
   * @throws {ConflictError} when another restart got there first.
   */
  async restart(): Promise<void> {
    const state = this.#life.state;
    if (state === "starting" || state === "running") await this.stop();
    else if (state === "stopping" && this.#run) await this.#run.done;
    await this.#requestStart("restart");
  }

  /**
   * An operator's start (or the start of a restart), once processes of an
   * earlier run are gone; resolves once the process is spawned.
   */
  async #requestStart(action: "start" | "restart"): Promise<void> {
    this.#assertNotEnding(action);
    const { refused, launched } = this.#dispatch({
      type: "start",
      kind: "request",
      restart: action === "restart",
      atMs: Date.now(),
    });
    if (refused) throw new ConflictError(`Cannot ${action} service "${this.name}": ${refused}`);
    const failure = await launched;
    if (failure) throw failure;
  }

  /** What survives an unclean end of the orchestrator. */
  remembered(): RememberedService {
    const life = this.#life;
    return {
      restarts: life.restarts,
      crash_count: life.crashCount,
      last_exit: this.#lastExit,
      held: life.held,
    };
  }

  /** Take back what an unclean end left (before the service is started). */
  recall(memory: RememberedService): void {
    this.#lastExit = memory.last_exit;
    this.#life = {
      ...this.#life,
      restarts: memory.restarts,
      crashCount: memory.crash_count,
      held: memory.held,
      ...(memory.held ? { reason: "stopped by request (before the orchestrator restarted)" } : {}),
    };
  }

  /** Stopped by an operator and to stay so. */
  get held(): boolean {
    return this.#life.held;
  }

  /** SIGKILL every process of the service at once (second signal to the orchestrator). */
  kill(): void {
    this.#dispatch({ type: "close" });
    this.#clearTimer();
    this.#run?.scope.kill();
  }

  /**
   * Stop for good: no timer may start it again; live processes are stopped
   * gracefully, and what its hooks left is killed with its cgroup.
   */
  async close(): Promise<void> {
    this.#dispatch({ type: "close" });
    this.#scheduler?.stop();
    const state = this.#life.state;
    if (LIVE_STATES.has(state) || WAITING_STATES.has(state)) await this.stop();
    await this.#deps.containment.release(this.name);
    await Promise.all([this.#stdout.close(), this.#stderr.close()]);
  }

  /**
   * Last `lines` lines of the chosen stream(s) (those at or after
   * `options.sinceMs`), and, when the log keeps times, `merged`: them in time order with the start and
   * exit markers of the history, at most `lines` lines in all.
   */
  async logs(lines: number, stream: LogStream, options: LogOptions = {}): Promise<LogTail> {
    const { keep, timestamps } = this.#spec.log;
    const since = options.sinceMs;
    this.assertLogTimes(since);
    const streams = stream === "both" ? (["stdout", "stderr"] as const) : [stream];
    const timed: TimedLines[] = [];
    const tail: LogTail = { name: this.name };
    for (const name of streams) {
      const raw = await tailLines(logPath(this.#deps.logDir, this.name, name), lines, { keep });
      const split = timestamps ? splitTimes(raw) : { lines: raw, at: raw.map(() => null) };
      timed.push({ stream: name, ...split });
      tail[name] = since === undefined
        ? split.lines
        : batchSince({ stream: name, ...split }, since).batch.lines;
    }
    // Without times there is no order between the streams: no `merged`.
    if (timestamps) {
      tail.merged = mergeLogs(timed, this.#deps.history?.markers(this.name, since) ?? [], {
        lines,
        sinceMs: since,
      });
    }
    return tail;
  }

  /**
   * Lines can be chosen by time only when the log keeps times.
   * @throws {NotImplementedError} when `sinceMs` is given and `log.timestamps` is false.
   */
  assertLogTimes(sinceMs: number | undefined): void {
    if (sinceMs !== undefined && !this.#spec.log.timestamps) {
      throw new NotImplementedError(
        `The log of service "${this.name}" keeps no times (log.timestamps is false): "since" is not available`,
      );
    }
  }

  /**
   * Take `event` through the lifecycle step and carry out its effects in
   * order. Returns why a request was refused, and what a launch it began
   * came to.
   */
  #dispatch(event: LifeEvent): { refused?: string; launched?: Launched } {
    const result = step(this.#life, event, this.#lifeConfig);
    this.#life = result.life;
    let launched: Launched;
    for (const effect of result.effects) {
      const outcome = this.#effect(effect);
      if (effect.type === "launch" || effect.type === "run_pre_start") launched = outcome;
    }
    return { refused: result.refused, launched };
  }

  /** Carry out one effect of a lifecycle step. */
  #effect(effect: Effect): Launched {
    const run = this.#run;
    switch (effect.type) {
      case "transition":
        this.#publish(effect);
        return;
      case "run_pre_start":
        return this.#preStart();
      case "abort_pre_start":
        this.#hookAbort?.abort();
        this.#hookAbort = undefined;
        return;
      case "launch":
        return this.#launch();
      case "arm_timer":
        this.#arm(effect.purpose, effect.delayMs);
        return;
      case "clear_timer":
        this.#clearTimer();
        return;
      case "signal":
        if (!run || run.stopRequested) return;
        run.stopRequested = true;
        run.forced = effect.force;
        run.stopDeadlineMs = Date.now() + this.#spec.stop_timeout * 1000;
        run.scope.signal(effect.force ? "SIGKILL" : this.#spec.stop_signal);
        return;
      case "kill":
        if (!run || run.forced) return;
        run.forced = true;
        run.scope.kill();
        return;
      case "clear_health":
        this.#health.clear();
        return;
      case "post_start":
        void this.#sideHook("post_start");
        return;
      case "shutdown_everything":
        this.#deps.onShutdownEverything?.(this.name, effect.reason);
        return;
    }
  }

  /** Arm the one timer: the end of `start_grace`, or of backoff or cooldown. */
  #arm(purpose: "grace" | "retry", delayMs: number): void {
    this.#clearTimer();
    const epoch = this.#timerEpoch;
    if (purpose === "grace") {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#dispatch({ type: "grace_elapsed" });
      }, delayMs);
      return;
    }
    const retry = () => {
      if (this.#timerEpoch !== epoch) return;
      this.#timer = undefined;
      // Processes of the last run still being ended: start once they are gone.
      if (this.#ending) this.#ending.done.then(retry);
      else {
        spawnInTurn(() => {
          if (this.#timerEpoch === epoch) this.#dispatch({ type: "retry", atMs: Date.now() });
        });
      }
    };
    // A zero delay retries in a microtask: Deno's setTimeout(0) takes milliseconds.
    if (delayMs <= 0) queueMicrotask(retry);
    else this.#timer = setTimeout(retry, delayMs);
  }

  /** Run `pre_start`; the lifecycle then launches the process, or the service is `failed`. */
  async #preStart(): Promise<SpawnError | undefined> {
    const abort = new AbortController();
    this.#hookAbort = abort;
    const result = await runHook(
      "pre_start",
      this.#spec.pre_start!,
      this.#spec,
      abort.signal,
      this.#inCgroup,
    );
    if (this.#hookAbort === abort) this.#hookAbort = undefined;
    if (abort.signal.aborted) return undefined;
    // What the step does with a failure: the service is `failed` (listeners may change its reason).
    const fails = !result.ok && this.#life.phase === "pre_start";
    const { launched } = this.#dispatch({
      type: "pre_start_done",
      ok: result.ok,
      summary: result.summary,
    });
    if (result.ok) return launched;
    return fails ? new SpawnError(preStartFailure(result.summary)) : undefined;
  }

  /** Adapt a launch so that the process runs in the service's cgroup (when cgroups are used). */
  #inCgroup = (launch: SessionLaunch): SessionLaunch =>
    this.#deps.containment.wrap(this.name, launch);

  /** Run a hook that cannot stop anything (`post_start`, `post_stop`); log a failure. */
  async #sideHook(name: HookName): Promise<void> {
    const hook = this.#spec[name];
    if (!hook) return;
    const result = await runHook(name, hook, this.#spec, undefined, this.#inCgroup);
    this.#deps.log(
      `service "${this.name}": ${name} hook ${result.ok ? "done" : "failed"} (${result.summary})`,
    );
  }

  /**
   * Spawn the process of a service that is `starting`, and record it; the
   * lifecycle hears `spawned` or `spawn_failed`, and the error is returned.
   */
  #launch(): SpawnError | undefined {
    const spec = this.#spec;
    let child: ServiceProcess;
    let launch: SessionLaunch;
    const command = launchCommand(spec);
    for (const warning of command.warnings) this.#deps.log(`service "${spec.name}": ${warning}`);
    try {
      launch = this.#inCgroup(sessionLaunch(command.cmd, command.args, {
        cmd: spec.cmd,
        cwd: spec.working_dir,
        path: spec.env.PATH,
      }));
      child = this.#spawnProcess(launch.cmd, {
        args: launch.args,
        cwd: spec.working_dir,
        env: spec.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: launch.detached,
      });
    } catch (err) {
      const message = spawnErrorMessage(spec, err);
      this.#dispatch({ type: "spawn_failed", message });
      return new SpawnError(message, { cause: err });
    }
    const reaped = launch.spawned?.(child.pid) ?? (() => {});
    const scope = this.#deps.containment.begin(spec.name, child.pid, () => {
      if (run.record && !run.forgotten) this.#save(run);
    });
    const startedAtMs = Date.now();
    const stdout = cancellablePipe(child.stdout);
    const stderr = cancellablePipe(child.stderr);
    let resolveDone!: () => void;
    const run: Run = {
      child,
      pid: child.pid,
      scope,
      reaped,
      startedAtMs,
      exited: false,
      stopRequested: false,
      forced: false,
      stopDeadlineMs: 0,
      done: new Promise((resolve) => (resolveDone = resolve)),
      pipes: Promise.all([
        pipeToLog(stdout.stream, this.#tap("stdout", this.#sinks.stdout)),
        pipeToLog(stderr.stream, this.#tap("stderr", this.#sinks.stderr)),
      ]),
      closePipes: () => {
        stdout.cancel();
        stderr.cancel();
      },
      abandoned: false,
      forgotten: false,
    };
    this.#run = run;
    child.status.then((status) => this.#onExit(run, status)).finally(resolveDone);
    const failed = this.#save(run);
    if (failed) {
      // A copy that a later orchestrator could not find must not run.
      const message =
        `Cannot start service "${spec.name}": cannot record its pid in "${this.#deps.pids.dir}": ${
          errorText(failed)
        }`;
      run.abandoned = true;
      scope.kill();
      this.#run = undefined;
      this.holdUntil(run.done, `its previous processes (pid ${run.pid}) are still being ended`);
      this.#dispatch({ type: "spawn_failed", message });
      return new SpawnError(message, { cause: failed });
    }
    this.#job?.begin(startedAtMs);
    this.#deps.history?.started(this.name, run.pid, startedAtMs);
    this.#health.begin();
    this.#dispatch({ type: "spawned" });
    return undefined;
  }

  /** Save the run's record; a failure is returned (and logged after the first save). */
  #save(run: Run): Error | undefined {
    const first = run.record === undefined;
    const scope = run.scope;
    run.record = {
      name: this.name,
      pid: run.pid,
      start_time: scope.startTime,
      ...(scope.startTime === 0 && scope.spawnedBy > 0 ? { spawned_by: scope.spawnedBy } : {}),
      cmd: this.#spec.cmd,
      ...(scope.cgroup ? { cgroup: scope.cgroup.path } : {}),
      ...(scope.pipes.length > 0 ? { pipes: [...scope.pipes] } : {}),
      ...(scope.escapees.length > 0 ? { escapees: [...scope.escapees] } : {}),
    };
    const failed = this.#deps.pids.save(run.record);
    if (failed && !first) {
      this.#deps.log(`service "${this.name}": cannot record its processes: ${errorText(failed)}`);
    }
    return failed;
  }

  async #onExit(run: Run, status: Deno.CommandStatus): Promise<void> {
    run.exited = true;
    run.reaped();
    const scope = run.scope;
    scope.exited();
    const endedAtMs = Date.now();
    const exit: ExitStatus = {
      code: status.signal ? null : status.code,
      signal: status.signal ?? null,
    };
    if (!run.abandoned) this.#lastExit = { ...exit, at: iso(endedAtMs) };
    if (this.#run === run) {
      this.#dispatch({ type: "ended" });
      this.#health.end();
    }
    // What is left of the run: given until the stop deadline on a requested
    // stop (newcomers get the stop signal too), killed at once after an unexpected exit.
    if (run.stopRequested && !run.forced) {
      if (!(await scope.waitGone(run.stopDeadlineMs, this.#spec.stop_signal))) scope.kill();
    } else if (scope.alive()) {
      this.#deps.log(
        `service "${this.name}": killing what is left of its processes (pid ${run.pid})`,
      );
      scope.kill();
    }
    const gone = await scope.waitGone(Date.now() + KILL_WAIT_MS, "SIGKILL");
    await this.#closePipes(run);
    // The next run's lines begin on lines of their own.
    await Promise.all([this.#sinks.stdout.endLine?.(), this.#sinks.stderr.endLine?.()]);
    const finish = () => {
      run.forgotten = true;
      scope.end();
      if (this.#run === undefined || this.#run === run) this.#deps.pids.remove(this.name);
    };
    if (gone) finish();
    else {
      this.#deps.log(
        `service "${this.name}": processes of pid ${run.pid} survive SIGKILL; no new start until they are gone`,
      );
      this.holdUntil(
        scope.waitGone(Infinity, "SIGKILL").then(finish),
        `its previous processes (pid ${run.pid}) are still being ended`,
      );
    }
    if (run.abandoned) return;
    this.#job?.end(exit, endedAtMs);
    await this.#sideHook("post_stop");
    if (this.#run === run) this.#run = undefined;

    this.#dispatch({
      type: "exited",
      exit,
      ...(run.killReason !== undefined ? { killReason: run.killReason } : {}),
      startedAtMs: run.startedAtMs,
      endedAtMs,
      atMs: Date.now(),
      random: (this.#deps.random ?? Math.random)(),
    });
  }

  /** Feed the output to the health checks and the job's run record on its way to `file`. */
  #tap(stream: "stdout" | "stderr", file: LogSink): LogSink {
    const sink = this.#health.tap(stream, file);
    return this.#job ? this.#job.tap(sink) : sink;
  }

  /**
   * Wait for the output pipes to reach their end; if they do not soon, end
   * the processes that still hold them (without a cgroup or a subreaper to
   * find them, a `/proc` scan), then close the pipes anyway, so that no
   * descriptor outlives the run.
   */
  async #closePipes(run: Run): Promise<void> {
    if (await settlesWithin(run.pipes, PIPE_EOF_MS)) return;
    const killed = await run.scope.endPipeHolders();
    if (killed > 0) {
      this.#deps.log(
        `service "${this.name}": killed ${killed} process(es) of pid ${run.pid} found by their session or output pipes`,
      );
    }
    if (!(await settlesWithin(run.pipes, PIPE_DRAIN_MS))) run.closePipes();
    await run.pipes;
  }

  #assertNotEnding(action: string): void {
    if (this.#ending) {
      throw new ConflictError(`Cannot ${action} service "${this.name}": ${this.#ending.reason}`);
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerEpoch++;
  }

  /** Publish and log a transition the lifecycle took. */
  #publish(
    { from, to, reason, exit, nextStartMs }: Extract<Effect, { type: "transition" }>,
  ): void {
    const nowMs = Date.now();
    const event: SupervisorEvent = {
      type: "state",
      service: this.name,
      from,
      to,
      reason,
      at: iso(nowMs),
      pid: this.#run?.pid ?? null,
    };
    if (exit) event.exit = { ...exit, at: this.#lastExit?.at ?? iso(nowMs) };
    if (nextStartMs !== null) event.next_restart_at = iso(nextStartMs);
    this.#deps.log(
      `service "${this.name}": ${from} -> ${to}${reason ? ` (${reason})` : ""}`,
    );
    this.#deps.events.emit(event);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const settled = await Promise.race([
    promise.then(() => true, () => true),
    delay(ms, timer.signal).then(() => false),
  ]);
  timer.abort();
  return settled;
}

/** A clear message for a failed spawn. */
function spawnErrorMessage(spec: ServiceSpec, err: unknown): string {
  const prefix = `Cannot start service "${spec.name}"`;
  const text = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.NotFound) {
    if (/cwd/i.test(text)) {
      return `${prefix}: working directory "${spec.working_dir}" does not exist`;
    }
    return `${prefix}: command "${spec.cmd}" not found`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `${prefix}: permission denied running "${spec.cmd}" (${text})`;
  }
  return `${prefix}: ${text}`;
}
