/**
 * zod schemas of the bodies of the HTTP API: what each route answers, and
 * the service definition it takes. They declare every field the API sends
 * and no other (strict objects), so that an answer that drifts from them
 * fails the tests, which validate every answer against the OpenAPI document
 * generated from them (`openapi.ts`). A type test keeps them equal to the
 * types of `src/types.ts` and `wire.ts`.
 *
 * @module
 */
import { z } from "zod";
import {
  healthCheckSchema,
  RESTART_POLICIES,
  SERVICE_KINDS,
  serviceSchema,
} from "../registry/schema.ts";
import { SERVICE_STATES, type ServiceState } from "../types.ts";

const iso = () => z.string().meta({ format: "date-time" });
const states = () => z.enum(SERVICE_STATES as readonly ServiceState[] as [ServiceState]);
const healthStates = () => z.enum(["healthy", "unhealthy", "unknown"]);
const count = () => z.int().min(0);
const lines = () => z.array(z.string());

/** `ExitInfo`: how a process ended. */
export const exitInfoSchema = z.strictObject({
  code: z.int().nullable().meta({ description: "Exit code, or null when a signal ended it" }),
  signal: z.string().nullable().meta({ description: "Signal name such as SIGKILL, or null" }),
  at: iso(),
});

/** `HealthRecord`: one result of a health history. */
export const healthRecordSchema = z.strictObject({
  at: iso(),
  ok: z.boolean(),
  message: z.string(),
  duration_ms: z.number().min(0),
});

const healthFields = {
  healthy: z.boolean().nullable().meta({ description: "null until a check has run" }),
  message: z.string().meta({ description: "Last message of the check, or `no check`" }),
  state: healthStates().optional(),
  last_checked: iso().nullable().optional(),
  consecutive_failures: count().optional(),
  history: z.array(healthRecordSchema).optional().meta({
    description: "The last results, newest first (in `GET /api/services/health/{name}` only)",
  }),
};

/** `HealthInfo`: the health of one service. */
export const healthInfoSchema = z.strictObject(healthFields);

/** `JobRun`: one run of a job. */
export const jobRunSchema = z.strictObject({
  id: z.int().min(1),
  started_at: iso(),
  ended_at: iso().nullable(),
  exit_code: z.int().nullable(),
  signal: z.string().nullable(),
  duration_ms: z.number().min(0),
  output_tail: lines(),
});

/** Every field of a `ServiceStatus`. */
const statusFields = {
  name: z.string(),
  display_name: z.string(),
  description: z.string().nullable(),
  type: z.string().nullable(),
  status: states(),
  pid: z.int().nullable(),
  started_at: iso().nullable(),
  uptime: z.number().min(0).meta({ description: "Seconds since the current process started" }),
  restarts: count(),
  crash_count: count(),
  last_exit: exitInfoSchema.nullable(),
  last_restart: iso().nullable(),
  next_restart_at: iso().nullable(),
  reason: z.string().nullable(),
  autostart: z.boolean(),
  restart_policy: z.enum(RESTART_POLICIES),
  port: z.int().nullable(),
  health_check: z.union([z.string(), healthCheckSchema]).nullable(),
  health: healthInfoSchema,
  cpu_percent: z.number().nullable().meta({
    description: "CPU use of the process group at the last sample, percent of one core",
  }),
  memory_rss_bytes: z.number().nullable().meta({
    description: "Resident memory of the process group at the last sample, bytes",
  }),
  threads: z.int().nullable().meta({
    description: "Threads of the process group at the last sample",
  }),
  cpu_seconds: z.number().min(0).meta({
    description: "CPU seconds used by the service's processes since edgevisor started",
  }),
  kind: z.enum(SERVICE_KINDS),
  runs: z.array(jobRunSchema).optional().meta({ description: "Jobs only: the last runs" }),
  next_run_at: iso().nullable().optional().meta({
    description: "Jobs with a schedule only: when the next run is due",
  }),
};

/**
 * A status as others may send it: these fields at least (a NATS status
 * message adds its own). The API's answers are {@linkcode statusSchema}.
 */
export const serviceStatusSchema = z.looseObject(statusFields);

/** `ServiceStatus` as the API sends it: these fields and no other. */
export const statusSchema = z.strictObject(statusFields);

/** `{"ok": false, "error": ...}`: the body of every error answer. */
export const errorBodySchema = z.strictObject({
  ok: z.literal(false),
  error: z.string().meta({ description: "What went wrong, in sentence case" }),
});

/** One problem of a registry, with its JSON path. */
export const registryProblemSchema = z.strictObject({
  path: z.string().meta({ description: "JSON path of the offending value; empty for the root" }),
  message: z.string(),
});

/** A rejected registry change: the error and every problem. */
export const problemsBodySchema = z.strictObject({
  ...errorBodySchema.shape,
  problems: z.array(registryProblemSchema),
});

