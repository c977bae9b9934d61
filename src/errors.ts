/**
 * Error classes that callers catch. Each says what went wrong by its
 * {@linkcode ErrorKind}, and nothing about how an edge reports it: the HTTP
 * API maps kinds to statuses, NATS control to error codes, the command line
 * to exit codes, each in one place of its own.
 *
 * @module
 */

/**
 * What went wrong, as every edge tells it apart:
 *
 * - `invalid`: a parameter, a body or a registry is malformed or out of range;
 * - `unauthorized`: the caller did not prove who it is (a missing or wrong token);
 * - `forbidden`: the caller may not ask this (a cross-site request, a foreign host name);
 * - `not_found`: what the request names does not exist (an unknown service);
 * - `method_not_allowed`: the operation exists, but not with this method;
 * - `conflict`: the request does not fit the current state (start of a running service);
 * - `too_large`: the request is larger than edgevisor reads;
 * - `unsupported_media_type`: the body is not in a format edgevisor reads;
 * - `unprocessable`: the request is right but cannot be carried out (a process cannot be spawned);
 * - `not_implemented`: this edgevisor does not offer the operation;
 * - `unavailable`: try again later (too many log followers, a node that does not answer);
 * - `internal`: anything else: a fault of edgevisor, whose details stay in its log.
 */
export type ErrorKind =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "not_implemented"
  | "unavailable"
  | "internal";

/** Options of {@linkcode EdgevisorError}: the cause, and what kind of failure it is. */
export interface EdgevisorErrorOptions extends ErrorOptions {
  /** What went wrong. @default "internal" */
  kind?: ErrorKind;
}

/** Base class of every error edgevisor raises on purpose. */
export class EdgevisorError extends Error {
  /** What went wrong; each edge maps it to its own answer. */
  readonly kind: ErrorKind;
  /** Create an error with a message in sentence case and no trailing period. */
  constructor(message: string, options?: EdgevisorErrorOptions) {
    super(message, options);
    this.name = "EdgevisorError";
    this.kind = options?.kind ?? "internal";
  }
}

/** A request parameter or body is malformed or out of range (kind `invalid`). */
export class BadRequestError extends EdgevisorError {
  /** Create an error of kind `invalid`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "invalid" });
    this.name = "BadRequestError";
  }
}

/** The caller did not prove who it is: a missing or wrong API token (kind `unauthorized`). */
export class UnauthorizedError extends EdgevisorError {
  /** Create an error of kind `unauthorized`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unauthorized" });
    this.name = "UnauthorizedError";
  }
}

/** The caller may not ask this: a cross-site request, a foreign host name (kind `forbidden`). */
export class ForbiddenError extends EdgevisorError {
  /** Create an error of kind `forbidden`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "forbidden" });
    this.name = "ForbiddenError";
  }
}

/** A request names a service (or anything else) that does not exist (kind `not_found`). */
export class NotFoundError extends EdgevisorError {
  /** Create an error of kind `not_found`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "not_found" });
    this.name = "NotFoundError";
  }
}

/** The operation exists, but not with the method asked (kind `method_not_allowed`). */
export class MethodNotAllowedError extends EdgevisorError {
  /** The methods the operation takes, such as `["GET"]`. */
  readonly allowed: readonly string[];
  /** Create an error of kind `method_not_allowed` that lists the methods allowed. */
  constructor(message: string, allowed: readonly string[], options?: ErrorOptions) {
    super(message, { ...options, kind: "method_not_allowed" });
    this.name = "MethodNotAllowedError";
    this.allowed = allowed;
  }
}

/** A request conflicts with the current state of a service (kind `conflict`). */
export class ConflictError extends EdgevisorError {
  /** Create an error of kind `conflict`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "conflict" });
    this.name = "ConflictError";
  }
}

/** A request is larger than edgevisor reads (kind `too_large`). */
export class TooLargeError extends EdgevisorError {
  /** Create an error of kind `too_large`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "too_large" });
    this.name = "TooLargeError";
  }
}

/** A request body is not in a format edgevisor reads (kind `unsupported_media_type`). */
export class UnsupportedMediaTypeError extends EdgevisorError {
  /** Create an error of kind `unsupported_media_type`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unsupported_media_type" });
    this.name = "UnsupportedMediaTypeError";
  }
}

/** A service could not be spawned: missing command, bad working directory, no permission (kind `unprocessable`). */
export class SpawnError extends EdgevisorError {
  /** Create an error of kind `unprocessable`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unprocessable" });
    this.name = "SpawnError";
  }
}

/** This edgevisor does not offer the operation (kind `not_implemented`). */
export class NotImplementedError extends EdgevisorError {
  /** Create an error of kind `not_implemented`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "not_implemented" });
    this.name = "NotImplementedError";
  }
}

/** A request cannot be served now; it may succeed later (kind `unavailable`). */
export class UnavailableError extends EdgevisorError {
  /** Create an error of kind `unavailable`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable" });
    this.name = "UnavailableError";
  }
}

/** One problem found in a registry, with its JSON path. */
export interface RegistryProblem {
  /** JSON path of the offending value, e.g. `services[2].restart_policy`; empty for the root. */
  path: string;
  /** What is wrong, e.g. `expected one of never, on-failure, always; got "sometimes"`. */
  message: string;
}

/** A registry cannot be read, parsed or validated (kind `invalid`). Lists every problem found. */
export class RegistryError extends EdgevisorError {
  /** Every problem, each with its path. */
  readonly problems: readonly RegistryProblem[];
  /** Create a registry error from its problems; the message lists them one per line. */
  constructor(source: string, problems: readonly RegistryProblem[], options?: ErrorOptions) {
    super(
      `Invalid registry ${JSON.stringify(source)}:\n` +
        problems.map((p) => `  ${p.path ? p.path + ": " : ""}${p.message}`).join("\n"),
      { ...options, kind: "invalid" },
    );
    this.name = "RegistryError";
    this.problems = problems;
  }
}

/** The text of an error, without Deno's `(os error N)` and what follows. */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\(os error \d+\).*$/s, "");
}
