/**
 * The supervisor: every service of a registry, behind the narrow
 * {@linkcode ServiceControl} interface the API and the CLI use.
 *
 * @module
 */
import { ConflictError, NotFoundError } from "../errors.ts";
import { EventBus, type SupervisorEvent } from "../events.ts";
import { followLogFiles } from "../logs/follow.ts";
import { logPath } from "../logs/paths.ts";
import { loadRegistry, type Registry } from "../registry/load.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import {
  type FollowOptions,
  type HealthInfo,
  type HealthOptions,
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
import { VERSION } from "../version.ts";
import { ServiceMemory } from "./memory.ts";
import { leftoverPids, PidStore } from "./pid_store.ts";
import { delay } from "./process.ts";
import { changeService, isActive, type ServiceEditor } from "./reconfigure.ts";
import { describeDiff, diffRegistries } from "./reload.ts";
import { closeInOrder, DependencyGate } from "./deps.ts";
import { MetricsSampler } from "./metrics.ts";
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
  /** Called when a service with `on_exit: "shutdown_everything"` ended for good. */
  onShutdownEverything?: (service: string, reason: string) => void;
}

/** Supervises every service of a registry. */
export class Supervisor implements ServiceControl {
  #services = new Map<string, Service>();
  #events = new EventBus<SupervisorEvent>();
  #pids: PidStore;
  #log: (line: string) => void;
  #startedAtMs = Date.now();
  #closing: Promise<void> | undefined;
  #metrics: MetricsSampler;
  #gate: DependencyGate;
  #logDir: string;
  #options: SupervisorOptions;
  #registry: Registry;
  #changes: Promise<unknown> = Promise.resolve();
  #memory: ServiceMemory;

