/**
 * What a registry reload changes: the pure comparison of the running
 * definitions with the new ones. A definition counts as changed when any
 * field differs after defaults and `${VAR}` expansion, or when a check it
 * uses changed (`resolveChecks`: a named check in `health_checks`, used
 * through `health_check`, `readiness` or `liveness`).
 *
 * @module
 */
import { resolveChecks } from "../registry/checks.ts";
import type { Registry } from "../registry/load.ts";
import type { RegistryDiff } from "../types.ts";

export type { RegistryDiff } from "../types.ts";

/**
 * Compare two registries service by service. Names keep the order of the
 * new registry (`removed`: of the old one).
 *
 * @example
 * ```ts
 * import { loadRegistry } from "../registry/load.ts";
 * const running = await loadRegistry("registry/example.json");
 * const diff = diffRegistries(running, await loadRegistry("registry/example.yaml"));
 * diff.untouched; // the names of the services the two files define alike
 * ```
 */
export function diffRegistries(before: Registry, after: Registry): RegistryDiff {
  const old = new Map(before.services.map((s) => [s.name, s]));
  const diff: RegistryDiff = { added: [], removed: [], changed: [], untouched: [] };
  for (const spec of after.services) {
    const previous = old.get(spec.name);
    if (previous === undefined) diff.added.push(spec.name);
    else if (
      deepEqual(previous, spec) &&
      deepEqual(
        resolveChecks(previous, before.healthChecks),
        resolveChecks(spec, after.healthChecks),
      )
    ) {
      diff.untouched.push(spec.name);
    } else diff.changed.push(spec.name);
  }
  const kept = new Set(after.services.map((s) => s.name));
  for (const spec of before.services) if (!kept.has(spec.name)) diff.removed.push(spec.name);
  return diff;
}

/**
 * Structural equality of JSON-like values: same primitives, arrays of equal
 * items in the same order, objects with the same keys (in any order, keys
 * holding `undefined` counting as absent) and equal values.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length &&
    ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

/** One line describing what a reload did: `reload: added a; removed b; changed c; 2 untouched`. */
export function describeDiff(diff: RegistryDiff): string {
  const parts = (["added", "removed", "changed"] as const)
    .filter((k) => diff[k].length > 0)
    .map((k) => `${k} ${diff[k].join(", ")}`);
  parts.push(`${diff.untouched.length} untouched`);
  return parts.join("; ");
}

/**
 * Reload on SIGHUP: re-read the registry file and apply it (the supervisor
 * logs what changed), or log every problem when the file is invalid
 * (nothing changes then).
 */
export async function reloadOnSignal(
  control: { reload(): Promise<RegistryDiff> },
  log: (line: string) => void,
): Promise<void> {
  log("SIGHUP: reloading the registry");
  try {
    await control.reload();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(
      `reload failed, nothing changed: ${message.replace(/:\n\s+/, ": ").replace(/\n\s+/g, "; ")}`,
    );
  }
}
