/**
 * Runtime changes of one service (add, replace, remove): check the request
 * against the running services, write the change to the registry file, and
 * apply that one service to the supervisor.
 *
 * @module
 */
import { BadRequestError, ConflictError, NotFoundError } from "../errors.ts";
import { editRegistryFile, type RegistryEdit } from "../registry/edit.ts";
import type { Registry } from "../registry/load.ts";
import { isPlainObject } from "../registry/problems.ts";
import type { RegistryDiff, ServiceState, ServiceStatus } from "../types.ts";
import { LIVE_STATES, WAITING_STATES } from "./state_machine.ts";

/** What {@linkcode changeService} needs from the supervisor. */
export interface ServiceEditor {
  /** The registry file the changes are written to. */
  file: string;
  /** The registry the services run with. */
  registry(): Registry;
  /** Whether a service of that name runs under the supervisor. */
  has(name: string): boolean;
  /** Make the running services match `next`. */
  apply(next: Registry): Promise<RegistryDiff>;
  /** Status of a service. */
  status(name: string): ServiceStatus;
}

/** Whether a service in `state` has a process or waits to start one. */
export function isActive(state: ServiceState): boolean {
  return LIVE_STATES.has(state) || WAITING_STATES.has(state);
}

/**
 * Validate and persist `edit`, then apply it to the one service it names;
 * other differences between the file and the running services are left
 * for a reload. Resolves to the new status (add, replace) or a `stopped`
 * status (remove).
 *
 * @throws {NotFoundError} replace or remove of a service that is not running under the supervisor.
 * @throws {ConflictError} add of a name that is taken.
 * @throws {BadRequestError} a body that is not an object, or names another service.
 * @throws {RegistryError} every problem of the resulting registry; nothing is written.
 */
export async function changeService(
  editor: ServiceEditor,
  request: RegistryEdit,
): Promise<ServiceStatus> {
  const edit = checkRequest(editor, request);
  const name = (edit.kind === "add" ? nameOf(edit.service) : edit.name) ?? "";
  const written = await editRegistryFile(editor.file, edit);
  const current = editor.registry();
  const spec = written.services.find((s) => s.name === name);
  const services = current.services.filter((s) => s.name !== name);
  if (spec !== undefined) {
    const at = current.services.findIndex((s) => s.name === name);
    if (at >= 0) services.splice(at, 0, spec);
    else services.push(spec);
  }
  const last = edit.kind === "remove" ? editor.status(name) : undefined;
  await editor.apply({ ...current, services, healthChecks: written.healthChecks });
  return last ? { ...last, ...stoppedFields() } : editor.status(name);
}

function checkRequest(editor: ServiceEditor, edit: RegistryEdit): RegistryEdit {
  if (edit.kind !== "remove" && !isPlainObject(edit.service)) {
    throw new BadRequestError(
      `Invalid service definition: expected a JSON object; got ${describe(edit.service)}`,
    );
  }
  if (edit.kind === "add") {
    const name = nameOf(edit.service);
    if (name !== undefined && editor.has(name)) {
      throw new ConflictError(`Cannot add service ${JSON.stringify(name)}: it already exists`);
    }
    return edit;
  }
  if (!editor.has(edit.name)) {
    throw new NotFoundError(`Unknown service ${JSON.stringify(edit.name)}`);
  }
  if (edit.kind === "remove") return edit;
  const service = edit.service as Record<string, unknown>;
  if (service.name === undefined) return { ...edit, service: { name: edit.name, ...service } };
  if (service.name !== edit.name) {
    throw new BadRequestError(
      `Service name ${JSON.stringify(service.name)} in the body does not match ${
        JSON.stringify(edit.name)
      } in the path`,
    );
  }
  return edit;
}

function nameOf(service: unknown): string | undefined {
  return isPlainObject(service) && typeof service.name === "string" ? service.name : undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function stoppedFields(): Partial<ServiceStatus> {
  return {
    status: "stopped",
    pid: null,
    started_at: null,
    uptime: 0,
    next_restart_at: null,
    reason: "removed",
  };
}
