/**
 * Parsers of API request parameters: service name, `lines`, `stream`, `force`.
 * Each returns the typed value or throws `BadRequestError` (400) with a
 * message that quotes the offending value. The CLI reuses them for its own
 * arguments so both front ends accept exactly the same input.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import { SERVICE_NAME_PATTERN } from "../registry/schema.ts";
import type { LogStream } from "../types.ts";

/** Number of log lines returned when the request does not say. */
export const DEFAULT_LOG_LINES = 50;

/** Largest number of log lines one request may ask for. */
export const MAX_LOG_LINES = 10_000;

/** Every value `stream` accepts. */
export const LOG_STREAMS: readonly LogStream[] = ["stdout", "stderr", "both"];

/**
 * Check a service name against `SERVICE_NAME_PATTERN`.
 *
 * @example
 * ```ts
 * parseServiceName("api"); // "api"
 * parseServiceName("../x"); // throws BadRequestError: Invalid service name "../x"
 * ```
 */
export function parseServiceName(value: string): string {
  if (!SERVICE_NAME_PATTERN.test(value)) {
    throw new BadRequestError(`Invalid service name ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parse `lines`: a decimal integer from 0 to `MAX_LOG_LINES`; `undefined` gives the default. */
export function parseLines(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOG_LINES;
  const lines = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(lines <= MAX_LOG_LINES)) {
    throw new BadRequestError(
      `Invalid "lines": expected an integer from 0 to ${MAX_LOG_LINES}; got ${
        JSON.stringify(value)
      }`,
    );
  }
  return lines;
}

/** Parse `stream`: `stdout`, `stderr` or `both`; `undefined` gives `both`. */
export function parseStream(value: string | undefined): LogStream {
  if (value === undefined) return "both";
  const stream = LOG_STREAMS.find((s) => s === value);
  if (stream === undefined) {
    throw new BadRequestError(
      `Invalid "stream": expected one of ${LOG_STREAMS.join(", ")}; got ${JSON.stringify(value)}`,
    );
  }
  return stream;
}

/** Parse `force`: `true`, `false`, `1` or `0` (case-insensitive); `undefined` gives false. */
export function parseForce(value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (value.toLowerCase()) {
    case "true":
    case "1":
      return true;
    case "false":
    case "0":
      return false;
  }
  throw new BadRequestError(
    `Invalid "force": expected true, false, 1 or 0; got ${JSON.stringify(value)}`,
  );
}
