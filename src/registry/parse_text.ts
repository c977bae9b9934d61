/**
 * First step of loading a registry: turn JSON or YAML text into a value,
 * reporting syntax errors with `line:column`.
 *
 * @module
 */
import type { RegistryProblem } from "../errors.ts";
import { findJsonDuplicateKeys } from "./json_duplicates.ts";

/** Text format of a registry file. */
export type RegistryFormat = "json" | "yaml";

/** Outcome of {@link parseText}: a value, or the syntax problems (path `""`). */
export type ParseResult =
  | { ok: true; value: unknown }
  | { ok: false; problems: RegistryProblem[] };

/** Format of a registry file, from its name: YAML for `.yaml` and `.yml`, else JSON. */
export function formatOf(path: string): RegistryFormat {
  return /\.ya?ml$/i.test(path) ? "yaml" : "json";
}

/** The YAML library, once {@linkcode loadYamlParser} has loaded it. */
let yaml: typeof import("yaml") | undefined;

/**
 * Load the YAML library, which YAML registries need: it is a module of its
 * own, loaded only then (it would bring Deno's Node layer, several MiB, into
 * every run of a JSON registry). `loadRegistry()` and `editRegistryFile()`
 * call it; call it before `parseRegistry()` of YAML text.
 */
export async function loadYamlParser(): Promise<typeof import("yaml")> {
  return yaml ??= await import("yaml");
}

/** The YAML library loaded by {@linkcode loadYamlParser}. @throws {Error} when it was not loaded. */
export function yamlLibrary(): typeof import("yaml") {
  if (!yaml) throw new Error("the YAML parser is not loaded: await loadYamlParser() first");
  return yaml;
}

/** Most YAML aliases one document may expand; guards against "billion laughs". */
const MAX_ALIAS_COUNT = 100;

/**
 * Most levels of arrays and objects inside one another that a JSON request
 * body may have (a service definition needs about 4). Walking a deeper value
 * with recursive functions (`JSON.stringify`, validation) could exhaust the
 * stack. (A registry file may nest deeper: its problems are reported with
 * their paths.)
 */
export const MAX_JSON_NESTING = 64;

/**
 * Whether JSON text nests arrays and objects more than `max` levels deep.
 * One pass over the characters (brackets inside strings do not count), so
 * any depth is measured without recursion; the text need not be valid.
 *
 * @example
 * ```ts
 * jsonNestingExceeds("[[1]]", 1); // true
 * jsonNestingExceeds('["[[["]', 1); // false
 * ```
 */
export function jsonNestingExceeds(text: string, max: number = MAX_JSON_NESTING): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return false;
}

/**
 * Parse registry text. An empty (or blank, or comment-only YAML) document is
 * a problem, `registry is empty`. Never throws.
 *
 * @example
 * ```ts
 * parseText('{"services": [}', "json");
 * // { ok: false, problems: [{ path: "", message: "invalid JSON at 1:15: unexpected \"}\"" }] }
 * ```
 */
export function parseText(text: string, format: RegistryFormat): ParseResult {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (body.trim() === "") return failure("registry is empty");
  return format === "yaml" ? parseYaml(body) : parseJson(body);
}

function failure(...messages: string[]): ParseResult {
  return { ok: false, problems: messages.map((message) => ({ path: "", message })) };
}

function parseJson(text: string): ParseResult {
  try {
    const value: unknown = JSON.parse(text);
    const duplicates = findJsonDuplicateKeys(text);
    return duplicates.length === 0 ? { ok: true, value } : { ok: false, problems: duplicates };
  } catch (error) {
    const found = findJsonSyntaxError(text);
    if (found === undefined) return failure(`invalid JSON: ${messageOf(error)}`);
    return failure(`invalid JSON at ${lineColumn(text, found.offset)}: ${found.reason}`);
  }
}

function parseYaml(text: string): ParseResult {
  try {
    const document = yamlLibrary().parseDocument(text, { prettyErrors: false, uniqueKeys: true });
    if (document.errors.length > 0) {
      return failure(
        ...document.errors.map((e) =>
          `invalid YAML at ${lineColumn(text, e.pos[0])}: ${
            STACK_OVERFLOW.test(e.message) ? "nested too deeply" : e.message
          }`
        ),
      );
    }
    // A document of only comments, `---` or an explicit null has no registry in it.
    const value: unknown = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (value === null || value === undefined) return failure("registry is empty");
    return { ok: true, value };
  } catch (error) {
    return failure(
      `invalid YAML: ${
        STACK_OVERFLOW.test(messageOf(error)) ? "nested too deeply" : messageOf(error)
      }`,
    );
  }
}

