/**
 * Dependencies between services at run time: which conditions hold, the
 * gate that starts each `autostart` service once its dependencies allow
 * (independent services at once, in parallel), `restart_with`, and the
 * stop order (dependents before their dependencies).
 *
 * @module
 */
import type { EventBus } from "../events.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import type { ServiceState, ServiceStatus, SupervisorEvent } from "../types.ts";

/** What a dependent waits for. */
export type DependencyCondition = "started" | "healthy" | "completed_successfully";

/** One dependency, normalized. */
export interface Dependency {
  /** Name of the service depended on. */
  service: string;
  /** What to wait for. */
  condition: DependencyCondition;
}

/** The dependencies of `spec`, with the default condition `started` applied. */
export function dependenciesOf(spec: Pick<ServiceSpec, "depends_on">): Dependency[] {
  return (spec.depends_on ?? []).map((d) =>
    typeof d === "string" ? { service: d, condition: "started" } : d
  );
}

/** What a condition needs to know of the service depended on. */
export type DependencyView = Pick<ServiceStatus, "status" | "last_exit" | "next_restart_at"> & {
  /** Whether its last run (of a job) ended with exit code 0. */
  completed?: boolean;
};

/**
 * Whether `condition` holds: `started` while it has a process (`starting`,
 * `running`); `healthy` once `running` (a readiness check gates that);
 * `completed_successfully` once it ended with exit code 0.
 */
export function conditionMet(condition: DependencyCondition, dep: DependencyView): boolean {
  switch (condition) {
    case "started":
      return dep.status === "starting" || dep.status === "running";
    case "healthy":
      return dep.status === "running";
    case "completed_successfully":
      return dep.completed ??
        (dep.status === "exited" && dep.last_exit?.code === 0);
  }
}

/** Why a dependent still waits: the first dependency not satisfied, with its state. */
export function waitingReason(
  deps: readonly Dependency[],
  view: (name: string) => DependencyView | undefined,
): string | null {
  for (const dep of deps) {
    const status = view(dep.service);
    if (!status || conditionMet(dep.condition, status)) continue;
    let state = `${dep.service} is ${status.status}`;
    if (status.status === "cooldown" || status.status === "backoff") {
      state = `${dep.service} is in ${status.status}` +
        (status.next_restart_at ? ` until ${status.next_restart_at}` : "");
    }
    return `waiting for ${dep.service} (${dep.condition}): ${state}`;
  }
  return null;
}

/** What the gate needs from a service. */
export interface GateTarget {
  /** Service name. */
  readonly name: string;
  /** Its definition. */
  readonly spec: ServiceSpec;
  /** Lifecycle state. */
  readonly state: ServiceState;
  /** Stopped by an operator before an unclean restart: not autostarted. */
  readonly held?: boolean;
  /** Its status. */
  status(): ServiceStatus;
  /** Start unless live; a spawn failure leaves it `failed`. */
  autostart(): void;
  /** Stop it (resolves once its process group is gone). */
  stop(): Promise<void>;
  /** Say why it waits (only while it has no process). */
  setWaiting(reason: string | null): void;
  /** For jobs: whether the last run ended with exit code 0; undefined for services. */
  readonly completed?: boolean;
}

/** Options of a {@linkcode DependencyGate}. */
export interface GateOptions {
  /** The services, read at each decision (the set may change). */
  services: () => ReadonlyMap<string, GateTarget>;
  /** Where transitions arrive. */
  events: EventBus<SupervisorEvent>;
  /** One line of the orchestrator's log. */
  log: (line: string) => void;
}

/** States in which a service has a process. */
const LIVE: ReadonlySet<ServiceState> = new Set(["starting", "running"]);

/** Starts services in dependency order and restarts `restart_with` dependents. */
export class DependencyGate {
  #options: GateOptions;
  #pending = new Set<string>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  /** Create an idle gate. */
  constructor(options: GateOptions) {
    this.#options = options;
  }

  /** Names still waiting for their dependencies. */
  get pending(): ReadonlySet<string> {
    return this.#pending;
  }

  /** Start every `autostart` service now or as soon as its dependencies allow. */
  boot(): void {
    this.#unsubscribe ??= this.#options.events.subscribe((event) => this.#onEvent(event));
    for (const target of this.#options.services().values()) {
      if (target.spec.autostart && !target.held) this.#pending.add(target.name);
    }
    this.#evaluate();
  }

  /** Start `names` now or as soon as their dependencies allow (services added or changed at run time). */
  admit(names: Iterable<string>): void {
    for (const name of names) this.#pending.add(name);
    this.#evaluate();
  }

  /** Start nothing more. */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#unsubscribe?.();
  }

  #onEvent(event: SupervisorEvent): void {
    if (this.#closed || event.type !== "state") return;
    if (event.to === "starting") this.#restartWith(event.service);
    this.#evaluate();
  }

  /** A new run of `name` began: restart the live dependents that asked for it. */
  #restartWith(name: string): void {
    for (const target of this.#options.services().values()) {
      if (!(target.spec.restart_with ?? []).includes(name) || !LIVE.has(target.state)) continue;
      this.#options.log(`service "${target.name}": restarting with "${name}"`);
      this.#pending.add(target.name);
      target.stop().then(
        () => this.#evaluate(),
        (err) => this.#options.log(`service "${target.name}": ${(err as Error).message}`),
      );
    }
  }

  #evaluate(): void {
    if (this.#closed) return;
    const services = this.#options.services();
    const view = (name: string): DependencyView | undefined => {
      const t = services.get(name);
      return t ? { ...t.status(), completed: t.completed } : undefined;
    };
    for (const name of [...this.#pending]) {
      const target = services.get(name);
      if (!target) {
        this.#pending.delete(name);
        continue;
      }
      if (LIVE.has(target.state) || target.state === "stopping") continue;
      const reason = waitingReason(dependenciesOf(target.spec), view);
      if (reason === null) {
        this.#pending.delete(name);
        target.setWaiting(null);
        target.autostart();
      } else target.setWaiting(reason);
    }
  }
}

/**
 * Close every service, each only after every service that depends on it
 * has closed; services independent of each other close in parallel.
 */
export async function closeInOrder(
  services: ReadonlyMap<string, { spec: ServiceSpec; close(): Promise<void> }>,
): Promise<void> {
  const dependents = new Map<string, string[]>();
  for (const [name, s] of services) {
    for (const dep of dependenciesOf(s.spec)) {
      if (dep.service === name) continue;
      dependents.set(dep.service, [...(dependents.get(dep.service) ?? []), name]);
    }
  }
  const closing = new Map<string, Promise<void>>();
  const visiting = new Set<string>();
  const closeOf = (name: string): Promise<void> => {
    const known = closing.get(name);
    if (known) return known;
    if (visiting.has(name)) return Promise.resolve(); // a cycle: never in a valid registry
    visiting.add(name);
    const first = (dependents.get(name) ?? []).map(closeOf);
    const promise = Promise.all(first).then(() => services.get(name)?.close());
    closing.set(name, promise);
    return promise;
  };
  // Independent services begin in reverse registry order, as without dependencies.
  await Promise.all([...services.keys()].reverse().map(closeOf));
}
