/**
 * Turns zod issues into registry problems with readable messages and JSON
 * paths (`services[2].restart_policy: expected one of never, on-failure,
 * always; got "sometimes"`), plus the small helpers those messages need:
 * path formatting, value previews and "did you mean" suggestions.
 *
 * @module
 */
import { z } from "zod";
import type { RegistryProblem } from "../errors.ts";
import { NAME_RULE, SERVICE_NAME_PATTERN } from "./schema.ts";

/** One step of a JSON path: a key or an array index. */
export type PathSegment = string | number;

/** A problem whose path is still a list of segments; formatted at the end. */
export interface RawProblem {
  /** Path from the root of the registry document. */
  path: readonly PathSegment[];
  /** What is wrong, without the path. */
  message: string;
}

/** Keys that may be written after a dot; anything else is written as `["key"]`. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Format a path the way messages show it: dots for keys, `[i]` for indices.
 *
 * @example
 * ```ts
 * formatPath(["services", 2, "restart_policy"]); // "services[2].restart_policy"
 * formatPath(["services", 0, "env", "my var"]); // 'services[0].env["my var"]'
 * ```
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      if (!PLAIN_KEY.test(key)) out += `[${JSON.stringify(key)}]`;
      else out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

/** Convert a problem with a segment path into the public shape. */
export function toRegistryProblem(problem: RawProblem): RegistryProblem {
  return { path: formatPath(problem.path), message: problem.message };
}

/**
 * Show a value in a message: JSON where possible, cut to about `max`
 * characters. Never throws, whatever the value (cycles, deep nesting,
 * non-finite numbers, Maps and Sets from YAML 1.1).
 */
export function preview(value: unknown, max = 60): string {
  const state = { out: "", budget: max + 1 };
  try {
    write(value, state);
  } catch {
    // `write` only fails on exotic values; show what was written so far.
  }
  return state.out.length > max ? state.out.slice(0, max) + "…" : state.out;
}

function write(value: unknown, state: { out: string; budget: number }): void {
  const emit = (text: string) => {
    state.out += text;
    state.budget -= text.length;
  };
  if (state.budget <= 0) return;
  if (value === undefined) return emit("nothing");
  if (value === null || typeof value === "boolean") return emit(String(value));
  if (typeof value === "number") {
    return emit(Number.isFinite(value) ? JSON.stringify(value) : String(value));
  }
  if (typeof value === "bigint") return emit(String(value));
  if (typeof value === "string") return emit(JSON.stringify(value.slice(0, state.budget + 1)));
  if (typeof value !== "object") return emit(typeof value);
  if (Array.isArray(value)) {
    emit("[");
    for (let i = 0; i < value.length && state.budget > 0; i++) {
      if (i > 0) emit(",");
      write(value[i], state);
    }
    return emit("]");
  }
  if (!isPlainObject(value)) return emit(value.constructor?.name ?? "object");
  emit("{");
  let first = true;
  for (const key of Object.keys(value)) {
    if (state.budget <= 0) break;
    if (!first) emit(",");
    first = false;
    emit(JSON.stringify(key.slice(0, state.budget + 1)) + ":");
    write(value[key], state);
  }
  emit("}");
}

/** True for `{...}` objects as JSON and YAML produce them (not arrays, Maps, Dates). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Edit distance between two strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known word closest to `word`, when it is close enough to be a likely
 * typo (at most a third of its letters differ, ignoring case); else undefined.
 *
 * @example
 * ```ts
 * suggest("restart_polcy", ["restart_policy", "port"]); // "restart_policy"
 * ```
 */
export function suggest(word: string, known: readonly string[]): string | undefined {
  if (word.length > 100) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(Math.max(word.length, best?.length ?? 0) / 3));
  return bestDistance <= limit ? best : undefined;
}

/** List names briefly: the first `max`, then how many more. */
export function listBriefly(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** The value at `path` inside `data`, or undefined when the path does not exist. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    const key = typeof segment === "symbol" ? segment : String(segment);
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Remove wrappers that do not change what a value must look like. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let i = 0; i < 16; i++) {
    if (
      current instanceof z.ZodOptional || current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault || current instanceof z.ZodNullable
    ) {
      current = current.unwrap() as z.ZodType;
    } else break;
  }
  return current;
}

