/**
 * Error classes that callers catch. Each carries the HTTP status the API maps it to.
 *
 * @module
 */

/** Base class of every error edgevisor raises on purpose. */
export class EdgevisorError extends Error {
  /** HTTP status the API answers with for this error. */
  readonly status: number = 500;
  /** Create an error with a message in sentence case and no trailing period. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EdgevisorError";
  }
}

/** A request names a service that is not in the registry (404). */
export class NotFoundError extends EdgevisorError {
  override readonly status = 404;
  /** Create a not-found error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/** A request conflicts with the current state of a service (409). */
export class ConflictError extends EdgevisorError {
  override readonly status = 409;
  /** Create a conflict error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConflictError";
  }
}

/** A request parameter is malformed or out of range (400). */
export class BadRequestError extends EdgevisorError {
  override readonly status = 400;
  /** Create a bad-request error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BadRequestError";
  }
}

/** A service could not be spawned: missing command, bad working directory, no permission (422). */
export class SpawnError extends EdgevisorError {
  override readonly status = 422;
  /** Create a spawn error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpawnError";
  }
}

/** One problem found in a registry, with its JSON path. */
export interface RegistryProblem {
  /** JSON path of the offending value, e.g. `services[2].restart_policy`; empty for the root. */
  path: string;
  /** What is wrong, e.g. `expected one of never, on-failure, always; got "sometimes"`. */
  message: string;
}

/** A registry cannot be read, parsed or validated. Lists every problem found. */
export class RegistryError extends EdgevisorError {
  override readonly status = 400;
  /** Every problem, each with its path. */
  readonly problems: readonly RegistryProblem[];
  /** Create a registry error from its problems; the message lists them one per line. */
  constructor(source: string, problems: readonly RegistryProblem[], options?: ErrorOptions) {
    super(
      `Invalid registry ${JSON.stringify(source)}:\n` +
        problems.map((p) => `  ${p.path ? p.path + ": " : ""}${p.message}`).join("\n"),
      options,
    );
    this.name = "RegistryError";
    this.problems = problems;
  }
}
