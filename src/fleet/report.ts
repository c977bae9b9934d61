/**
 * What a device following a fleet group says about its configuration: the
 * `config` field of its heartbeat (and so of its KV heartbeat entry).
 *
 * @module
 */
import type { RegistryProblem } from "../errors.ts";

/**
 * Where a configuration comes from: the group's KV key, the device's own
 * node key, or the registry file given to `edgevisor run`.
 */
export type ConfigSource = "group" | "node" | "local";

/**
 * What became of a revision on a device:
 * - `applying`: valid and applied; its changed and added services are
 *   watched until `until` (the rollback window);
 * - `applied`: applied, and its services stayed healthy for the window;
 * - `rejected`: invalid on this device, not applied (`problems`);
 * - `rolled_back`: applied, then undone because a service it changed or
 *   added failed, went to cooldown, or was unhealthy at the end of the
 *   window (`service`, `reason`).
 */
export type ConfigState = "applied" | "rejected" | "rolled_back" | "applying";

/** Every {@linkcode ConfigState}. */
export const CONFIG_STATES: readonly ConfigState[] = [
  "applied",
  "rejected",
  "rolled_back",
  "applying",
];

/** A revision and where it comes from. */
export interface ConfigRevision {
  /** KV revision of the configuration; null for the registry file (`local`). */
  revision: number | null;
  /** Which key (or the local file) it comes from. */
  source: ConfigSource;
}

/** The `config` field of a heartbeat: the state of the last revision the device handled. */
export interface ConfigReport extends ConfigRevision {
  /** The fleet group the device follows. */
  group: string;
  /** What became of `revision`. */
  state: ConfigState;
  /** When the device reached this state, ISO 8601. */
  at: string;
  /** `rejected`: every problem, with its JSON path. */
  problems?: RegistryProblem[];
  /** `rolled_back`: why. */
  reason?: string;
  /** `rolled_back`: the service that made it go back. */
  service?: string;
  /** `applying`: when the rollback window ends, ISO 8601. */
  until?: string;
  /** What the device runs now (differs from `revision` after a rejection or a rollback). */
  running: ConfigRevision;
}

/** Whether `state` is final: the device is done with the revision. */
export function isFinal(state: ConfigState): boolean {
  return state !== "applying";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRevision(value: unknown): value is ConfigRevision & Record<string, unknown> {
  return isObject(value) &&
    (value.revision === null || Number.isSafeInteger(value.revision)) &&
    (value.source === "group" || value.source === "node" || value.source === "local");
}

/**
 * `value` as a {@linkcode ConfigReport} when it has the fields a reader
 * relies on (group, revision, source, state, at, running); undefined
 * otherwise.
 */
export function parseConfigReport(value: unknown): ConfigReport | undefined {
  if (!isRevision(value) || !isRevision(value.running)) return undefined;
  if (typeof value.group !== "string" || typeof value.at !== "string") return undefined;
  if (!CONFIG_STATES.includes(value.state as ConfigState)) return undefined;
  return value as unknown as ConfigReport;
}

/** A device and the revision it was given, with its report (none when it did not report). */
export interface DeviceOutcome {
  /** Node name. */
  node: string;
  /** The revision it was given. */
  revision: number;
  /** Its last report. */
  report?: ConfigReport;
}

/**
 * One line on an outcome: `applied revision 61`,
 * `rolled_back revision 61: service "web" went to cooldown`,
 * `no report of revision 61 in time (last: applied revision 57)`.
 */
export function describeOutcome(outcome: DeviceOutcome): string {
  const r = outcome.report;
  if (!r || (r.revision ?? 0) < outcome.revision) {
    return `no report of revision ${outcome.revision} in time${
      r ? ` (last: ${r.state} revision ${r.revision ?? "local"})` : ""
    }`;
  }
  const why = r.reason ?? r.problems?.map(problemLine).join("; ");
  return `${r.state} revision ${r.revision}${why ? `: ${why}` : ""}`;
}

/** `path: message`, or the message alone for the root. */
export function problemLine(problem: RegistryProblem): string {
  return `${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}
