/**
 * One supervised service: spawns its process in a group of its own, captures
 * its output, and drives the state machine on exits, stops and timers.
 *
 * @module
 */
import { ConflictError, SpawnError } from "../errors.ts";
import type { EventBus, SupervisorEvent } from "../events.ts";
import { pipeToLog } from "../logs/capture.ts";
import { LogFile } from "../logs/log_file.ts";
import { logPath } from "../logs/paths.ts";
import { tailLines } from "../logs/tail.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import type { ExitInfo, LogStream, LogTail, ServiceState, ServiceStatus } from "../types.ts";
import type { PidStore } from "./pid_store.ts";
import {
  decideAfterExit,
  describeExit,
  type ExitStatus,
  FRESH_HISTORY,
  isFailure,
  type RestartConfig,
  restartConfig,
  type RestartHistory,
} from "./policy.ts";
import { delay, groupAlive, readProcStat, signalGroup, waitGroupGone } from "./process.ts";
import { assertTransition, LIVE_STATES, WAITING_STATES } from "./state_machine.ts";

/** What a service needs from the supervisor. */
export interface ServiceDeps {
  /** Directory of the log files. */
  logDir: string;
  /** Where transitions are published. */
  events: EventBus<SupervisorEvent>;
  /** Where pids are remembered across orchestrator restarts. */
  pids: PidStore;
  /** One line of the orchestrator's own log. */
  log: (line: string) => void;
  /** Source of backoff jitter. @default Math.random */
  random?: () => number;
}

/** One process of the service, from spawn to the end of its exit handling. */
interface Run {
  child: Deno.ChildProcess;
  pid: number;
  startedAtMs: number;
  exited: boolean;
  stopRequested: boolean;
  forced: boolean;
  stopDeadlineMs: number;
  /** The process and its group are gone and the next state is taken. */
  done: Promise<void>;
  /** Both output pipes reached their end. */
  pipes: Promise<unknown>;
}

/** How long to wait for output pipes after an exit before moving on. */
const PIPE_DRAIN_MS = 1000;
/** How long to wait for a group to vanish after SIGKILL. */
const KILL_WAIT_MS = 2000;

/** One supervised service. */
export class Service {
  #spec: ServiceSpec;
  #config: RestartConfig;
  #deps: ServiceDeps;
  #state: ServiceState = "stopped";
  #run: Run | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #history: RestartHistory = FRESH_HISTORY;
  #restarts = 0;
  #crashCount = 0;
  #lastExit: ExitInfo | null = null;
  #lastRestartMs: number | null = null;
  #nextStartMs: number | null = null;
  #reason: string | null = null;
  #stdout: LogFile;
  #stderr: LogFile;
  #closed = false;

  /** Create a stopped service. */
  constructor(spec: ServiceSpec, deps: ServiceDeps) {
    this.#spec = spec;
    this.#config = restartConfig(spec);
    this.#deps = deps;
    const logOptions = {
      maxBytes: Math.max(1, Math.round(spec.log.max_size_mb * 1024 * 1024)),
      keep: spec.log.keep,
      onError: (err: Error) => deps.log(`service "${spec.name}": ${err.message}`),
    };
    this.#stdout = new LogFile(logPath(deps.logDir, spec.name, "stdout"), logOptions);
    this.#stderr = new LogFile(logPath(deps.logDir, spec.name, "stderr"), logOptions);
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
    return this.#state;
  }

  /** Pid of the current process, if any. */
  get pid(): number | null {
    return this.#run?.pid ?? null;
  }

  /** Status in the API's shape. */
  status(nowMs: number = Date.now()): ServiceStatus {
    const run = this.#run;
    const spec = this.#spec;
    return {
      name: spec.name,
      display_name: spec.display_name ?? spec.name,
      description: spec.description ?? null,
      type: spec.type ?? null,
      status: this.#state,
      pid: run?.pid ?? null,
      started_at: run ? iso(run.startedAtMs) : null,
      uptime: run ? Math.max(0, nowMs - run.startedAtMs) / 1000 : 0,
      restarts: this.#restarts,
      crash_count: this.#crashCount,
      last_exit: this.#lastExit,
      last_restart: this.#lastRestartMs === null ? null : iso(this.#lastRestartMs),
      next_restart_at: this.#nextStartMs === null ? null : iso(this.#nextStartMs),
      reason: this.#reason,
      autostart: spec.autostart,
      restart_policy: spec.restart_policy,
      port: spec.port ?? null,
      health_check: spec.health_check ?? null,
      health: { healthy: null, message: "no check" },
    };
  }