/** Pick the member of a union that `data` was meant to be (by its JS type and `type` key). */
function resolve(schema: z.ZodType | undefined, data: unknown): z.ZodType | undefined {
  if (schema === undefined) return undefined;
  const current = unwrap(schema);
  if (!(current instanceof z.ZodUnion)) return current;
  for (const option of current.options as readonly z.ZodType[]) {
    const picked = resolve(option, data);
    if (picked instanceof z.ZodObject && isPlainObject(data)) {
      const tag = picked.shape.type;
      if (!(tag instanceof z.ZodLiteral) || tag.values.has(data.type as never)) return picked;
    } else if (picked instanceof z.ZodString && typeof data === "string") return picked;
  }
  return undefined;
}

/** The schema that validates the value at `path`, as far as it can be told. */
export function schemaAt(
  root: z.ZodType,
  path: readonly PropertyKey[],
  data: unknown,
): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  let value = data;
  for (const segment of path) {
    const current = resolve(schema, value);
    if (current instanceof z.ZodObject) {
      const shape = current.shape as Record<string, z.ZodType>;
      schema = Object.hasOwn(shape, String(segment)) ? shape[String(segment)] : undefined;
    } else if (current instanceof z.ZodArray) schema = current.element as z.ZodType;
    else if (current instanceof z.ZodRecord) schema = current.valueType as z.ZodType;
    else if (current instanceof z.ZodTuple) {
      schema = (current.def.items as readonly z.ZodType[])[Number(segment)];
    } else return undefined;
    value = valueAt(value, [segment]);
  }
  return resolve(schema, value);
}

/** A zod issue as this module reads it: the common fields plus optional extras. */
type Issue = z.core.$ZodIssue & {
  readonly note?: string;
  readonly options?: readonly unknown[];
};

/** Context for converting the issues of one `safeParse` call. */
export interface IssueContext {
  /** The schema that was parsed with. */
  schema: z.ZodType;
  /** The value that was parsed. */
  data: unknown;
  /** Where `data` sits in the registry document (e.g. `["defaults"]`). */
  base: readonly PathSegment[];
}

/** Convert every issue of a failed parse into problems with readable messages. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  context: IssueContext,
): RawProblem[] {
  const problems = withoutFollowUps(issues).flatMap((issue) =>
    convert(issue as Issue, context, [])
  );
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${formatPath(problem.path)}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Drop issues that only follow from a wrong type at the same path: zod
 * checks `min(1)` of a string against an array's length too.
 */
function withoutFollowUps(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const key = (issue: z.core.$ZodIssue) => issue.path.map(String).join("\u0000");
  const mistyped = new Set(issues.filter((i) => i.code === "invalid_type").map(key));
  return issues.filter((issue) => issue.code === "invalid_type" || !mistyped.has(key(issue)));
}

function convert(
  issue: Issue,
  context: IssueContext,
  prefix: readonly PropertyKey[],
): RawProblem[] {
  const local = [...prefix, ...issue.path];
  const path = [...context.base, ...local.map(toSegment)];
  const value = valueAt(context.data, local);
  const problem = (message: string): RawProblem[] => [{ path, message }];
  switch (issue.code) {
    case "invalid_type":
      return problem(
        typeMessage(issue.expected, value, schemaAt(context.schema, local, context.data)),
      );
    case "invalid_value":
      return problem(oneOf(issue.values, value));
    case "too_small":
    case "too_big":
      return problem(rangeMessage(issue, value, schemaAt(context.schema, local, context.data)));
    case "invalid_format":
      return problem(formatMessage(issue, value));
    case "unrecognized_keys": {
      const known = knownKeys(schemaAt(context.schema, local, context.data));
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: unknownKeyMessage(key, known, path),
      }));
    }
    case "invalid_key": {
      const key = String(local.at(-1) ?? "");
      const inner = issue.issues.flatMap((i) =>
        convert(i as Issue, { schema: z.string(), data: key, base: [] }, [])
      );
      const reason = inner.map((p) => p.message.replace(/; got .*$/s, "")).join("; ");
      return problem(`invalid name ${preview(key)}${reason ? `: ${reason}` : ""}`);
    }
    case "invalid_union":
      return unionProblems(issue, context, local, value, problem);
    default:
      return problem(issue.message || "invalid value");
  }
}

function toSegment(segment: PropertyKey): PathSegment {
  return typeof segment === "number" ? segment : String(segment);
}

const TYPE_NAMES: Record<string, string> = { int: "integer", record: "object", tuple: "array" };

function typeMessage(expected: string, value: unknown, schema: z.ZodType | undefined): string {
  if (value === undefined) return "required";
  const isInteger = schema instanceof z.ZodNumber && schema.isInt;
  const name = isInteger ? "integer" : TYPE_NAMES[expected] ?? expected;
  if (typeof value === "number" && !Number.isFinite(value) && expected === "number") {
    return `expected a finite ${name}; got ${preview(value)}`;
  }
  return `expected ${name}; got ${preview(value)}`;
}

