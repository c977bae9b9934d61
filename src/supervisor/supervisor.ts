/**
 * The supervisor: every service of a registry, behind the narrow
 * {@linkcode ServiceControl} interface the API and the CLI use.
 *
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { EventBus, type SupervisorEvent } from "../events.ts";
import type { Registry } from "../registry/load.ts";
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
import { VERSION } from "../version.ts";
import { leftoverPids, PidStore } from "./pid_store.ts";
import { delay, readProcStat } from "./process.ts";
import { Service } from "./service.ts";

/** Options of a {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Directory of the service log files. */
  logDir: string;
  /** Directory where pids are remembered across orchestrator restarts. */
  stateDir: string;
  /** One line of the orchestrator's own log. @default a line on stderr */
  log?: (line: string) => void;
  /** Source of backoff jitter. @default Math.random */
  random?: () => number;
}

/** Supervises every service of a registry. */
export class Supervisor implements ServiceControl {
  #services = new Map<string, Service>();
  #events = new EventBus<SupervisorEvent>();
  #pids: PidStore;
  #log: (line: string) => void;
  #startedAtMs = Date.now();
  #closing: Promise<void> | undefined;

  /** Create the services of `registry`, all stopped. Nothing is spawned yet. */
  constructor(registry: Registry, options: SupervisorOptions) {
    this.#pids = new PidStore(options.stateDir);
    this.#log = options.log ?? ((line) => console.error(`edgevisor: ${line}`));
    for (const spec of registry.services) {
      this.#services.set(
        spec.name,
        new Service(spec, {
          logDir: options.logDir,
          events: this.#events,
          pids: this.#pids,
          log: this.#log,
          random: options.random,
        }),
      );
    }
  }

  /** The event bus every transition is published on. */
  get events(): EventBus<SupervisorEvent> {
    return this.#events;
  }

  /**
   * Create the directories, end process groups left behind by an orchestrator
   * that was killed, then start every `autostart` service in registry order.
   */
  async boot(): Promise<void> {
    await Deno.mkdir(this.#pids.dir, { recursive: true });
    await this.reapLeftovers();
    for (const service of this.#services.values()) {
      if (service.spec.autostart) service.autostart();
    }
  }

  /**
   * End the process groups remembered in the state directory: the stop
   * signal, then SIGKILL after the service's `stop_timeout` (10 s for a
   * service no longer in the registry). Returns how many processes were found.
   */
  async reapLeftovers(): Promise<number> {
    let found = 0;
    const waits: Promise<void>[] = [];
    for (const record of this.#pids.records()) {
      const pids = leftoverPids(record);
      if (pids.length > 0) {
        found += pids.length;
        const spec = this.#services.get(record.name)?.spec;
        const signal = spec?.stop_signal ?? "SIGTERM";
        const timeoutMs = (spec?.stop_timeout ?? 10) * 1000;
        this.#log(
          `service "${record.name}": ending ${pids.length} process(es) left by a previous run (group ${record.pid})`,
        );
        for (const pid of pids) trySignal(pid, signal);
        waits.push(
          (async () => {
            const deadline = Date.now() + timeoutMs;
            while (Date.now() < deadline && leftoverPids(record).length > 0) await delay(20);
            for (const pid of leftoverPids(record)) trySignal(pid, "SIGKILL");
            const killDeadline = Date.now() + 2000;
            while (Date.now() < killDeadline && leftoverPids(record).length > 0) await delay(20);
          })(),
        );
      }
      this.#pids.remove(record.name);
    }
    await Promise.all(waits);
    return found;
  }

  /** @inheritdoc */
  list(): ServiceStatus[] {
    const now = Date.now();
    return [...this.#services.values()].map((s) => s.status(now));
  }

  /** @inheritdoc */
  status(name: string): ServiceStatus {
    return this.#get(name).status();
  }

  /** @inheritdoc */
  async start(name: string): Promise<ServiceStatus> {
    const service = this.#get(name);
    await service.start();
    return service.status();
  }

  /** @inheritdoc */
  async stop(name: string, options: StopOptions = {}): Promise<ServiceStatus> {
    const service = this.#get(name);
    await service.stop(options.force ?? false);
    return service.status();
  }

  /** @inheritdoc */
  async restart(name: string): Promise<ServiceStatus> {
    const service = this.#get(name);
    await service.restart();
    return service.status();
  }

  /** @inheritdoc */
  logs(name: string, lines: number, stream: LogStream): Promise<LogTail> {
    return this.#get(name).logs(lines, stream);
  }

  /** @inheritdoc */
  health(name: string): HealthInfo {
    return this.#get(name).status().health;
  }

  /** @inheritdoc */
  info(): OrchestratorInfo {
    const counts = Object.fromEntries(SERVICE_STATES.map((s) => [s, 0])) as Record<
      ServiceState | "total",
      number
    >;
    counts.total = this.#services.size;
    for (const service of this.#services.values()) counts[service.state]++;
    return {
      version: VERSION,
      uptime: (Date.now() - this.#startedAtMs) / 1000,
      pid: Deno.pid,
      services: counts,
    };
  }

  /**
   * Stop every service, in reverse registry order, each within its
   * `stop_timeout`; no timer starts anything afterwards. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#closing ??= (async () => {
      const services = [...this.#services.values()].reverse();
      await Promise.all(services.map((s) => s.close()));
    })();
    return this.#closing;
  }

  /** SIGKILL every live process group at once. */
  kill(): void {
    for (const service of this.#services.values()) service.kill();
  }

  #get(name: string): Service {
    const service = this.#services.get(name);
    if (!service) throw new NotFoundError(`Unknown service "${name}"`);
    return service;
  }
}

function trySignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** Whether the process `pid` still exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== "Z";
}
