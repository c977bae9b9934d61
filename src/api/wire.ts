/**
 * Bodies of the HTTP API as they travel on the wire (OmegaOS shape:
 * `{"ok": true, ...}` on success, `{"ok": false, "error": "..."}` on failure).
 * Shared by the Hono app and the CLI client.
 *
 * @module
 */
import type { HealthInfo, LogStream, OrchestratorInfo, ServiceStatus } from "../types.ts";

/** Body of every error answer. */
export interface ErrorBody {
  /** Always false. */
  ok: false;
  /** What went wrong, in sentence case. */
  error: string;
}

/** `GET /api/services/list`. */
export interface ListBody {
  /** Always true. */
  ok: true;
  /** Every service, in registry order. */
  services: ServiceStatus[];
}

/** `GET /api/services/status/:name`: the status fields flattened into the envelope. */
export type StatusBody = { ok: true } & ServiceStatus;

/** `POST /api/services/{start,stop,restart}/:name`: a message and the status after the action. */
export type ActionBody = { ok: true; message: string } & ServiceStatus;

/** `GET /api/services/logs/:name`: only the requested streams are present. */
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
}

/** `GET /api/services/health/:name`. */
export type ServiceHealthBody = { ok: true; name: string } & HealthInfo;

/** `GET /api/health`. */
export type OrchestratorHealthBody = { ok: true } & OrchestratorInfo;
