/**
 * The JSON Schema of registry files, generated from the zod schema so the
 * two cannot drift apart. `registry/schema.json` is this schema written out
 * by `deno task schema`; a test keeps the committed file in sync.
 *
 * Descriptions for editors (hover text) are attached here, in a metadata
 * registry of their own, so the validation schema stays free of them. So
 * are the rules zod checks in code that JSON Schema can state too:
 *
 * - `cmd` is required in each service unless `defaults` gives it: the
 *   service fields that `defaults` may give are not required in `Service`,
 *   and an `if`/`else` at the root requires them of every service when
 *   `defaults` lacks them (zod checks services after defaults are applied);
 * - a cron `schedule` matches {@link CRON_PATTERN}, generated from the
 *   parser's own field table (it also accepts ranges that end before they
 *   start, which only the parser refuses);
 * - `schedule` only with `"kind": "job"` (`dependentSchemas`; checked in
 *   code by `checkDependencies`);
 * - a `log` check's `pattern` has `"format": "regex"`, asserted by
 *   validators that check formats.
 *
 * What JSON Schema cannot state is left to `edgevisor validate`: unique
 * service names, references to names (`health_checks`, `depends_on`,
 * `restart_with`), dependency cycles, `${VAR}` syntax and unset variables,
 * duplicate keys and ranges in cron expressions that end before they start.
 *
 * @module
 */
import { z } from "zod";
import { CRON_PATTERN } from "../cron.ts";
import {
  backoffSchema,
  crashLoopSchema,
  cronSchema,
  defaultsSchema,
  healthCheckSchema,
  logSchema,
  regExpSchema,
  registrySchema,
  serviceSchema,
} from "./schema.ts";

/** `$id` of the registry JSON Schema. */
export const REGISTRY_SCHEMA_ID = "urn:edgevisor:registry";

/** Where the generated schema is committed: `registry/schema.json` at the repository root. */
export const REGISTRY_SCHEMA_URL: URL = new URL("../../registry/schema.json", import.meta.url);

const SERVICE_FIELDS: Record<string, string> = {
  name: "Unique name; used in URLs, NATS subjects and log file names.",
  display_name: "Human-readable name.",
  description: "What the service does.",
  type: "Informational kind of service.",
  cmd: "Program to run (a path, or a name looked up in PATH). May use ${VAR}.",
  args: "Arguments passed to cmd. May use ${VAR}.",
  working_dir:
    "Working directory; relative paths resolve against the registry file's directory. May use ${VAR}.",
  env:
    "Extra environment variables; values may use ${VAR} and are visible to ${VAR} in cmd, args and working_dir.",
  autostart: "Start the service when edgevisor starts.",
  restart_policy: "When to restart the process after it exits.",
  max_restarts: "Restarts in a row before the service is marked failed (on-failure only).",
  backoff: "Delay between restarts: min(max, initial × factor^n) seconds, with jitter.",
  crash_loop: "max_crashes within window seconds put the service in cooldown for cooldown seconds.",
  start_grace: "Seconds a new process must stay up to count as running.",
  stop_signal: "Signal sent to the process group to stop the service.",
  stop_timeout: "Seconds to wait after stop_signal before SIGKILL.",
  health_check: 'A health check, or the name of one in the top-level "health_checks". ' +
    'Without "health_checks", an undefined name checks TCP "port" (the OmegaOS convention).',
  readiness: 'Check that gates starting → running; overrides "health_check" for that role.',
  liveness: 'Check whose failures restart the service; overrides "health_check" for that role.',
  port: "Port the service listens on; checked over TCP when no check is given.",
  log: "Rotation of the service's log files.",
  kind: '"service" runs until stopped; "job" runs to completion and may have a schedule.',
  schedule:
    'Jobs only: {"every": seconds}, or a cron expression (five fields, names such as MON or JAN, or @daily).',
};

const NESTED_FIELDS: [z.ZodObject, Record<string, string>][] = [
  [backoffSchema, {
    initial: "First restart delay in seconds.",
    factor: "Multiplier applied to the delay after each restart.",
    max: "Longest restart delay in seconds.",
    reset_after: "Seconds a run must stay up for the restart count to reset.",
  }],
  [crashLoopSchema, {
    max_crashes: "Crashes within window that trigger cooldown.",
    window: "Sliding window in seconds.",
    cooldown: "Seconds to wait before one more try.",
  }],
  [logSchema, {
    max_size_mb: "Size in MiB at which a log file is rotated.",
    keep: "Rotated files kept.",
  }],
];

const CHECK_KINDS: Record<string, string> = {
  tcp: "Healthy when a TCP connection to host:port succeeds.",
  http: "Healthy when an HTTP request answers with an expected status.",
  exec: "Healthy when a command exits with code 0.",
  file: "Healthy when a file exists (and is younger than max_age seconds).",
  log: "Healthy when the service's output matches pattern.",
};

