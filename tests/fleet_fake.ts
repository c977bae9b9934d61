/**
 * A stand-in for the supervisor under a fleet `ConfigFollower`: it applies
 * a registry at once (no process), every service `running` unless a test
 * says otherwise, and emits the events a test asks for.
 *
 * @module
 */
import { fakeStatus } from "../src/api/fake_control.ts";
import { EventBus } from "../src/events.ts";
import type { SupervisorEvent } from "../src/types.ts";
import type { ConfigTarget } from "../src/nats/fleet_config.ts";
import type { Registry } from "../src/registry/load.ts";
import { diffRegistries } from "../src/supervisor/reload.ts";
import type { RegistryDiff, ServiceState, ServiceStatus } from "../src/types.ts";

/** A supervisor that applies registries instantly. */
export class FakeConfigTarget implements ConfigTarget {
  readonly events: EventBus<SupervisorEvent> = new EventBus();
  /** Every registry applied, in order. */
  readonly applied: Registry[] = [];
  #registry: Registry;
  #states = new Map<string, { status: ServiceState; reason: string | null }>();

  /** Start with `registry`. */
  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** The registry it runs. */
  get registry(): Registry {
    return this.#registry;
  }

  /** Apply `next`: its services are `running`. */
  applyRegistry(next: Registry): Promise<RegistryDiff> {
    const diff = diffRegistries(this.#registry, next);
    this.#registry = next;
    this.applied.push(next);
    for (const name of [...diff.added, ...diff.changed]) this.#states.delete(name);
    return Promise.resolve(diff);
  }

  /** Every service, `running` unless {@linkcode FakeConfigTarget.set} said otherwise. */
  list(): ServiceStatus[] {
    return this.#registry.services.map((s) =>
      fakeStatus(s.name, this.#states.get(s.name) ?? { status: "running" })
    );
  }

  /** Put `service` in `state`, with its event. */
  set(service: string, state: ServiceState, reason: string | null = null): void {
    const from = this.#states.get(service)?.status ?? "running";
    this.#states.set(service, { status: state, reason });
    this.events.emit({
      type: "state",
      service,
      from,
      to: state,
      reason,
      at: new Date().toISOString(),
      pid: null,
    });
  }
}
