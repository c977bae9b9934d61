/**
 * Load a registry: parse the text, apply the top-level `defaults`, expand
 * `${VAR}` references, validate, cross-check, and resolve working
 * directories. Each step is a small function; every problem found on the
 * way is collected and reported at once in one {@link RegistryError}. What
 * is accepted but probably not meant comes back in {@link Registry.warnings}.
 *
 * @example
 * ```ts
 * import { loadRegistry } from "./load.ts";
 * const registry = await loadRegistry("registry/example.json");
 * for (const service of registry.services) console.log(service.name, service.cmd);
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "../path.ts";
import { errorText, RegistryError, type RegistryProblem } from "../errors.ts";
import { omegaosWarnings, usesOmegaosConvention } from "./checks.ts";
import { checkDependencies } from "./dependencies.ts";
import { expandVariables, type VariableLookup } from "./expand.ts";
import { formatOf, loadYamlParser, parseText, type RegistryFormat } from "./parse_text.ts";
import {
  formatPath,
  isPlainObject,
  issuesToProblems,
  listBriefly,
  type PathSegment,
  preview,
  type RawProblem,
  suggest,
  toRegistryProblem,
} from "./problems.ts";
import {
  defaultsSchema,
  type HealthCheckSpec,
  registrySchema,
  type ServiceSpec,
} from "./schema.ts";

export type { HealthCheckSpec, ServiceSpec } from "./schema.ts";

/** A loaded, valid registry. */
export interface Registry {
  /** The path the registry was loaded from, as given, or `<inline>`. */
  source: string;
  /** Absolute directory that relative `working_dir`s were resolved against. */
  dir: string;
  /** Every service with defaults applied, variables expanded and `working_dir` absolute. */
  services: ServiceSpec[];
  /** Named health checks that services refer to by name (top-level `health_checks`). */
  healthChecks: Record<string, HealthCheckSpec>;
  /** Seconds between two samples of process metrics (top-level `metrics_interval`). @default 2 */
  metricsInterval?: number;
  /**
   * What is accepted but probably not meant, each with its JSON path: a
   * `health_check` that names no defined check (the OmegaOS convention,
   * see `checks.ts`). Empty when there is nothing to say.
   */
  warnings: RegistryProblem[];
}

/** Options of {@link parseRegistry}. */
export interface ParseRegistryOptions {
  /**
   * Name of the registry in error messages and {@link Registry.source}.
   * @default "<inline>"
   */
  source?: string;
  /**
   * Text format.
   * @default "yaml" when `source` ends in `.yaml` or `.yml`, else "json"
   */
  format?: RegistryFormat;
  /**
   * Directory that relative `working_dir`s resolve against.
   * @default the current directory
   */
  baseDir?: string;
  /**
   * Variables for `${VAR}` expansion; an `undefined` value counts as unset.
   * @default the process environment (read only for the names referenced)
   */
  env?: Record<string, string | undefined>;
}

/** Options of {@link loadRegistry}. */
export interface LoadRegistryOptions {
  /**
   * Variables for `${VAR}` expansion; an `undefined` value counts as unset.
   * @default the process environment (read only for the names referenced)
   */
  env?: Record<string, string | undefined>;
}

/** Service fields whose object value merges with `defaults` key by key. */
const MERGED_FIELDS = new Set(["backoff", "crash_loop", "log", "env"]);

/**
 * Parse, check and normalize registry text. Does no file I/O; reads the
 * process environment only when `options.env` is not given. YAML text needs
 * `await loadYamlParser()` once before (`loadRegistry()` does it); without
 * it, the problem reported says so.
 *
 * @throws {RegistryError} listing every problem found, each with its JSON path.
 * Nothing else is ever thrown, whatever the input.
 *
 * @example
 * ```ts
 * const registry = parseRegistry('{"services": [{"name": "api", "cmd": "${BIN:-/usr/bin/api}"}]}', {
 *   env: {},
 * });
 * registry.services[0]?.cmd; // "/usr/bin/api"
 * ```
 */
export function parseRegistry(text: string, options: ParseRegistryOptions = {}): Registry {
  const source = options.source ?? "<inline>";
  try {
    return parseOrThrow(text, source, options);
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    throw new RegistryError(source, [{ path: "", message: `internal error: ${String(error)}` }], {
      cause: error,
    });
  }
}

