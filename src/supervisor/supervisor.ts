/**
 * The supervisor: every service of a registry, behind the narrow
 * {@linkcode ServiceControl} interface the API and the CLI use.
 *
 * @module
 */
import { ConflictError, NotFoundError } from "../errors.ts";
import type { SupervisorEvent } from "../types.ts";
import { EventBus } from "../events.ts";
import { followLogFiles } from "../logs/follow.ts";
import { logPath } from "../logs/paths.ts";
import { loadRegistry, type Registry } from "../registry/load.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import {
  type FollowOptions,
  type HealthInfo,
  type HealthOptions,
  type LogLines,
  type LogOptions,
  type LogStream,
  type LogTail,
  type OrchestratorInfo,
  type RegistryDiff,
  SERVICE_STATES,
  type ServiceControl,
  type ServiceHistory,
  type ServiceState,
  type ServiceStatus,
  type StopOptions,
  type Watch,
} from "../types.ts";
import { VERSION } from "../version.ts";
import { ServiceMemory } from "./memory.ts";
import { Containment, leftoversOf } from "./containment.ts";
import { PidStore } from "./pid_store.ts";
import { changeService, isActive, type ServiceEditor } from "./reconfigure.ts";
import { describeDiff, diffRegistries } from "./reload.ts";
import { closeInOrder, DependencyGate } from "./deps.ts";
import { History, type HistoryAction } from "./history.ts";
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
  /** Put each service in a cgroup v2 of its own when the system allows it. @default true */
  cgroup?: boolean;
  /**
   * Without cgroups, make this process a child subreaper, so that orphans of
   * services are found and reaped (process-wide and for good: for the
   * orchestrator, not for a library user's process). @default false
   */
  subreaper?: boolean;
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
  #containment: Containment | undefined;
  #history = new History();

  /** Log lines carry their arrival times: `logs` gives `merged` and honours `sinceMs`. */
  readonly logTimes = true;

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
      onSample: (name, metrics, atMs) => this.#history.sample(name, metrics, atMs),
    });
    this.#events.subscribe((event) => this.#history.observe(event));
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

  /** How services are held: opened at boot (or at the first start, if that comes first). */
  #contain(): Containment {
    if (!this.#containment) {
      this.#containment = Containment.open({
        cgroup: this.#options.cgroup,
        subreaper: this.#options.subreaper,
        log: this.#log,
      });
      this.#log(this.#containment.description);
    }
    return this.#containment;
  }

  /** A new, stopped service for `spec`. */
  #create(spec: ServiceSpec): Service {
    const contain = () => this.#contain();
    return new Service(spec, {
      logDir: this.#options.logDir,
      events: this.#events,
      pids: this.#pids,
      get containment() {
        return contain();
      },
      log: this.#log,
      random: this.#options.random,
      healthChecks: this.#registry.healthChecks,
      onShutdownEverything: this.#options.onShutdownEverything,
      history: this.#history,
    });
  }

  /** The event bus every transition is published on. */
  get events(): EventBus<SupervisorEvent> {
    return this.#events;
  }

  /**
   * Create the directories, choose how services are held (cgroups or not),
   * end what an orchestrator that was killed left behind, then start every
   * `autostart` service, each as soon as its `depends_on` conditions hold
   * (services without dependencies at once).
   */
  async boot(): Promise<void> {
    await Deno.mkdir(this.#pids.dir, { recursive: true });
    this.#contain();
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
   * End what the runs remembered in the state directory left (see
   * `leftoversOf`): the stop signal, then SIGKILL after the service's
   * `stop_timeout` (10 s for a service no longer in the registry).
   * Meanwhile, each of those services refuses to start (ConflictError), with
   * the reason in its status. Returns how many processes were found.
   */
  async reapLeftovers(): Promise<number> {
    const records = this.#pids.records();
    // Held before the first await: a start must not slip in while they are looked for.
    const checked = records.map(() => Promise.withResolvers<void>());
    for (const [i, record] of records.entries()) {
      this.#services.get(record.name)?.holdUntil(
        checked[i]!.promise,
        `its previous copy (pid ${record.pid}, left by an earlier run) is still being ended`,
      );
    }
    const leftovers = await leftoversOf(records);
    let found = 0;
    await Promise.all(records.map(async (record, i) => {
      const left = leftovers[i];
      try {
        if (!left) return;
        found += left.pids.length;
        const spec = this.#services.get(record.name)?.spec;
        this.#log(
          `service "${record.name}": ending ${left.pids.length} process(es) left by a previous run (pid ${record.pid}${
            record.cgroup ? `, cgroup "${record.cgroup}"` : ""
          })`,
        );
        await left.end(spec?.stop_signal ?? "SIGTERM", (spec?.stop_timeout ?? 10) * 1000);
      } finally {
        this.#pids.remove(record.name);
        checked[i]!.resolve();
      }
    }));
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
    const service = this.#requested(name, "start");
    await service.start();
    return service.status();
  }

  /** @inheritdoc */
  async stop(name: string, options: StopOptions = {}): Promise<ServiceStatus> {
    const service = this.#requested(name, options.force ? "kill" : "stop");
    await service.stop(options.force ?? false);
    return service.status();
  }

  /** @inheritdoc */
  async run(name: string): Promise<{ run_id: number; status: ServiceStatus }> {
    const service = this.#requested(name, "run");
    const runId = await service.runJob();
    return { run_id: runId, status: service.status() };
  }

  /** @inheritdoc */
  async restart(name: string): Promise<ServiceStatus> {
    const service = this.#requested(name, "restart");
    await service.restart();
    return service.status();
  }

  /** @inheritdoc */
  logs(name: string, lines: number, stream: LogStream, options?: LogOptions): Promise<LogTail> {
    return this.#get(name).logs(lines, stream, options);
  }

  /**
   * The last 100 events of a service and its CPU and memory over the last
   * hour, kept in memory since the orchestrator started.
   */
  history(name: string): ServiceHistory {
    this.#get(name);
    return this.#history.of(name);
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
    service.assertLogTimes(options.sinceMs);
    const streams = options.stream === "both" ? ["stdout", "stderr"] as const : [options.stream];
    const { keep, timestamps } = service.spec.log;
    const files = streams.map((stream) => ({
      stream,
      path: logPath(this.#logDir, name, stream),
      times: timestamps,
    }));
    return followLogFiles(files, { ...options, keep });
  }

  /**
   * Stop every service, each after the services that depend on it (the others
   * in parallel), each within its `stop_timeout`; no timer starts anything
   * afterwards. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#metrics.stop();
    this.#gate.close();
    this.#closing ??= closeInOrder(this.#services)
      .then(() => this.#containment?.close())
      .then(() => this.#memory.clear());
    return this.#closing;
  }

  /** SIGKILL every process of every service at once. */
  kill(): void {
    for (const service of this.#services.values()) {
      if (service.pid !== null) this.#history.action(service.name, "kill");
      service.kill();
    }
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
    for (const name of diff.removed) this.#history.forget(name);
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

  /** The service `name`, with the request of `action` recorded in its history. */
  #requested(name: string, action: HistoryAction): Service {
    const service = this.#get(name);
    this.#history.action(name, action);
    return service;
  }
}
