/**
 * An in-memory `ServiceControl` for tests of the API and the CLI: no
 * processes, every call recorded, errors injectable.
 *
 * @module
 */
import { BadRequestError, ConflictError, NotFoundError } from "../errors.ts";
import type { SupervisorEvent } from "../types.ts";
import { EventBus } from "../events.ts";
import {
  type FollowOptions,
  type HealthInfo,
  type LogLines,
  type LogStream,
  type LogTail,
  type OrchestratorInfo,
  type RegistryDiff,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceState,
  type ServiceStatus,
  type StopOptions,
  type Watch,
} from "../types.ts";

/** One recorded call: method name and arguments. */
export interface FakeCall {
  method: keyof FakeControl & string;
  args: unknown[];
}

/** A status with every field filled in; `overrides` replace any of them. */
export function fakeStatus(name: string, overrides: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    name,
    display_name: name,
    description: null,
    type: null,
    status: "stopped",
    pid: null,
    started_at: null,
    uptime: 0,
    restarts: 0,
    crash_count: 0,
    last_exit: null,
    last_restart: null,
    next_restart_at: null,
    reason: null,
    autostart: true,
    restart_policy: "on-failure",
    port: null,
    health_check: null,
    health: { healthy: null, message: "no check" },
    cpu_percent: null,
    memory_rss_bytes: null,
    threads: null,
    cpu_seconds: 0,
    kind: "service",
    ...overrides,
  };
}

/**
 * A fake supervisor. `start` of a running service and `stop` of a stopped one
 * throw `ConflictError`; `failWith` makes the next call throw a given error.
 */
export class FakeControl implements ServiceControl {
  /** Every call, in order. */
  readonly calls: FakeCall[] = [];
  /** Log lines per service and stream. */
  readonly logLines: Map<string, { stdout: string[]; stderr: string[] }> = new Map();
  #services: Map<string, ServiceStatus>;
  #nextPid = 1000;
  #failure: unknown = undefined;
  /** Events of `watch`: `start`, `stop` and `restart` emit one `state` event each. */
  readonly events: EventBus<SupervisorEvent> = new EventBus();
  #appended = new EventBus<{ name: string } & LogLines>();

  /** Create the fake with these services (in registry order). */
  constructor(services: ServiceStatus[]) {
    this.#services = new Map(services.map((s) => [s.name, { ...s }]));
  }

  /** Make the next call throw `error`. */
  failWith(error: unknown): void {
    this.#failure = error;
  }

