/**
 * An in-memory `ServiceControl` for tests of the API and the CLI: no
 * processes, every call recorded, errors injectable.
 *
 * @module
 */
import { ConflictError, NotFoundError } from "../errors.ts";
import {
  type HealthInfo,
  type LogStream,
  type LogTail,
  type OrchestratorInfo,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceState,
  type ServiceStatus,
  type StopOptions,
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
      Object.assign(service, { status: "running", pid: this.#nextPid++, uptime: 0 });
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
      Object.assign(service, { status: "stopped", pid: null, uptime: 0 });
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