function parseOrThrow(text: string, source: string, options: ParseRegistryOptions): Registry {
  const fail = (problems: readonly RawProblem[]): never => {
    throw new RegistryError(source, sortProblems(problems).map(toRegistryProblem));
  };
  const format = options.format ?? formatOf(source);
  const parsed = parseText(String(text), format);
  if (!parsed.ok) throw new RegistryError(source, parsed.problems);
  const root = parsed.value;
  if (!isPlainObject(root)) {
    return fail([{
      path: [],
      message: `expected an object with a "services" array; got ${preview(root)}`,
    }]);
  }

  const defaults = checkDefaults(root.defaults);
  const merged = applyDefaults(root, defaults.usable);
  const expanded = expandServices(merged, lookupIn(options.env));
  const validated = validate(expanded.root);
  const crossProblems = crossCheck(root);
  const problems = [
    ...defaults.problems,
    ...validated.problems,
    ...crossProblems,
    ...expanded.problems,
  ];
  if (validated.value === undefined && problems.length === 0) {
    problems.push({ path: [], message: "not a valid registry" });
  }
  if (problems.length > 0 || validated.value === undefined) return fail(problems);

  const dir = baseDirectory(options.baseDir, source);
  const services = validated.value.services.map((service) => resolveWorkingDir(service, dir));
  const healthChecks = validated.value.health_checks ?? {};
  return {
    source,
    dir,
    services,
    healthChecks,
    metricsInterval: validated.value.metrics_interval ?? 2,
    warnings: omegaosWarnings(services, healthChecks).map(toRegistryProblem),
  };
}

/**
 * Read and load a registry file: `.yaml`/`.yml` as YAML, anything else as
 * JSON; relative `working_dir`s resolve against the file's directory.
 *
 * @throws {RegistryError} when the file cannot be read (one problem such as
 * `cannot read file: No such file or directory`) or is not a valid registry.
 */
export async function loadRegistry(
  path: string,
  options: LoadRegistryOptions = {},
): Promise<Registry> {
  const text = await readRegistryText(path);
  const dir = dirname(resolve(path));
  if (formatOf(path) === "yaml") await loadYamlParser();
  return parseRegistry(text, { source: path, baseDir: dir, env: options.env });
}

/**
 * Largest registry file read, in bytes: 4 MiB. A registry of 1000 services
 * with every field set, written with two-space indents, is about 1 MiB.
 */
export const MAX_REGISTRY_BYTES = 4 * 1024 * 1024;

/**
 * The text of the registry file `path`. Its size is checked before it is
 * read, and no more than {@linkcode MAX_REGISTRY_BYTES} + 1 bytes are read
 * however it grows meanwhile; only regular files are read (reading a FIFO
 * without a writer would block for ever).
 *
 * @throws {RegistryError} with one problem: `cannot read file: …`, or
 * `file too large: …` naming its size and the limit.
 */
export async function readRegistryText(path: string): Promise<string> {
  let size: number;
  let bytes: Uint8Array | undefined;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile && !info.isDirectory) {
      throw new TypeError("it is not a regular file (a FIFO, socket or device)");
    }
    size = info.size;
    if (size <= MAX_REGISTRY_BYTES) bytes = await readAtMost(path, MAX_REGISTRY_BYTES + 1);
  } catch (error) {
    throw new RegistryError(path, [{
      path: "",
      message: `cannot read file: ${readErrorMessage(error)}`,
    }], {
      cause: error,
    });
  }
  if (bytes === undefined || bytes.length > MAX_REGISTRY_BYTES) {
    const found = bytes === undefined
      ? `${size} bytes (${mebibytes(size)})`
      : `more than ${MAX_REGISTRY_BYTES} bytes`;
    const limit = `${MAX_REGISTRY_BYTES} bytes (${mebibytes(MAX_REGISTRY_BYTES)})`;
    throw new RegistryError(path, [{
      path: "",
      message: `file too large: ${found}; a registry may hold at most ${limit}`,
    }]);
  }
  return new TextDecoder().decode(bytes);
}

