/**
 * `${VAR}` expansion in registry strings.
 *
 * Supported forms:
 * - `${NAME}`: the value of `NAME`; an error when it is not set.
 * - `${NAME:-default}`: `default` when `NAME` is unset or empty.
 * - `${NAME-default}`: `default` when `NAME` is unset.
 * - `$$`: a literal `$`.
 *
 * A `$` followed by anything else is kept as is. Defaults may contain
 * further references (`${A:-${B}}`); they are expanded only when used.
 *
 * @module
 */

/** Looks a variable up; returns undefined when it is not set. May throw (e.g. no permission). */
export type VariableLookup = (name: string) => string | undefined;

/** Result of expanding one string. */
export interface Expansion {
  /** The expanded text; references that failed expand to the empty string. */
  value: string;
  /** One message per failed reference, e.g. `variable "FOO" is not set`; empty when all went well. */
  problems: string[];
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/s;
const MAX_DEPTH = 16;

/**
 * Expand `${VAR}` references in `text`, collecting every problem instead of
 * stopping at the first.
 *
 * @example
 * ```ts
 * const env: Record<string, string> = { HOME: "/home/pi" };
 * expandVariables("${HOME}/app ${PORT:-8080} $$5", (name) => env[name]);
 * // { value: "/home/pi/app 8080 $5", problems: [] }
 * ```
 */
export function expandVariables(text: string, lookup: VariableLookup): Expansion {
  const problems: string[] = [];
  const value = expand(text, lookup, problems, 0);
  return { value, problems };
}

function expand(text: string, lookup: VariableLookup, problems: string[], depth: number): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
    } else if (next !== "{") {
      out += "$";
      i = dollar + 1;
    } else {
      const close = findClose(text, dollar + 2);
      if (close < 0) {
        problems.push(`unterminated "\${" at character ${dollar + 1}`);
        out += text.slice(dollar);
        break;
      }
      out += reference(text.slice(dollar + 2, close), lookup, problems, depth);
      i = close + 1;
    }
  }
  return out;
}

/** Index of the `}` that closes a reference whose body starts at `start`, or -1. */
function findClose(text: string, start: number): number {
  let depth = 0;
  for (let j = start; j < text.length; j++) {
    const c = text[j];
    if (c === "$" && (text[j + 1] === "$" || text[j + 1] === "{")) {
      if (text[j + 1] === "{") depth++;
      j++;
    } else if (c === "}") {
      if (depth === 0) return j;
      depth--;
    }
  }
  return -1;
}

function reference(
  body: string,
  lookup: VariableLookup,
  problems: string[],
  depth: number,
): string {
  const match = REFERENCE.exec(body);
  if (match === null) {
    const shown = body.length > 40 ? body.slice(0, 40) + "…" : body;
    problems.push(
      `invalid variable reference ${JSON.stringify("${" + shown + "}")}; ` +
        "expected ${NAME}, ${NAME:-default} or $$ for a literal $",
    );
    return "";
  }
  const [, name = "", operator, fallback = ""] = match;
  let value: string | undefined;
  try {
    value = lookup(name);
  } catch (error) {
    problems.push(`variable ${JSON.stringify(name)} cannot be read: ${messageOf(error)}`);
    return "";
  }
  const useDefault = operator === ":-" ? !value : operator === "-" ? value === undefined : false;
  if (useDefault) {
    if (depth >= MAX_DEPTH) {
      problems.push(`variable references are nested more than ${MAX_DEPTH} deep`);
      return "";
    }
    return expand(fallback, lookup, problems, depth + 1);
  }
  if (value === undefined) {
    problems.push(`variable ${JSON.stringify(name)} is not set`);
    return "";
  }
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