  /** Status of every service. */
  list(): ServiceStatus[] {
    this.#record("list", []);
    return [...this.#services.values()].map((s) => ({ ...s }));
  }

  /** Status of one service. */
  status(name: string): ServiceStatus {
    this.#record("status", [name]);
    return { ...this.#get(name) };
  }

  /** Mark a service running with a new pid. */
  start(name: string): Promise<ServiceStatus> {
    return settle(() => {
      this.#record("start", [name]);
      const service = this.#get(name);
      if (service.status === "running") {
        throw new ConflictError(
          `Cannot start service ${JSON.stringify(name)}: it is already running`,
        );
      }
      const from = service.status;
      Object.assign(service, { status: "running", pid: this.#nextPid++, uptime: 0 });
      this.#emit(service, from);
      return { ...service };
    });
  }

  /** Mark a service stopped. */
  stop(name: string, options?: StopOptions): Promise<ServiceStatus> {
    return settle(() => {
      this.#record("stop", [name, options]);
      const service = this.#get(name);
      if (service.status === "stopped") {
        throw new ConflictError(`Cannot stop service ${JSON.stringify(name)}: it is not running`);
      }
      const from = service.status;
      Object.assign(service, { status: "stopped", pid: null, uptime: 0 });
      this.#emit(service, from);
      return { ...service };
    });
  }

  /** Mark a service running with a new pid and one more restart. */
  restart(name: string): Promise<ServiceStatus> {
    return settle(() => {
      this.#record("restart", [name]);
      const service = this.#get(name);
      Object.assign(service, {
        status: "running",
        pid: this.#nextPid++,
        restarts: service.restarts + 1,
      });
      this.#emit(service, "stopped");
      return { ...service };
    });
  }

  /** The last `lines` lines of `logLines`. */
  logs(name: string, lines: number, stream: LogStream): Promise<LogTail> {
    return settle(() => {
      this.#record("logs", [name, lines, stream]);
      this.#get(name);
      const all = this.logLines.get(name) ?? { stdout: [], stderr: [] };
      const tail = (l: string[]) => (lines === 0 ? [] : l.slice(-lines));
      const result: LogTail = { name };
      if (stream !== "stderr") result.stdout = tail(all.stdout);
      if (stream !== "stdout") result.stderr = tail(all.stderr);
      return result;
    });
  }

  /** Health of one service. */
  health(name: string): HealthInfo {
    this.#record("health", [name]);
    return { ...this.#get(name).health };
  }

  /** Counts by state. */
  info(): OrchestratorInfo {
    this.#record("info", []);
    const services = Object.fromEntries(
      [...SERVICE_STATES, "total"].map((s) => [s, 0]),
    ) as Record<ServiceState | "total", number>;
    for (const s of this.#services.values()) {
      services[s.status]++;
      services.total++;
    }
    return { version: "0.0.0-fake", uptime: 42, pid: 4242, services };
  }

  /** Subscriptions made by `watch` so far (the app makes one for its metrics; not in `calls`). */
  watchCount = 0;

  /** Snapshot, then the events of `events`. */
  watch(listener: (event: SupervisorEvent) => void): Watch {
    this.watchCount++;
    return this.events.subscribeWithSnapshot(
      () => [...this.#services.values()].map((s) => ({ ...s })),
      listener,
    );
  }

  /** Add lines to `logLines` and hand them to every follower of that service. */
  appendLog(name: string, stream: "stdout" | "stderr", lines: string[]): void {
    const all = this.logLines.get(name) ?? { stdout: [], stderr: [] };
    all[stream].push(...lines);
    this.logLines.set(name, all);
    this.#appended.emit({ name, stream, lines });
  }

  /** The last lines of `logLines`, then what `appendLog` adds, until the signal is aborted. */
  followLogs(name: string, options: FollowOptions): AsyncIterable<LogLines> {
    this.#record("followLogs", [name, options.lines, options.stream]);
    this.#get(name);
    const all = this.logLines.get(name) ?? { stdout: [], stderr: [] };
    const streams = options.stream === "both" ? ["stdout", "stderr"] as const : [options.stream];
    const queue: LogLines[] = streams.map((stream) => ({
      stream,
      lines: options.lines === 0 ? [] : all[stream].slice(-options.lines),
    }));
    let wake = () => {};
    const unsubscribe = this.#appended.subscribe((added) => {
      if (added.name !== name || !streams.some((s) => s === added.stream)) return;
      queue.push({ stream: added.stream, lines: added.lines });
      wake();
    });
    const { signal } = options;
    signal.addEventListener("abort", () => wake(), { once: true });
    return (async function* () {
      try {
        while (!signal.aborted) {
          const next = queue.shift();
          if (next) yield next;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        unsubscribe();
      }
    })();
  }

  #emit(service: ServiceStatus, from: ServiceState): void {
    this.events.emit({
      type: "state",
      service: service.name,
      from,
      to: service.status,
      reason: null,
      at: new Date().toISOString(),
      pid: service.pid,
    });
  }

  /** What the next `reload` resolves to; by default every service untouched. */
  reloadResult: RegistryDiff | undefined = undefined;

  /** Record the call and resolve to `reloadResult`. */
  reload(): Promise<RegistryDiff> {
    return settle(() => {
      this.#record("reload", []);
      return this.reloadResult ??
        { added: [], removed: [], changed: [], untouched: [...this.#services.keys()] };
    });
  }

  /** Add a stopped service named by `definition.name`. */
  addService(definition: unknown): Promise<ServiceStatus> {
    return settle(() => {
      this.#record("addService", [definition]);
      const name = (definition as { name?: unknown } | null)?.name;
      if (typeof name !== "string") throw new BadRequestError("Invalid service definition");
      if (this.#services.has(name)) {
        throw new ConflictError(`Cannot add service ${JSON.stringify(name)}: it already exists`);
      }
      const status = fakeStatus(name);
      this.#services.set(name, status);
      return { ...status };
    });
  }

  /** Replace a service: its status is kept. */
  replaceService(name: string, definition: unknown): Promise<ServiceStatus> {
    return settle(() => {
      this.#record("replaceService", [name, definition]);
      return { ...this.#get(name) };
    });
  }

  /** Drop a service. */
  removeService(name: string): Promise<void> {
    return settle(() => {
      this.#record("removeService", [name]);
      this.#get(name);
      this.#services.delete(name);
    });
  }

  #record(method: FakeCall["method"], args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.#failure !== undefined) {
      const failure = this.#failure;
      this.#failure = undefined;
      throw failure;
    }
  }

  #get(name: string): ServiceStatus {
    const service = this.#services.get(name);
    if (service === undefined) {
      throw new NotFoundError(`Unknown service ${JSON.stringify(name)}`);
    }
    return service;
  }
}

/** Run `fn` and turn its result or its exception into a promise, like an async method. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}
