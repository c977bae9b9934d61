/**
 * Runtime changes to a registry file: add, replace or remove one service
 * definition in the document as written (its `defaults`, `health_checks`
 * and `${VAR}` references stay as they are), validate the whole result
 * exactly as `loadRegistry` does, and write it back atomically.
 *
 * @module
 */
import { dirname, resolve } from "../path.ts";
import { RegistryError, type RegistryProblem } from "../errors.ts";
import { parseRegistry, readRegistryText, type Registry } from "./load.ts";
import {
  formatOf,
  jsonNestingExceeds,
  loadYamlParser,
  MAX_JSON_NESTING,
  parseText,
  yamlLibrary,
} from "./parse_text.ts";
import { writeFileAtomic } from "./persist.ts";
import { isPlainObject } from "./problems.ts";

/** One change to the services of a registry. */
export type RegistryEdit =
  /** Append a service definition. */
  | { kind: "add"; service: unknown }
  /** Replace the definition named `name` (appended when the file lacks it). */
  | { kind: "replace"; name: string; service: unknown }
  /** Drop the definition named `name` (nothing when the file lacks it). */
  | { kind: "remove"; name: string };

/** Result of {@linkcode editRegistryText}. */
export interface EditedRegistry {
  /** The new text of the file. */
  text: string;
  /** The new registry, loaded from `text`. */
  registry: Registry;
}

/**
 * Apply `edit` to the registry text `text` (read from `source`) and validate
 * the result. Pure apart from reading the environment for `${VAR}`.
 *
 * @throws {RegistryError} when the current text is not a registry, or when
 * the result is invalid. Problems inside the edited definition have paths
 * relative to it (`restart_policy`, not `services[3].restart_policy`).
 */
export function editRegistryText(
  text: string,
  edit: RegistryEdit,
  options: { source: string; baseDir?: string; env?: Record<string, string | undefined> },
): EditedRegistry {
  const format = formatOf(options.source);
  if (format === "json" && jsonNestingExceeds(text)) {
    throw new RegistryError(options.source, [{
      path: "",
      message: `nested more than ${MAX_JSON_NESTING} levels deep; cannot change it`,
    }]);
  }
  const parsed = parseText(text, format);
  if (!parsed.ok) throw new RegistryError(options.source, parsed.problems);
  const root = parsed.value;
  if (!isPlainObject(root) || !Array.isArray(root.services)) {
    // Let the loader describe what is wrong with the file itself.
    parseRegistry(text, options);
    throw new RegistryError(options.source, [{ path: "services", message: "expected an array" }]);
  }
  const services = [...root.services] as unknown[];
  const indexOf = (name: string) => services.findIndex((s) => isPlainObject(s) && s.name === name);
  let edited = -1;
  if (edit.kind === "add") {
    edited = services.push(edit.service) - 1;
  } else if (edit.kind === "replace") {
    edited = indexOf(edit.name);
    if (edited < 0) edited = services.push(edit.service) - 1;
    else services[edited] = edit.service;
  } else {
    const at = indexOf(edit.name);
    if (at >= 0) services.splice(at, 1);
  }
  const next = { ...root, services };
  const nextText = format === "yaml"
    ? yamlLibrary().stringify(next)
    : JSON.stringify(next, null, 2) + "\n";
  try {
    return { text: nextText, registry: parseRegistry(nextText, options) };
  } catch (error) {
    if (!(error instanceof RegistryError) || edited < 0) throw error;
    throw new RegistryError(
      options.source,
      error.problems.map((p) => relativeTo(p, `services[${edited}]`)),
      { cause: error },
    );
  }
}

/**
 * Apply `edit` to the registry file `path`, validate, and write the result
 * atomically (the previous version kept as `{path}.bak`). Returns the new
 * registry. Nothing is written when the result is invalid.
 *
 * @throws {RegistryError} listing every problem of the result.
 */
export async function editRegistryFile(
  path: string,
  edit: RegistryEdit,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<Registry> {
  if (formatOf(path) === "yaml") await loadYamlParser();
  const text = await readRegistryText(path);
  const result = editRegistryText(text, edit, {
    source: path,
    baseDir: dirname(resolve(path)),
    env: options.env,
  });
  await writeFileAtomic(path, result.text);
  return result.registry;
}

function relativeTo(problem: RegistryProblem, prefix: string): RegistryProblem {
  if (problem.path === prefix) return { ...problem, path: "" };
  if (problem.path.startsWith(prefix + ".")) {
    return { ...problem, path: problem.path.slice(prefix.length + 1) };
  }
  if (problem.path.startsWith(prefix + "[")) {
    return { ...problem, path: problem.path.slice(prefix.length) };
  }
  return problem;
}
