/**
 * Bodies of the HTTP API as they travel on the wire (OmegaOS shape:
 * `{"ok": true, ...}` on success, `{"ok": false, "error": "..."}` on failure).
 * Shared by the Hono app and the CLI client; a type test keeps them equal to
 * the schemas of `schemas.ts`, which the OpenAPI document is made of.
 *
 * @module
 */
import type { RegistryProblem } from "../errors.ts";
import type {
  HealthInfo,
  LogStream,
  MergedLogEntry,
  OrchestratorInfo,
  RegistryDiff,
  ServiceHistory,
  ServiceStatus,
} from "../types.ts";

/** Body of every error answer. */
export interface ErrorBody {
  /** Always false. */
  ok: false;
  /** What went wrong, in sentence case. */
  error: string;
}

/** Body of a rejected registry change (400): the error and every problem, each with its path. */
export interface ProblemsBody extends ErrorBody {
  /** Every problem found. */
  problems: RegistryProblem[];
}

/** `GET /api/services/list`. */
export interface ListBody {
  /** Always true. */
  ok: true;
  /** Every service, in registry order. */
  services: ServiceStatus[];
}

/** `GET /api/services/status/{name}`: the status fields flattened into the envelope. */
export type StatusBody = { ok: true } & ServiceStatus;

/**
 * `POST /api/services/{start,stop,restart}/{name}`, `POST /api/services`
 * and `PUT /api/services/{name}`: a message and the status after the action.
 */
export type ActionBody = { ok: true; message: string } & ServiceStatus;

/** `POST /api/services/run/{name}`: a message, the run id and the status of the job. */
export type RunBody = ActionBody & { run_id: number };

/** `GET /api/services/logs/{name}`: only the requested streams are present. */
export interface LogsBody {
  /** Always true. */
  ok: true;
  /** Service name. */
  name: string;
  /** Stream(s) asked for. */
  stream: LogStream;
  /** Number of lines asked for (each stream may hold fewer). */
  lines: number;
  /** Last lines of standard output; present unless `stream` is `stderr`. */
  stdout?: string[];
  /** Last lines of standard error; present unless `stream` is `stdout`. */
  stderr?: string[];
  /** The lines in time order with start and exit markers (when edgevisor keeps log times). */
  merged?: MergedLogEntry[];
}

/** `GET /api/services/health/{name}`. */
export type ServiceHealthBody = { ok: true; name: string } & HealthInfo;

/** `GET /api/services/history/{name}`. */
export type HistoryBody = { ok: true; name: string } & ServiceHistory;

/** `POST /api/services/reload`: the names of what changed. */
export type ReloadBody = { ok: true; message: string } & RegistryDiff;

/** `DELETE /api/services/{name}`. */
export interface RemoveBody {
  /** Always true. */
  ok: true;
  /** `Service "x" removed`. */
  message: string;
  /** The service removed. */
  name: string;
}

/** `GET /api/health`. */
export type OrchestratorHealthBody = { ok: true } & OrchestratorInfo;