/** The first `limit` bytes of the file `path` (all of it when it is shorter). */
async function readAtMost(path: string, limit: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < limit) {
    const chunk = new Uint8Array(Math.min(64 * 1024, limit - length));
    const read = await file.read(chunk);
    if (read === null) break;
    chunks.push(chunk.subarray(0, read));
    length += read;
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1).replace(/\.0$/, "")} MiB`;
}

/**
 * One log line per warning of `registry`, for the orchestrator's log at
 * start and at each reload.
 *
 * @example
 * ```ts
 * const registry = parseRegistry(
 *   '{"services": [{"name": "m", "cmd": "m", "port": 8081, "health_check": "movement_check"}]}',
 *   { source: "r.json" },
 * );
 * warningLines(registry);
 * // ['warning: registry "r.json": services[0].health_check: "movement_check" is not …']
 * ```
 */
export function warningLines(registry: Pick<Registry, "source" | "warnings">): string[] {
  return registry.warnings.map((warning) =>
    `warning: registry ${JSON.stringify(registry.source)}: ${
      warning.path ? `${warning.path}: ` : ""
    }${warning.message}`
  );
}

function readErrorMessage(error: unknown): string {
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory, not a file";
  return errorText(error);
}

/** Outcome of {@link checkDefaults}. */
interface CheckedDefaults {
  /** The fields of `defaults` that are valid, to be applied to services. */
  usable: Record<string, unknown>;
  /** Problems in `defaults`, under `defaults.`. */
  problems: RawProblem[];
}

/**
 * Validate the top-level `defaults` on their own, so that a bad default is
 * reported once (at `defaults.x`) and not again for every service.
 */
function checkDefaults(defaults: unknown): CheckedDefaults {
  if (defaults === undefined) return { usable: {}, problems: [] };
  const result = defaultsSchema.safeParse(defaults);
  if (result.success) return { usable: defaults as Record<string, unknown>, problems: [] };
  const problems = issuesToProblems(result.error.issues, {
    schema: defaultsSchema,
    data: defaults,
    base: ["defaults"],
  });
  if (!isPlainObject(defaults)) return { usable: {}, problems };
  const bad = new Set(problems.map((p) => p.path[1]));
  const usable = Object.fromEntries(
    Object.entries(defaults).filter(([key]) =>
      Object.hasOwn(defaultsSchema.shape, key) && !bad.has(key)
    ),
  );
  return { usable, problems };
}

/**
 * Give each service the fields of `defaults` it does not set itself; for
 * `backoff`, `crash_loop`, `log` and `env` the two objects merge key by key,
 * the service's keys winning.
 */
function applyDefaults(
  root: Record<string, unknown>,
  defaults: Record<string, unknown>,
): Record<string, unknown> {
  if (!Array.isArray(root.services) || Object.keys(defaults).length === 0) return root;
  const services = root.services.map((service: unknown) => {
    if (!isPlainObject(service)) return service;
    const entries = Object.entries(defaults).map(([key, value]): [string, unknown] => {
      const own = Object.hasOwn(service, key) ? service[key] : undefined;
      if (own === undefined) return [key, structuredClone(value)];
      if (MERGED_FIELDS.has(key) && isPlainObject(own) && isPlainObject(value)) {
        return [key, Object.fromEntries([...Object.entries(value), ...Object.entries(own)])];
      }
      return [key, own];
    });
    return Object.fromEntries([...Object.entries(service), ...entries]);
  });
  return { ...root, services };
}

function lookupIn(env: Record<string, string | undefined> | undefined): VariableLookup {
  if (env === undefined) return (name) => Deno.env.get(name);
  return (name) => {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    return typeof value === "string" ? value : undefined;
  };
}

/**
 * Expand `${VAR}` in `cmd`, `args`, `env` values and `working_dir` of every
 * service. `env` values see the outer variables only; the other fields also
 * see the service's own (expanded) `env`, which wins. Values of the wrong
 * type are left for validation to report.
 */
function expandServices(
  root: Record<string, unknown>,
  outer: VariableLookup,
): { root: Record<string, unknown>; problems: RawProblem[] } {
  if (!Array.isArray(root.services)) return { root, problems: [] };
  const problems: RawProblem[] = [];
  const expand = (text: string, lookup: VariableLookup, path: PathSegment[]): string => {
    const result = expandVariables(text, lookup);
    for (const message of result.problems) problems.push({ path, message });
    // On failure keep the text as written, so validation does not also
    // complain about the half-expanded value.
    return result.problems.length > 0 ? text : result.value;
  };
  const services = root.services.map((service: unknown, index) => {
    if (!isPlainObject(service)) return service;
    const at = (...rest: PathSegment[]): PathSegment[] => ["services", index, ...rest];
    const out: Record<string, unknown> = { ...service };
    let own: Record<string, unknown> = {};
    if (isPlainObject(service.env)) {
      own = Object.fromEntries(
        Object.entries(service.env).map(([key, value]) => [
          key,
          typeof value === "string" ? expand(value, outer, at("env", key)) : value,
        ]),
      );
      out.env = own;
    }
    const lookup: VariableLookup = (name) => {
      const value = Object.hasOwn(own, name) ? own[name] : undefined;
      return typeof value === "string" ? value : outer(name);
    };
    if (typeof service.cmd === "string") out.cmd = expand(service.cmd, lookup, at("cmd"));
    if (Array.isArray(service.args)) {
      out.args = service.args.map((arg: unknown, i) =>
        typeof arg === "string" ? expand(arg, lookup, at("args", i)) : arg
      );
    }
    if (typeof service.working_dir === "string") {
      out.working_dir = expand(service.working_dir, lookup, at("working_dir"));
    }
    return out;
  });
  return { root: { ...root, services }, problems };
}

type ValidRegistry = ReturnType<typeof registrySchema.parse>;

/** Validate with zod (defaults were checked on their own), collecting every issue. */
function validate(
  root: Record<string, unknown>,
): { value?: ValidRegistry; problems: RawProblem[] } {
  const data = { ...root, defaults: undefined };
  const result = registrySchema.safeParse(data);
  if (result.success) return { value: result.data, problems: [] };
  return {
    problems: issuesToProblems(result.error.issues, { schema: registrySchema, data, base: [] }),
  };
}

/**
 * Checks that span several values: duplicate service names and references
 * to named health checks. A `health_check` naming no check when
 * `health_checks` defines none is the OmegaOS convention (a warning, see
 * `checks.ts`), not an error; `readiness` and `liveness` names must exist.
 */
function crossCheck(root: Record<string, unknown>): RawProblem[] {
  const problems: RawProblem[] = [];
  const services = Array.isArray(root.services) ? root.services : [];
  const firstIndex = new Map<string, number>();
  services.forEach((service: unknown, index) => {
    if (!isPlainObject(service) || typeof service.name !== "string") return;
    const first = firstIndex.get(service.name);
    if (first === undefined) firstIndex.set(service.name, index);
    else {
      problems.push({
        path: ["services", index, "name"],
        message: `duplicate name ${preview(service.name)}, first at ${
          formatPath(["services", first])
        }`,
      });
    }
  });

  const checks = isPlainObject(root.health_checks) ? root.health_checks : {};
  const known = Object.keys(checks);
  const omegaos = usesOmegaosConvention(checks);
  const checkReference = (owner: unknown, path: PathSegment[], field = "health_check") => {
    if (!isPlainObject(owner)) return;
    const name = owner[field];
    if (typeof name !== "string" || name === "" || Object.hasOwn(checks, name)) return;
    if (field === "health_check" && omegaos) return;
    const near = suggest(name, known);
    const defined = `defined checks: ${listBriefly(known)}`;
    const hint = known.length === 0
      ? 'there is no top-level "health_checks"'
      : near !== undefined
      ? `did you mean ${JSON.stringify(near)}? (${defined})`
      : field === "health_check"
      ? `${defined}; a name not defined here is checked as the service's TCP port only in a ` +
        'registry without "health_checks" (the OmegaOS convention)'
      : defined;
    problems.push({
      path: [...path, field],
      message: `unknown health check ${preview(name)}; ${hint}`,
    });
  };
  for (const field of ["health_check", "readiness", "liveness"]) {
    checkReference(root.defaults, ["defaults"], field);
    services.forEach((service: unknown, index) =>
      checkReference(service, ["services", index], field)
    );
  }
  problems.push(...checkDependencies(services));
  return problems;
}

