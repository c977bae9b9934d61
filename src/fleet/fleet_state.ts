/**
 * What a device following a fleet group keeps on its disk, in one file of
 * its state directory (`fleet_state.json`), replaced atomically at every
 * change: the configuration it runs (revision, source and the registry as
 * published), the last one that passed its rollback window, the revisions
 * it refused, and its last report. A device that boots without network
 * runs what this file says, not the registry file it shipped with.
 *
 * @module
 */
import type { ConfigReport, ConfigSource } from "./report.ts";
import { parseConfigReport } from "./report.ts";
import { writeFileAtomic } from "../registry/persist.ts";

/** Name of the file in the state directory. */
export const FLEET_STATE_FILE = "fleet_state.json";

/** Most refused revisions remembered (the newest). */
const MAX_REFUSED = 20;

/** A revision the device applied, with its registry. */
export interface AppliedRevision {
  /** KV revision. */
  revision: number;
  /** The key it came from. */
  source: Exclude<ConfigSource, "local">;
  /** The registry as published (a JSON value). */
  registry: unknown;
}

/** Content of `fleet_state.json`. */
export interface FleetState {
  /** Version of this format. */
  schema: 1;
  /** The group followed when it was written; another group ignores the file. */
  group: string;
  /** What runs; null for the registry file given to `edgevisor run`. */
  current: AppliedRevision | null;
  /** What a rollback goes back to: the last configuration that passed its window (null: the registry file). */
  stable: AppliedRevision | null;
  /** Services of `current` still in their rollback window (empty once it passed). */
  watching: string[];
  /** Revisions rejected or rolled back here, oldest first: not tried again. */
  refused: number[];
  /** The last report. */
  report: ConfigReport;
}

/** Path of the file in `stateDir`. */
export function fleetStatePath(stateDir: string): string {
  return `${stateDir}/${FLEET_STATE_FILE}`;
}

/** The state of a device of `group` that has applied nothing yet: it runs its registry file. */
export function initialFleetState(group: string, at = new Date()): FleetState {
  return {
    schema: 1,
    group,
    current: null,
    stable: null,
    watching: [],
    refused: [],
    report: {
      group,
      revision: null,
      source: "local",
      state: "applied",
      at: at.toISOString(),
      running: { revision: null, source: "local" },
    },
  };
}

/** `refused` with `revision` added (the oldest dropped beyond the bound). */
export function withRefused(refused: readonly number[], revision: number): number[] {
  return [...refused.filter((r) => r !== revision), revision].slice(-MAX_REFUSED);
}

function isApplied(value: unknown): value is AppliedRevision | null {
  if (value === null) return true;
  if (typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return Number.isSafeInteger(v.revision) && (v.source === "group" || v.source === "node") &&
    "registry" in v;
}

/**
 * Read the file at `path`: undefined when there is none; throws
 * `TypeError` when it is not a fleet state (and the error of the read).
 */
export async function readFleetState(path: string): Promise<FleetState | undefined> {
  let text;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const value = JSON.parse(text) as Partial<FleetState>;
  if (
    value?.schema !== 1 || typeof value.group !== "string" || !isApplied(value.current) ||
    !isApplied(value.stable) || !Array.isArray(value.watching) ||
    !Array.isArray(value.refused) || parseConfigReport(value.report) === undefined
  ) {
    throw new TypeError(`Not a fleet state file: ${JSON.stringify(path)}`);
  }
  return value as FleetState;
}

/** Replace the file at `path` with `state`, atomically. */
export async function writeFleetState(path: string, state: FleetState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state, null, 2) + "\n", { backup: false });
}
