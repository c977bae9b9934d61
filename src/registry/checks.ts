/**
 * The health checks of a service by role: the one resolver of
 * `health_check`, `readiness` and `liveness` (names or inline checks) to
 * concrete checks, used by the health runner, the reload diff and the graph.
 *
 * OmegaOS registries name health checks as functions of the old
 * orchestrator (`"health_check": "movement_check"`), each of which checked
 * the service's port. A `health_check` naming no check in a registry whose
 * `health_checks` defines none becomes a `tcp` check of the service's
 * `port` on 127.0.0.1, with a warning ({@link omegaosWarnings}); without a
 * `port`, the service has no check, also with a warning.
 *
 * @module
 */
import type { RawProblem } from "./problems.ts";
import type { HealthCheckSpec, ServiceSpec } from "./schema.ts";

/** The checks of a service by role; the same object when one check plays both. */
export interface ResolvedChecks {
  /** Gates `starting → running`. */
  readiness?: HealthCheckSpec;
  /** Restarts the service after `failure_threshold` failures in a row. */
  liveness?: HealthCheckSpec;
}

/** The check fields of a service that {@link resolveChecks} reads. */
export type CheckFields = Pick<ServiceSpec, "health_check" | "readiness" | "liveness" | "port">;

/** Seconds between two checks of a `tcp` check made from `port`. */
export const IMPLIED_INTERVAL = 1;

/** The `tcp` check of a service's own port on 127.0.0.1, every {@link IMPLIED_INTERVAL} second. */
export function portCheck(port: number): HealthCheckSpec {
  return { type: "tcp", host: "127.0.0.1", port, interval: IMPLIED_INTERVAL };
}

/**
 * Which check plays which role: `readiness` and `liveness` when set, else
 * `health_check` for both; with none of the three, a {@link portCheck} on
 * `port` for both. Names refer to `named` (the registry's `health_checks`);
 * a `health_check` name not in `named` is the OmegaOS convention: a
 * {@link portCheck} when the service has a `port`, else no check.
 *
 * @example
 * ```ts
 * const named = { web: { type: "http" as const, port: 80 } };
 * resolveChecks({ health_check: "web", readiness: { type: "file", path: "/run/ready" } }, named);
 * // { readiness: { type: "file", path: "/run/ready" }, liveness: { type: "http", port: 80 } }
 * resolveChecks({ health_check: "movement_check", port: 8081 }, {});
 * // both roles: { type: "tcp", host: "127.0.0.1", port: 8081, interval: 1 }
 * ```
 */
export function resolveChecks(
  spec: CheckFields,
  named: Readonly<Record<string, HealthCheckSpec>>,
): ResolvedChecks {
  const lookup = (check: string | HealthCheckSpec | undefined) =>
    typeof check === "string" ? (Object.hasOwn(named, check) ? named[check] : undefined) : check;
  let both = lookup(spec.health_check);
  if (both === undefined && spec.port !== undefined) {
    const none = spec.health_check === undefined && spec.readiness === undefined &&
      spec.liveness === undefined;
    if (none || typeof spec.health_check === "string") both = portCheck(spec.port);
  }
  return { readiness: lookup(spec.readiness) ?? both, liveness: lookup(spec.liveness) ?? both };
}

/**
 * Whether a `health_check` name not found in `named` falls back to the
 * OmegaOS convention (true when `named` defines no check) rather than being
 * an error.
 */
export function usesOmegaosConvention(named: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(named).length === 0;
}

/**
 * One warning for each service whose `health_check` names a check that is
 * not defined (the OmegaOS convention), at `services[i].health_check`.
 */
export function omegaosWarnings(
  services: readonly CheckFields[],
  named: Readonly<Record<string, HealthCheckSpec>>,
): RawProblem[] {
  const warnings: RawProblem[] = [];
  services.forEach((service, index) => {
    const name = service.health_check;
    if (typeof name !== "string" || Object.hasOwn(named, name)) return;
    const undefinedCheck = `${JSON.stringify(name)} is not defined in "health_checks"`;
    warnings.push({
      path: ["services", index, "health_check"],
      message: service.port === undefined
        ? `${undefinedCheck} and the service has no "port" to check instead ` +
          "(the OmegaOS convention): it runs without a health check"
        : `${undefinedCheck}; checking TCP port ${service.port} instead (the OmegaOS convention)`,
    });
  });
  return warnings;
}
