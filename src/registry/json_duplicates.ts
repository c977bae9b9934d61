/**
 * Duplicate keys in JSON objects. `JSON.parse` keeps the last of two equal
 * keys without a word; a registry with `"cmd"` written twice almost always
 * holds a mistake, so the loader reports each one with the path of its
 * object (`services[0]: duplicate key "cmd"`).
 *
 * @module
 */
import { formatPath, type PathSegment } from "./problems.ts";
import type { RegistryProblem } from "../errors.ts";

/** At most this many duplicates are reported; the rest are counted in one more problem. */
const MAX_REPORTED = 50;

type Frame =
  | { kind: "object"; keys: Set<string>; key: string | undefined }
  | { kind: "array"; index: number };

/**
 * Every duplicate key in valid JSON `text`, each with the path of the object
 * that holds it. Keys compare after unescaping (`"cmd"` equals `"\u0063md"`).
 * Iterative, so deep nesting cannot overflow the stack; linear in the text.
 * The text must be valid JSON (`JSON.parse` accepted it).
 *
 * @example
 * ```ts
 * findJsonDuplicateKeys('{"services": [{"name": "a", "cmd": "x", "cmd": "y"}]}');
 * // [{ path: "services[0]", message: 'duplicate key "cmd"' }]
 * ```
 */
export function findJsonDuplicateKeys(text: string): RegistryProblem[] {
  const stack: Frame[] = [];
  const problems: RegistryProblem[] = [];
  let more = 0;
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      let escaped = false;
      while (end < text.length) {
        const d = text[end]!;
        if (escaped) escaped = false;
        else if (d === "\\") escaped = true;
        else if (d === '"') break;
        end++;
      }
      const top = stack.at(-1);
      if (expectKey && top?.kind === "object") {
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? JSON.parse(`"${raw}"`) as string : raw;
        if (top.keys.has(key)) {
          if (problems.length < MAX_REPORTED) {
            problems.push({ path: pathOf(stack), message: `duplicate key ${JSON.stringify(key)}` });
          } else more++;
        } else top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === "{") {
      stack.push({ kind: "object", keys: new Set(), key: undefined });
      expectKey = true;
    } else if (c === "[") {
      stack.push({ kind: "array", index: 0 });
      expectKey = false;
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      const top = stack.at(-1);
      if (top?.kind === "array") top.index++;
      else if (top?.kind === "object") expectKey = true;
    }
    i++;
  }
  if (more > 0) problems.push({ path: "", message: `${more} more duplicate keys` });
  return problems;
}

/** Path of the innermost object: the keys and indices of the frames around it. */
function pathOf(stack: readonly Frame[]): string {
  const segments: PathSegment[] = [];
  for (let f = 0; f < stack.length - 1; f++) {
    const frame = stack[f]!;
    segments.push(frame.kind === "array" ? frame.index : frame.key ?? "");
  }
  return formatPath(segments);
}