const CHECK_FIELDS: Record<string, string> = {
  initial_delay: "Seconds to wait after start before the first check.",
  interval: "Seconds between checks.",
  timeout: "Seconds one check may take.",
  success_threshold: "Consecutive successes to become healthy.",
  failure_threshold: "Consecutive failures to become unhealthy.",
};

/** Metadata for the JSON Schema only: ids of shared definitions and descriptions. */
function schemaMetadata(): z.core.$ZodRegistry<z.core.JSONSchemaMeta> {
  const registry = z.registry<z.core.JSONSchemaMeta>();
  const describe = (schema: z.ZodType | undefined, description: string) => {
    if (schema !== undefined && !registry.has(schema)) registry.add(schema, { description });
  };
  registry.add(serviceSchema, { id: "Service", description: "One supervised process." });
  registry.add(healthCheckSchema, {
    id: "HealthCheck",
    description: "How to tell whether a service is healthy.",
  });
  registry.add(defaultsSchema, {
    description: "Values every service gets unless it sets its own.",
  });
  for (const [key, text] of Object.entries(SERVICE_FIELDS)) {
    describe(serviceSchema.shape[key as keyof typeof serviceSchema.shape], text);
    describe(defaultsSchema.shape[key as keyof typeof defaultsSchema.shape], text);
  }
  for (const [schema, fields] of NESTED_FIELDS) {
    for (const [key, text] of Object.entries(fields)) describe(schema.shape[key], text);
  }
  for (const option of healthCheckSchema.options) {
    const kind = [...option.shape.type.values][0] as string;
    describe(option, CHECK_KINDS[kind] ?? `A ${kind} check.`);
    for (const [key, text] of Object.entries(CHECK_FIELDS)) {
      describe((option.shape as Record<string, z.ZodType>)[key], text);
    }
  }
  registry.add(cronSchema, {
    description: "minute hour day-of-month month day-of-week (local time), or " +
      "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.",
    pattern: CRON_PATTERN.source,
    // Shown by VS Code instead of the long pattern (a keyword of its own; ajv in strict
    // mode needs `ajv.addKeyword("patternErrorMessage")`).
    patternErrorMessage: "Not a cron expression: five fields (minute hour day-of-month month " +
      "day-of-week) with *, numbers, names (MON, JAN), ranges, lists and steps, or a macro " +
      "such as @daily. `edgevisor validate` names the field that is wrong.",
  });
  registry.add(regExpSchema, { format: "regex" });
  const root = registrySchema.shape;
  describe(root.$schema, "Path or URL of this JSON Schema, for editors.");
  describe(root.services, "The services to supervise.");
  describe(
    root.health_checks,
    'Named health checks that services refer to by name in "health_check".',
  );
  return registry;
}

/** Service fields that are required after defaults but that `defaults` may give. */
function defaultable(): string[] {
  const required = Object.entries(serviceSchema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([key]) => key);
  return required.filter((key) => Object.hasOwn(defaultsSchema.shape, key));
}

/** Write the rules between fields (see the module comment) into the generated schema. */
function crossFieldRules(context: { zodSchema: unknown; jsonSchema: Record<string, unknown> }) {
  const { zodSchema, jsonSchema } = context;
  if (zodSchema === serviceSchema) {
    const optional = new Set(defaultable());
    jsonSchema.required = (jsonSchema.required as string[]).filter((key) => !optional.has(key));
    jsonSchema.dependentSchemas = {
      schedule: { required: ["kind"], properties: { kind: { type: "string", const: "job" } } },
    };
  } else if (zodSchema === registrySchema) {
    jsonSchema.allOf = defaultable().map((key) => ({
      if: {
        required: ["defaults"],
        properties: { defaults: { type: "object", required: [key] } },
      },
      else: {
        properties: { services: { type: "array", items: { type: "object", required: [key] } } },
      },
    }));
  }
}

/**
 * The JSON Schema (draft 2020-12) of a registry file, as users write it:
 * optional fields show their `default`.
 *
 * @example
 * ```ts
 * const schema = registryJsonSchema();
 * schema.$id; // "urn:edgevisor:registry"
 * ```
 */
export function registryJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(registrySchema, {
    io: "input",
    target: "draft-2020-12",
    metadata: schemaMetadata(),
    override: crossFieldRules,
  }) as Record<string, unknown>;
  return {
    $schema,
    $id: REGISTRY_SCHEMA_ID,
    title: "edgevisor registry",
    description: "Services supervised by edgevisor. Durations are in seconds. " +
      "Strings in cmd, args, env values and working_dir may use ${VAR}, ${VAR:-default} and $$ (a literal $).",
    ...rest,
  };
}

/** {@link registryJsonSchema} as file text: 2-space JSON with a trailing newline. */
export function registryJsonSchemaText(): string {
  return JSON.stringify(registryJsonSchema(), null, 2) + "\n";
}