/** `GET /api/services/list`. */
export const listBodySchema = z.strictObject({
  ok: z.literal(true),
  services: z.array(statusSchema),
});

/** `GET /api/services/status/{name}`: the status in the envelope. */
export const statusBodySchema = z.strictObject({ ok: z.literal(true), ...statusFields });

/** `POST /api/services/{start,stop,restart}/{name}`, `POST /api/services`, `PUT /api/services/{name}`. */
export const actionBodySchema = z.strictObject({
  ok: z.literal(true),
  message: z.string(),
  ...statusFields,
});

/** `POST /api/services/run/{name}`. */
export const runBodySchema = z.strictObject({
  ...actionBodySchema.shape,
  run_id: z.int().min(1),
});

/** One entry of `merged`: a line, or a start or exit marker. */
export const mergedLogEntrySchema = z.union([
  z.strictObject({
    at: iso().nullable(),
    stream: z.enum(["stdout", "stderr"]),
    line: z.string(),
  }),
  z.strictObject({ at: iso(), marker: z.enum(["start", "exit"]), text: z.string() }),
]);

/** `GET /api/services/logs/{name}` without `follow`. */
export const logsBodySchema = z.strictObject({
  ok: z.literal(true),
  name: z.string(),
  stream: z.enum(["stdout", "stderr", "both"]),
  lines: count(),
  stdout: lines().optional().meta({ description: "Present unless `stream` is `stderr`" }),
  stderr: lines().optional().meta({ description: "Present unless `stream` is `stdout`" }),
  merged: z.array(mergedLogEntrySchema).optional().meta({
    description:
      "The lines of the streams asked for in time order, with the start and exit markers, oldest first; at most `lines` lines (markers not counted)",
  }),
});

/** `GET /api/services/health/{name}`. */
export const serviceHealthBodySchema = z.strictObject({
  ok: z.literal(true),
  name: z.string(),
  ...healthFields,
});

/** One event of a service's history. */
export const historyEventSchema = z.discriminatedUnion("type", [
  z.strictObject({
    at: iso(),
    type: z.literal("state"),
    from: states(),
    to: states(),
    reason: z.string().nullable(),
    pid: z.int().nullable(),
  }),
  z.strictObject({
    at: iso(),
    type: z.literal("exit"),
    pid: z.int(),
    code: z.int().nullable(),
    signal: z.string().nullable(),
  }),
  z.strictObject({
    at: iso(),
    type: z.literal("health"),
    role: z.enum(["readiness", "liveness", "health"]),
    from: healthStates(),
    to: healthStates(),
    message: z.string(),
  }),
  z.strictObject({
    at: iso(),
    type: z.literal("action"),
    action: z.enum(["start", "stop", "restart", "run", "kill"]),
  }),
]);

/** `GET /api/services/history/{name}`. */
export const historyBodySchema = z.strictObject({
  ok: z.literal(true),
  name: z.string(),
  events: z.array(historyEventSchema).meta({
    description: "The last 100 events of the service, oldest first",
  }),
  series: z.strictObject({
    step: z.number().gt(0).meta({ description: "Seconds between two points" }),
    end: iso().meta({ description: "End of the interval of the last point" }),
    cpu_percent: z.array(z.number().nullable()),
    memory_rss_bytes: z.array(z.number().nullable()),
  }),
});

/** `GET /api/health`. */
export const orchestratorHealthBodySchema = z.strictObject({
  ok: z.literal(true),
  version: z.string(),
  uptime: z.number().min(0),
  pid: z.int(),
  services: z.record(z.enum([...SERVICE_STATES, "total"]), count()),
  cpu_percent: z.number().nullable().optional(),
  memory_rss_bytes: z.number().optional(),
  cpu_seconds: z.number().optional(),
  events: count().optional(),
});

/** `POST /api/services/reload`: what changed. */
export const reloadBodySchema = z.strictObject({
  ok: z.literal(true),
  message: z.string(),
  added: z.array(z.string()).meta({ description: "Created, and started when autostart" }),
  removed: z.array(z.string()).meta({ description: "Stopped and dropped" }),
  changed: z.array(z.string()).meta({ description: "Restarted with the new definition" }),
  untouched: z.array(z.string()).meta({ description: "Left running as they are" }),
});

/** `DELETE /api/services/{name}`. */
export const removeBodySchema = z.strictObject({
  ok: z.literal(true),
  message: z.string(),
  name: z.string(),
});

/** `GET /api/openapi.json`: an OpenAPI 3.1 document. */
export const openApiBodySchema = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/**
 * The body of `POST /api/services`: one service definition, as in the
 * registry. `cmd` may come from the registry's `defaults`. Validated exactly
 * like the registry; an invalid one answers 400 with every problem.
 */
export const serviceDefinitionSchema = serviceSchema.partial({ cmd: true });

/** The body of `PUT /api/services/{name}`: the new definition; `name` may be left out. */
export const serviceReplacementSchema = serviceSchema.partial({ name: true, cmd: true });