/** Order problems by the part of the document they are in, keeping the order found within a part. */
function sortProblems(problems: readonly RawProblem[]): RawProblem[] {
  const sections = ["$schema", "defaults", "health_checks", "services"];
  const rank = (p: RawProblem): [number, number] => {
    const [head, index] = p.path;
    const section = head === undefined ? -1 : sections.indexOf(String(head));
    return [
      section < 0 && head !== undefined ? sections.length : section,
      typeof index === "number" ? index : -1,
    ];
  };
  return problems
    .map((problem, order) => ({ problem, order, rank: rank(problem) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.order - b.order)
    .map((entry) => entry.problem);
}

function baseDirectory(baseDir: string | undefined, source: string): string {
  try {
    return resolve(baseDir ?? ".");
  } catch (error) {
    throw new RegistryError(source, [{
      path: "",
      message: `cannot resolve the base directory: ${
        error instanceof Error ? error.message : String(error)
      }`,
    }]);
  }
}

/** Make a relative `working_dir` absolute against `dir`; leave it unset when unset. */
function resolveWorkingDir(service: ServiceSpec, dir: string): ServiceSpec {
  if (service.working_dir === undefined || isAbsolute(service.working_dir)) return service;
  return { ...service, working_dir: resolve(dir, service.working_dir) };
}
