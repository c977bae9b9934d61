/**
 * Parsers of API request parameters: service name, `lines`, `stream`, `force`.
 * Each returns the typed value or throws `BadRequestError` (400) with a
 * message that quotes the offending value. The CLI reuses them for its own
 * arguments so both front ends accept exactly the same input.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import type { LogStream } from "../types.ts";
import {
  DEFAULT_LOG_LINES,
  followParam,
  forceParam,
  linesParam,
  MAX_LOG_LINES,
  serviceNameParam,
  streamParam,
} from "./schemas.ts";

export { DEFAULT_LOG_LINES, MAX_LOG_LINES };

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
  if (!serviceNameParam.safeParse(value).success) {
    throw new BadRequestError(`Invalid service name ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parse `lines`: a decimal integer from 0 to `MAX_LOG_LINES`; `undefined` gives the default. */
export function parseLines(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOG_LINES;
  const lines = linesParam.safeParse(value);
  if (!lines.success) {
    throw new BadRequestError(
      `Invalid "lines": expected an integer from 0 to ${MAX_LOG_LINES}; got ${
        JSON.stringify(value)
      }`,
    );
  }
  return lines.data;
}

/** Parse `stream`: `stdout`, `stderr` or `both`; `undefined` gives `both`. */
export function parseStream(value: string | undefined): LogStream {
  if (value === undefined) return "both";
  const stream = streamParam.safeParse(value);
  if (!stream.success) {
    throw new BadRequestError(
      `Invalid "stream": expected one of ${LOG_STREAMS.join(", ")}; got ${JSON.stringify(value)}`,
    );
  }
  return stream.data;
}

/** Parse `force`: `true`, `false`, `1` or `0` (case-insensitive); `undefined` gives false. */
export function parseForce(value: string | undefined): boolean {
  if (value === undefined) return false;
  const force = forceParam.safeParse(value);
  if (force.success) return force.data;
  throw new BadRequestError(
    `Invalid "force": expected true, false, 1 or 0; got ${JSON.stringify(value)}`,
  );
}

/** Parse `follow` of a log request: `true`, `false`, `1` or `0` (case-insensitive); `undefined` gives false. */
export function parseFollow(value: string | undefined): boolean {
  if (value === undefined) return false;
  const follow = followParam.safeParse(value);
  if (follow.success) return follow.data;
  throw new BadRequestError(
    `Invalid "follow": expected true, false, 1 or 0; got ${JSON.stringify(value)}`,
  );
}

/** Parse `?now=` of the health route: `true`/`1`/`false`/`0`, absent means false. */
export function parseNow(value: string | undefined): boolean {
  if (value === undefined) return false;
  const flag = value.toLowerCase();
  if (flag === "true" || flag === "1") return true;
  if (flag === "false" || flag === "0") return false;
  throw new BadRequestError(
    `Invalid "now": expected true, false, 1 or 0; got ${JSON.stringify(value)}`,
  );
}
