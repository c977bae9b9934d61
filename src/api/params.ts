/**
 * The parameters of the API: each a zod schema (a string in, the typed value
 * out), its value when absent, and the message of the 400 its refusal
 * answers, quoting the offending value. The route table (`routes.ts`)
 * declares which route takes which; the CLI parses its own arguments with
 * the same parsers, so both front ends accept exactly the same input.
 *
 * @module
 */
import { z } from "zod";
import { BadRequestError } from "../errors.ts";
import { SERVICE_NAME_PATTERN } from "../registry/schema.ts";
import type { LogStream } from "../types.ts";

/** Number of log lines returned when the request does not say. */
export const DEFAULT_LOG_LINES = 50;

/** Largest number of log lines one request may ask for. */
export const MAX_LOG_LINES = 10_000;

/** Every value `stream` accepts. */
export const LOG_STREAMS: readonly LogStream[] = ["stdout", "stderr", "both"];

/** One parameter of a route: how to read it, its value when absent, and how to refuse it. */
export interface Param<T> {
  /** Reads the value from its text; its `description` and `default` go to the OpenAPI document. */
  schema: z.ZodType<T, string>;
  /** The value when the request leaves the parameter out. */
  fallback: T;
  /** Message of the 400 answer to a value the schema refuses. */
  message(value: string): string;
}

/** The value a parameter gives. */
export type ParamValue<P> = P extends Param<infer T> ? T : never;

function param<T>(schema: z.ZodType<T, string>, fallback: T, message: (value: string) => string) {
  return { schema, fallback, message } satisfies Param<T>;
}

const quote = (value: string) => JSON.stringify(value);

/** A boolean query flag: `true`, `false`, `1` or `0`, in any case. */
const flag = () => z.stringbool({ truthy: ["true", "1"], falsy: ["false", "0"] });

const flagMessage = (key: string) => (value: string) =>
  `Invalid "${key}": expected true, false, 1 or 0; got ${quote(value)}`;

/** A time (ISO 8601) or a duration before now (`90s`, `10m`, `2h`, `1d`). */
const SINCE_PATTERN =
  /^(?:\d+(?:\.\d+)?[smhd]|\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)?)$/;

/**
 * `since` in milliseconds since the epoch, for a request made at `nowMs`;
 * undefined when `value` is neither an ISO 8601 time nor a duration.
 *
 * @example
 * ```ts
 * sinceMs("10m", 600_000); // 0
 * sinceMs("1970-01-01T00:00:01Z", 0); // 1000
 * ```
 */
export function sinceMs(value: string, nowMs: number): number | undefined {
  if (!SINCE_PATTERN.test(value)) return undefined;
  const duration = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value);
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as "s"];
    return nowMs - Number(duration[1]) * unit;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Every parameter of the API, by the name it has in paths and query strings. */
export const PARAMS = {
  name: param(
    z.string().regex(SERVICE_NAME_PATTERN).meta({
      description: "Service name, as in the registry",
      examples: ["web"],
    }),
    "",
    (value) => `Invalid service name ${quote(value)}`,
  ),
  lines: param(
    z.string().regex(/^[0-9]{1,6}$/).transform(Number).pipe(
      z.number().int().min(0).max(MAX_LOG_LINES),
    ).meta({
      description: "How many of the last lines of each stream",
      default: DEFAULT_LOG_LINES,
    }),
    DEFAULT_LOG_LINES,
    (value) =>
      `Invalid "lines": expected an integer from 0 to ${MAX_LOG_LINES}; got ${quote(value)}`,
  ),
  stream: param(
    z.enum(["stdout", "stderr", "both"]).meta({
      description: "Which captured stream(s)",
      default: "both",
    }),
    "both" as LogStream,
    (value) => `Invalid "stream": expected one of ${LOG_STREAMS.join(", ")}; got ${quote(value)}`,
  ),
  since: param(
    z.string().regex(SINCE_PATTERN).refine((value) => sinceMs(value, 0) !== undefined).meta({
      description:
        "Only lines (and markers) at or after this time: ISO 8601 (`2026-12-02T10:00:00Z`), or a duration before now (`90s`, `10m`, `2h`, `1d`)",
      examples: ["10m"],
    }) as z.ZodType<string | undefined, string>,
    undefined,
    (value) =>
      `Invalid "since": expected an ISO 8601 time or a duration such as 90s, 10m or 2h; got ${
        quote(value)
      }`,
  ),
  force: param(
    flag().meta({
      description: "SIGKILL the process group at once instead of the graceful stop",
      default: false,
    }),
    false,
    flagMessage("force"),
  ),
  follow: param(
    flag().meta({
      description:
        "Answer with Server-Sent Events: the last lines, then new lines as they are written (`lines` events, a `ready` event after the last lines)",
      default: false,
    }),
    false,
    flagMessage("follow"),
  ),
  now: param(
    flag().meta({
      description: "Run one check at once (while the service runs) and answer with its outcome",
      default: false,
    }),
    false,
    flagMessage("now"),
  ),
};

/**
 * Read one parameter: its fallback when `value` is undefined, the parsed
 * value, or a `BadRequestError` with the parameter's message.
 */
export function parseParam<T>(p: Param<T>, value: string | undefined): T {
  if (value === undefined) return p.fallback;
  const parsed = p.schema.safeParse(value);
  if (!parsed.success) throw new BadRequestError(p.message(value));
  return parsed.data;
}

/**
 * Check a service name against `SERVICE_NAME_PATTERN`.
 *
 * @example
 * ```ts
 * parseServiceName("api"); // "api"
 * ```
 */
export function parseServiceName(value: string): string {
  return parseParam(PARAMS.name, value);
}

/** Parse `lines`: a decimal integer from 0 to `MAX_LOG_LINES`; `undefined` gives the default. */
export function parseLines(value: string | undefined): number {
  return parseParam(PARAMS.lines, value);
}

/** Parse `stream`: `stdout`, `stderr` or `both`; `undefined` gives `both`. */
export function parseStream(value: string | undefined): LogStream {
  return parseParam(PARAMS.stream, value);
}

/** Parse `force`: `true`, `false`, `1` or `0` (case-insensitive); `undefined` gives false. */
export function parseForce(value: string | undefined): boolean {
  return parseParam(PARAMS.force, value);
}
