/**
 * How the HTTP API answers an error: the one map from each
 * {@linkcode ErrorKind} to an HTTP status, and the answer (status, body,
 * headers) of any error. The app's `onError` answers with it, and so does
 * NATS control (its error code is the HTTP status), so that every edge that
 * speaks HTTP statuses tells the same kind the same way. An `internal`
 * error is logged with its cause and answered `Internal error`.
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { EdgevisorError, type ErrorKind, MethodNotAllowedError, RegistryError } from "../errors.ts";
import type { ErrorBody, ProblemsBody } from "./wire.ts";

/** The HTTP status of each kind of error. */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, ContentfulStatusCode>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  internal: 500,
  not_implemented: 501,
  unavailable: 503,
};

/** What a status that is not in {@linkcode STATUS_OF_KIND} stands for. */
const OTHER_KINDS: Readonly<Record<number, ErrorKind>> = { 502: "unavailable", 504: "unavailable" };

/**
 * The kind of error an HTTP status tells (for an answer received): the kind
 * it is the status of, else `invalid` for another 4xx, `unavailable` for a
 * gateway's 502 and 504, and `internal` for the rest.
 *
 * @example
 * ```ts
 * kindOfStatus(404); // "not_found"
 * kindOfStatus(408); // "invalid"
 * ```
 */
export function kindOfStatus(status: number): ErrorKind {
  const kind = (Object.keys(STATUS_OF_KIND) as ErrorKind[]).find((k) =>
    STATUS_OF_KIND[k] === status
  );
  return kind ?? OTHER_KINDS[status] ?? (status >= 400 && status < 500 ? "invalid" : "internal");
}

/** The message answered for an `internal` error: its details stay in the log. */
export const INTERNAL_ERROR = "Internal error";

/** The answer to an error: status, JSON body and headers. */
export interface ErrorAnswer {
  /** HTTP status (the NATS error code too). */
  status: ContentfulStatusCode;
  /** `{"ok": false, "error": ...}`, with `problems` for an invalid registry. */
  body: ErrorBody | ProblemsBody;
  /** Headers the status calls for: `WWW-Authenticate` with 401, `Allow` with 405. */
  headers: Record<string, string>;
}

/**
 * The answer to `error`. An `EdgevisorError` is answered by its kind, with
 * its message (and the problems of a `RegistryError`); an `HTTPException`
 * with its status and message; anything else, and an error of kind
 * `internal`, is given to `log` with `where` and answered 500
 * `Internal error`.
 */
export function errorAnswer(
  error: unknown,
  log: (line: string) => void,
  where: string,
): ErrorAnswer {
  let kind: ErrorKind = "internal";
  let status: ContentfulStatusCode = 500;
  if (error instanceof EdgevisorError) {
    kind = error.kind;
    status = STATUS_OF_KIND[kind];
  } else if (error instanceof HTTPException) {
    kind = kindOfStatus(error.status);
    status = error.status;
  }
  if (kind === "internal") {
    log(`${where} failed: ${describe(error)}`);
    return { status: 500, body: { ok: false, error: INTERNAL_ERROR }, headers: {} };
  }
  const message = (error as Error).message;
  const body: ErrorBody | ProblemsBody = error instanceof RegistryError
    ? { ok: false, error: message, problems: [...error.problems] }
    : { ok: false, error: message };
  const headers: Record<string, string> = {};
  if (kind === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="edgevisor"';
  if (error instanceof MethodNotAllowedError) {
    headers.Allow = error.allowed.flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m]).join(", ");
  }
  return { status, body, headers };
}

/** One line for the log: name, message and the first frame of the stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frame = error.stack?.split("\n").find((line) => line.trimStart().startsWith("at "));
  return `${error.name}: ${error.message}${frame ? ` (${frame.trim()})` : ""}`;
}