  /** Create the services of `registry`, all stopped. Nothing is spawned yet. */
  constructor(registry: Registry, options: SupervisorOptions) {
    this.#pids = new PidStore(options.stateDir);
    this.#logDir = options.logDir;
    this.#log = options.log ?? ((line) => console.error(`edgevisor: ${line}`));
    this.#options = options;
    this.#registry = registry;
    this.#metrics = new MetricsSampler({
      intervalMs: (registry.metricsInterval ?? 2) * 1000,
      targets: () => this.#services.values(),
    });
    this.#gate = new DependencyGate({
      services: () => this.#services,
      events: this.#events,
      log: this.#log,
    });
    for (const spec of registry.services) this.#services.set(spec.name, this.#create(spec));
    this.#memory = new ServiceMemory(
      options.stateDir,
      () => Object.fromEntries([...this.#services].map(([name, s]) => [name, s.remembered()])),
      { onError: (err) => this.#log(`cannot remember service state: ${err.message}`) },
    );
  }

  /** A new, stopped service for `spec`. */
  #create(spec: ServiceSpec): Service {
    return new Service(spec, {
      logDir: this.#options.logDir,
      events: this.#events,
      pids: this.#pids,
      log: this.#log,
      random: this.#options.random,
      healthChecks: this.#registry.healthChecks,
      onShutdownEverything: this.#options.onShutdownEverything,
    });
  }

  /** The event bus every transition is published on. */
  get events(): EventBus<SupervisorEvent> {
    return this.#events;
  }

  /**
   * Create the directories, end process groups left behind by an orchestrator
   * that was killed, then start every `autostart` service, each as soon as its
   * `depends_on` conditions hold (services without dependencies at once).
   */
  async boot(): Promise<void> {
    await Deno.mkdir(this.#pids.dir, { recursive: true });
    await this.reapLeftovers();
    this.#recall();
    this.#events.subscribe(() => this.#memory.schedule());
    this.#gate.boot();
    for (const service of this.#services.values()) service.startSchedule();
    this.#metrics.start();
  }

  /** After an unclean end of the previous orchestrator: its counters and the operator's stops. */
  #recall(): void {
    const memory = this.#memory.load();
    if (!memory) return;
    const held: string[] = [];
    for (const [name, remembered] of Object.entries(memory)) {
      const service = this.#services.get(name);
      if (!service || typeof remembered !== "object" || remembered === null) continue;
      service.recall(remembered);
      if (service.held) held.push(name);
    }
    this.#log(
      `restored counters of the previous run, which did not end cleanly${
        held.length ? `; kept stopped by request: ${held.join(", ")}` : ""
      }`,
    );
  }

  /** Sample CPU and memory of every service now (they are also sampled every `metrics_interval`). */
  sampleMetrics(): void {
    this.#metrics.sample();
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
  async run(name: string): Promise<{ run_id: number; status: ServiceStatus }> {
    const service = this.#get(name);
    const runId = await service.runJob();
    return { run_id: runId, status: service.status() };
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
  health(name: string, options: HealthOptions = {}): Promise<HealthInfo> {
    return this.#get(name).health(options.now ?? false);
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
      cpu_percent: this.#metrics.self.cpuPercent,
      memory_rss_bytes: this.#metrics.self.rssBytes,
      cpu_seconds: this.#metrics.self.cpuSeconds,
      events: this.#events.count,
    };
  }

  /** @inheritdoc */
  watch(listener: (event: SupervisorEvent) => void): Watch {
    return this.#events.subscribeWithSnapshot(() => this.list(), listener);
  }

  /** @inheritdoc */
  followLogs(name: string, options: FollowOptions): AsyncIterable<LogLines> {
    const service = this.#get(name);
    const streams = options.stream === "both" ? ["stdout", "stderr"] as const : [options.stream];
    const files = streams.map((label) => ({ label, path: logPath(this.#logDir, name, label) }));
    const follow = followLogFiles(files, { ...options, keep: service.spec.log.keep });
    return (async function* () {
      for await (const { label, lines } of follow) yield { stream: label, lines };
    })();
  }

  /**
   * Stop every service, each after the services that depend on it (the others
   * in parallel), each within its `stop_timeout`; no timer starts anything
   * afterwards. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#metrics.stop();
    this.#gate.close();
    this.#closing ??= closeInOrder(this.#services).then(() => this.#memory.clear());
    return this.#closing;
  }

  /** SIGKILL every live process group at once. */
  kill(): void {
    for (const service of this.#services.values()) service.kill();
  }

  /** The registry the services run with: the one loaded, updated by every change since. */
  get registry(): Registry {
    return this.#registry;
  }

  /** @inheritdoc */
  reload(): Promise<RegistryDiff> {
    return this.#change(async () => this.#apply(await loadRegistry(this.#file("reload"))));
  }

  /** @inheritdoc */
  addService(definition: unknown): Promise<ServiceStatus> {
    return this.#change(() => changeService(this.#editor(), { kind: "add", service: definition }));
  }

  /** @inheritdoc */
  replaceService(name: string, definition: unknown): Promise<ServiceStatus> {
    return this.#change(() =>
      changeService(this.#editor(), { kind: "replace", name, service: definition })
    );
  }

  /** @inheritdoc */
  async removeService(name: string): Promise<void> {
    await this.#change(() => changeService(this.#editor(), { kind: "remove", name }));
  }

  /**
   * Make the running services match `next`: stop and drop removed ones, stop
   * changed ones and start them again with the new definition (when
   * `autostart`, or when they were live), create added ones (started when
   * `autostart`), and leave untouched ones running as they are.
   */
  applyRegistry(next: Registry): Promise<RegistryDiff> {
    return this.#change(() => this.#apply(next));
  }

  async #apply(next: Registry): Promise<RegistryDiff> {
    if (this.#closing) throw new ConflictError("Cannot change services: edgevisor is stopping");
    const diff = diffRegistries(this.#registry, next);
    const wasLive = new Set(
      diff.changed.filter((n) => isActive(this.#services.get(n)?.state ?? "stopped")),
    );
    await Promise.all(
      [...diff.removed, ...diff.changed].map((n) => this.#services.get(n)?.close()),
    );
    if (this.#closing) throw new ConflictError("Cannot change services: edgevisor is stopping");
    const old = this.#services;
    this.#registry = next; // before #create: new services see the new health_checks
    this.#services = new Map();
    for (const spec of next.services) {
      const kept = diff.untouched.includes(spec.name) ? old.get(spec.name) : undefined;
      this.#services.set(spec.name, kept ?? this.#create(spec));
    }
    for (const name of [...diff.added, ...diff.changed]) {
      this.#services.get(name)?.startSchedule();
    }
    this.#gate.admit(
      [...diff.added, ...diff.changed].filter((name) =>
        this.#services.get(name)?.spec.autostart || wasLive.has(name)
      ),
    );
    this.#log(`registry: ${describeDiff(diff)}`);
    return diff;
  }

  #editor(): ServiceEditor {
    return {
      file: this.#file("change services"),
      registry: () => this.#registry,
      has: (name) => this.#services.has(name),
      apply: (next) => this.#apply(next),
      status: (name) => this.#get(name).status(),
    };
  }

  #file(action: string): string {
    const source = this.#registry.source;
    if (source === "<inline>") {
      throw new ConflictError(`Cannot ${action}: the registry was not loaded from a file`);
    }
    return source;
  }

  /** Run registry changes one at a time. */
  #change<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#changes.then(fn, fn);
    this.#changes = run.catch(() => {});
    return run;
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