  /**
   * Start the service on request. Resolves once the process is spawned.
   * @throws {ConflictError} when it is already starting, running or stopping.
   * @throws {SpawnError} when the process cannot be spawned (the service is then `failed`).
   */
  start(): Promise<void> {
    this.#assertNotLive("start");
    this.#history = FRESH_HISTORY;
    this.#spawn("request");
    return Promise.resolve();
  }

  /** Start at boot: a spawn failure leaves the service `failed` (and logged) without throwing. */
  autostart(): void {
    if (!LIVE_STATES.has(this.#state)) this.#spawn("autostart");
  }

  /**
   * Stop the service on request: the stop signal to its process group, then
   * SIGKILL of the group after `stop_timeout` (at once with `force`).
   * Resolves once every process of the group is gone.
   * @throws {ConflictError} when it is not running.
   */
  async stop(force = false): Promise<void> {
    if (WAITING_STATES.has(this.#state)) {
      this.#clearTimer();
      this.#transition("stopped", "stopped by request");
      return;
    }
    const run = this.#run;
    if (!run || !LIVE_STATES.has(this.#state)) {
      throw new ConflictError(
        `Cannot stop service "${this.name}": it is not running (${this.#state})`,
      );
    }
    if (!run.stopRequested) {
      run.stopRequested = true;
      run.forced = force;
      run.stopDeadlineMs = Date.now() + this.#spec.stop_timeout * 1000;
      this.#clearTimer();
      this.#transition("stopping", force ? "stop requested (force)" : "stop requested");
      this.#signal(run, force ? "SIGKILL" : this.#spec.stop_signal);
    } else if (force && !run.forced) {
      run.forced = true;
      this.#signal(run, "SIGKILL");
    }
    if (!run.exited && !run.forced) {
      const abort = new AbortController();
      const timeout = delay(run.stopDeadlineMs - Date.now(), abort.signal).then(() => {
        if (!run.exited && !abort.signal.aborted) {
          this.#deps.log(
            `service "${this.name}": still running after stop_timeout ${this.#spec.stop_timeout}s; sending SIGKILL`,
          );
          this.#signal(run, "SIGKILL");
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
    if (this.#state === "starting" || this.#state === "running") await this.stop();
    else if (this.#state === "stopping" && this.#run) await this.#run.done;
    this.#assertNotLive("restart");
    this.#history = FRESH_HISTORY;
    this.#restarts++;
    this.#lastRestartMs = Date.now();
    this.#spawn("request");
  }

  /** SIGKILL the process group at once (second signal to the orchestrator). */
  kill(): void {
    this.#closed = true;
    this.#clearTimer();
    if (this.#run) this.#signal(this.#run, "SIGKILL");
  }

  /** Stop for good: no timer may start it again; live processes are stopped gracefully. */
  async close(): Promise<void> {
    this.#closed = true;
    if (LIVE_STATES.has(this.#state) || WAITING_STATES.has(this.#state)) await this.stop();
    await Promise.all([this.#stdout.close(), this.#stderr.close()]);
  }

  /** Last `lines` lines of the chosen stream(s). */
  async logs(lines: number, stream: LogStream): Promise<LogTail> {
    const keep = this.#spec.log.keep;
    const tail: LogTail = { name: this.name };
    if (stream !== "stderr") {
      tail.stdout = await tailLines(logPath(this.#deps.logDir, this.name, "stdout"), lines, {
        keep,
      });
    }
    if (stream !== "stdout") {
      tail.stderr = await tailLines(logPath(this.#deps.logDir, this.name, "stderr"), lines, {
        keep,
      });
    }
    return tail;
  }

  /** Spawn or record why not. `request`: by the user; `retry`: after backoff; `trial`: after cooldown. */
  #spawn(kind: "autostart" | "request" | "retry" | "trial"): void {
    this.#clearTimer();
    this.#nextStartMs = null;
    if (kind === "retry" || kind === "trial") {
      this.#restarts++;
      this.#lastRestartMs = Date.now();
    }
    if (kind === "trial") this.#history = { ...this.#history, trial: true };
    const spec = this.#spec;
    this.#transition("starting", kind === "trial" ? "trial start after cooldown" : null);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(spec.cmd, {
        args: spec.args,
        cwd: spec.working_dir,
        env: spec.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (err) {
      const message = spawnErrorMessage(spec, err);
      this.#transition("failed", message);
      if (kind === "request") throw new SpawnError(message, { cause: err });
      return;
    }
    const startedAtMs = Date.now();
    let resolveDone!: () => void;
    const run: Run = {
      child,
      pid: child.pid,
      startedAtMs,
      exited: false,
      stopRequested: false,
      forced: false,
      stopDeadlineMs: 0,
      done: new Promise((resolve) => (resolveDone = resolve)),
      pipes: Promise.all([
        pipeToLog(child.stdout, this.#stdout),
        pipeToLog(child.stderr, this.#stderr),
      ]),
    };
    this.#run = run;
    const procStat = readProcStat(run.pid);
    if (procStat) {
      const err = this.#deps.pids.save({
        name: spec.name,
        pid: run.pid,
        start_time: procStat.startTime,
        cmd: spec.cmd,
      });
      if (err) this.#deps.log(`service "${spec.name}": cannot remember pid: ${err.message}`);
    }
    this.#reason = null;
    child.status.then((status) => this.#onExit(run, status)).finally(resolveDone);
    if (spec.start_grace === 0) {
      this.#transition("running", null);
    } else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#run === run && this.#state === "starting") this.#transition("running", null);
      }, spec.start_grace * 1000);
    }
  }

  async #onExit(run: Run, status: Deno.CommandStatus): Promise<void> {
    run.exited = true;
    const endedAtMs = Date.now();
    const exit: ExitStatus = {
      code: status.signal ? null : status.code,
      signal: status.signal ?? null,
    };
    this.#lastExit = { ...exit, at: iso(endedAtMs) };
    if (this.#run === run) this.#clearTimer();
    // Leftovers of the group: given until the stop deadline on a requested
    // stop, killed at once after an unexpected exit.
    if (run.stopRequested && !run.forced) {
      if (!(await waitGroupGone(run.pid, run.stopDeadlineMs))) this.#signal(run, "SIGKILL");
    } else if (groupAlive(run.pid)) {
      this.#deps.log(`service "${this.name}": killing what is left of process group ${run.pid}`);
      this.#signal(run, "SIGKILL");
    }
    await waitGroupGone(run.pid, Date.now() + KILL_WAIT_MS);
    const drained = new AbortController();
    await Promise.race([run.pipes, delay(PIPE_DRAIN_MS, drained.signal)]);
    drained.abort();
    this.#deps.pids.remove(this.name);
    if (this.#run === run) this.#run = undefined;

    if (run.stopRequested) {
      this.#transition("stopped", `stopped by request (${describeExit(exit)})`, exit);
      return;
    }
    if (isFailure(exit)) this.#crashCount++;
    const { decision, history } = decideAfterExit({
      config: this.#config,
      history: this.#history,
      exit,
      startedAtMs: run.startedAtMs,
      nowMs: endedAtMs,
      random: this.#deps.random,
    });
    this.#history = history;
    if (this.#closed) {
      this.#transition("exited", describeExit(exit), exit);
      return;
    }
    switch (decision.action) {
      case "restart":
      case "cooldown": {
        const to = decision.action === "restart" ? "backoff" : "cooldown";
        this.#nextStartMs = Date.now() + decision.delayMs;
        this.#transition(to, decision.reason, exit);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (this.#state === to && !this.#closed) {
            this.#spawn(to === "backoff" ? "retry" : "trial");
          }
        }, decision.delayMs);
        break;
      }
      case "fail":
        this.#transition("failed", decision.reason, exit);
        break;
      case "exit":
        this.#transition("exited", decision.reason, exit);
        break;
    }
  }

  #assertNotLive(action: string): void {
    if (LIVE_STATES.has(this.#state)) {
      throw new ConflictError(
        `Cannot ${action} service "${this.name}": it is already ${this.#state}`,
      );
    }
  }

  #signal(run: Run, signal: Deno.Signal): void {
    signalGroup(run.pid, signal);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #transition(to: ServiceState, reason: string | null, exit?: ExitStatus): void {
    const from = this.#state;
    assertTransition(this.name, from, to);
    this.#state = to;
    this.#reason = reason;
    if (to !== "backoff" && to !== "cooldown") this.#nextStartMs = null;
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
    if (this.#nextStartMs !== null) event.next_restart_at = iso(this.#nextStartMs);
    this.#deps.log(
      `service "${this.name}": ${from} -> ${to}${reason ? ` (${reason})` : ""}`,
    );
    this.#deps.events.emit(event);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
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