/** V8's message when the stack is exhausted, which the YAML parser reports as a syntax error. */
const STACK_OVERFLOW = /^Maximum call stack size exceeded/;

/** `line:column` (both from 1) of a character offset in `text`. */
export function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = text.indexOf("\n"); i >= 0 && i < end; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `${line}:${end - lineStart + 1}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where JSON text first goes wrong and why. */
export interface JsonSyntaxError {
  /** Character offset of the offending character (the text length at an early end). */
  offset: number;
  /** What is wrong, e.g. `expected "," or "}"`. */
  reason: string;
}

type Expect = "value" | "value-or-close" | "key" | "key-or-close" | "colon" | "after-value";

/**
 * Find the first JSON syntax error in `text`, or undefined when it is valid.
 * Used because `JSON.parse` does not always say where it failed. Iterative,
 * so deep nesting cannot overflow the stack.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const stack: string[] = [];
  let expect: Expect = "value";
  let i = 0;
  const fail = (reason: string, offset = i): JsonSyntaxError => ({ offset, reason });
  const shown = (offset: number) => JSON.stringify(String.fromCodePoint(text.codePointAt(offset)!));
  while (true) {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
    if (i >= text.length) {
      return stack.length === 0 && expect === "after-value"
        ? undefined
        : fail("unexpected end of input");
    }
    const c = text[i]!;
    if (expect === "after-value") {
      const top = stack.at(-1);
      if (top === undefined) return fail(`unexpected ${shown(i)} after the end of the document`);
      const close = top === "[" ? "]" : "}";
      if (c === ",") expect = top === "[" ? "value" : "key";
      else if (c === close) stack.pop();
      else return fail(`expected "," or "${close}"; got ${shown(i)}`);
      i++;
    } else if (expect === "colon") {
      if (c !== ":") return fail(`expected ":"; got ${shown(i)}`);
      expect = "value";
      i++;
    } else if (expect === "key" || expect === "key-or-close") {
      if (c === "}") {
        if (expect === "key") return fail('unexpected "}" after "," (trailing comma)');
        stack.pop();
        expect = "after-value";
        i++;
      } else if (c === '"') {
        const error = scanString();
        if (error) return error;
        expect = "colon";
      } else return fail(`expected a double-quoted property name; got ${shown(i)}`);
    } else {
      if (c === "]" && expect === "value-or-close") {
        stack.pop();
        expect = "after-value";
        i++;
      } else if (c === "[" || c === "{") {
        stack.push(c);
        expect = c === "[" ? "value-or-close" : "key-or-close";
        i++;
      } else if (c === '"') {
        const error = scanString();
        if (error) return error;
        expect = "after-value";
      } else if (c === "-" || (c >= "0" && c <= "9")) {
        const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
        match.lastIndex = i;
        const found = match.exec(text);
        if (found === null || found[0] === "-") return fail("invalid number");
        const start = i;
        i += found[0].length;
        if (i < text.length && /[0-9.eE+-]/.test(text[i]!)) return fail("invalid number", start);
        expect = "after-value";
      } else {
        const word = /[A-Za-z_]+/y;
        word.lastIndex = i;
        const literal = word.exec(text)?.[0];
        if (literal === "true" || literal === "false" || literal === "null") {
          i += literal.length;
          expect = "after-value";
        } else if (c === "]") return fail('unexpected "]" after "," (trailing comma)');
        else if (literal !== undefined) {
          return fail(`unexpected word ${JSON.stringify(literal.slice(0, 20))}`);
        } else return fail(`unexpected ${shown(i)}`);
      }
    }
  }

  function scanString(): JsonSyntaxError | undefined {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("invalid \\u escape");
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return fail(`invalid escape ${JSON.stringify("\\" + (e ?? ""))}`);
      } else if (c < " ") return fail("control character in string (use an escape such as \\n)");
      else i++;
    }
    return fail("unterminated string", start);
  }
}