function oneOf(values: readonly unknown[], value: unknown): string {
  const names = values.map((v) => (typeof v === "string" ? v : preview(v))).join(", ");
  const expected = values.length === 1
    ? `expected ${preview(values[0])}`
    : `expected one of ${names}`;
  return value === undefined ? `required; ${expected}` : `${expected}; got ${preview(value)}`;
}

function rangeMessage(
  issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig,
  value: unknown,
  schema: z.ZodType | undefined,
): string {
  const small = issue.code === "too_small";
  const limit = small
    ? (issue as z.core.$ZodIssueTooSmall).minimum
    : (issue as z.core.$ZodIssueTooBig).maximum;
  const got = `got ${preview(value)}`;
  switch (issue.origin) {
    case "string":
      if (small && Number(limit) === 1) return `expected a non-empty string; ${got}`;
      return `expected a string of ${small ? "at least" : "at most"} ${limit} characters; ${got}`;
    case "array":
    case "set": {
      const count = Array.isArray(value) ? `${value.length} items` : preview(value);
      return `expected ${small ? "at least" : "at most"} ${limit} items; got ${count}`;
    }
    default: {
      const number = schema instanceof z.ZodNumber ? schema : undefined;
      const integer = issue.origin === "int" || number?.isInt === true;
      // Out of the safe-integer range, zod names that range; the field's own bound reads better.
      const own = small ? number?.minValue : number?.maxValue;
      const bound = typeof own === "number" && Number.isFinite(own) &&
          Math.abs(Number(limit)) === Number.MAX_SAFE_INTEGER
        ? own
        : limit;
      const operator = (small ? ">" : "<") + (issue.inclusive === false ? "" : "=");
      return `expected ${integer ? "an integer" : "a number"} ${operator} ${bound}; ${got}`;
    }
  }
}

function formatMessage(issue: z.core.$ZodIssueInvalidStringFormat, value: unknown): string {
  const got = `got ${preview(value)}`;
  if (issue.pattern === String(SERVICE_NAME_PATTERN)) return `${NAME_RULE}; ${got}`;
  if (issue.message && !/^Invalid\b/.test(issue.message)) return `${issue.message}; ${got}`;
  if (issue.pattern) return `expected a string matching ${issue.pattern}; ${got}`;
  return `expected ${issue.format}; ${got}`;
}

function knownKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unknownKeyMessage(
  key: string,
  known: readonly string[],
  objectPath: readonly PathSegment[],
): string {
  if (key === "name" && formatPath(objectPath) === "defaults") {
    return "unknown key; a service name cannot have a default";
  }
  const near = suggest(key, known);
  if (near !== undefined) return `unknown key; did you mean ${JSON.stringify(near)}?`;
  if (known.length > 0 && known.length <= 8) {
    return `unknown key; expected one of ${known.join(", ")}`;
  }
  return "unknown key";
}

function unionProblems(
  issue: Extract<Issue, { code: "invalid_union" }>,
  context: IssueContext,
  local: readonly PropertyKey[],
  value: unknown,
  problem: (message: string) => RawProblem[],
): RawProblem[] {
  if (issue.note === "No matching discriminator" || issue.errors.length === 0) {
    if (issue.options && issue.options.length > 0) return problem(oneOf(issue.options, value));
    return problem(`expected exactly one matching form; got ${preview(value)}`);
  }
  // A branch that failed only because the value has another JS type says
  // nothing useful; report the branch the value was evidently meant for.
  const isTypeMismatch = (branch: readonly z.core.$ZodIssue[]) =>
    branch.some((i) => i.code === "invalid_type" && i.path.length === 0);
  const meant = issue.errors.find((branch) => !isTypeMismatch(branch));
  if (meant !== undefined) {
    return withoutFollowUps(meant).flatMap((i) => convert(i as Issue, context, local));
  }
  if (local.at(-1) === "health_check") {
    return problem(
      `expected the name of a health check or a health check object; got ${preview(value)}`,
    );
  }
  const expected = issue.errors.map((branch) => {
    const first = branch[0];
    const name = first?.code === "invalid_type" ? first.expected : "other";
    return TYPE_NAMES[name] ?? name;
  });
  return problem(`expected ${[...new Set(expected)].join(" or ")}; got ${preview(value)}`);
}
