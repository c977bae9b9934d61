/**
 * A device that follows a fleet group takes its services from the group's
 * configuration only: {@linkcode managedControl} refuses local changes of
 * the registry (add, replace, remove, reload) with a `ConflictError` (409),
 * and passes everything else (list, status, start, stop, restart, logs,
 * health, ...) through.
 *
 * @module
 */
import { ConflictError } from "../errors.ts";
import type { ServiceControl } from "../types.ts";

/** The methods of a `ServiceControl` that change the registry. */
export const REGISTRY_CHANGES = [
  "addService",
  "replaceService",
  "removeService",
  "reload",
] as const satisfies readonly (keyof ServiceControl)[];

/**
 * The error message of a refused local change: `managed by fleet group NAME`
 * (clients match it as it is).
 */
export function managedMessage(group: string): string {
  return `managed by fleet group ${group}`;
}

/**
 * `control` with its registry changes refused: they reject with
 * `ConflictError("managed by fleet group NAME")`; every other member is
 * `control`'s own.
 *
 * @example
 * ```ts
 * const app = createApp(managedControl(supervisor, "line1"));
 * ```
 */
export function managedControl<T extends ServiceControl>(control: T, group: string): T {
  const refuse = () => Promise.reject(new ConflictError(managedMessage(group)));
  return new Proxy(control, {
    get(target, key) {
      if ((REGISTRY_CHANGES as readonly PropertyKey[]).includes(key)) return refuse;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
