/**
 * zod schemas of the HTTP API: the request parameters (which `params.ts`
 * validates with) and the answer bodies. The OpenAPI document of
 * `GET /api/openapi.json` is generated from them.
 *
 * @module
 */
import { z } from "zod";
import { healthCheckSchema, RESTART_POLICIES, SERVICE_NAME_PATTERN } from "../registry/schema.ts";
import { SERVICE_STATES } from "../types.ts";

/** Number of log lines returned when the request does not say. */
export const DEFAULT_LOG_LINES = 50;

/** Largest number of log lines one request may ask for. */
export const MAX_LOG_LINES = 10_000;

/** `{name}` of every `/api/services/<action>/{name}` path. */
export const serviceNameParam = z.string().regex(SERVICE_NAME_PATTERN).meta({
  description: "Service name, as in the registry",
  examples: ["web"],
});

/** `lines`: how many of the last log lines, a decimal integer. */
export const linesParam = z.string().regex(/^[0-9]{1,6}$/).transform(Number).pipe(
  z.number().int().min(0).max(MAX_LOG_LINES),
).meta({ description: "How many of the last lines of each stream", default: DEFAULT_LOG_LINES });

/** `stream`: which captured stream(s). */
export const streamParam = z.enum(["stdout", "stderr", "both"]).meta({
  description: "Which captured stream(s)",
  default: "both",
});

/** A boolean query flag: `true`, `false`, `1` or `0`, in any case. */
export const flagParam = z.stringbool({ truthy: ["true", "1"], falsy: ["false", "0"] });

/** `force` of a stop. */
export const forceParam = flagParam.meta({
  description: "SIGKILL the process group at once instead of the graceful stop",
  default: false,
});

/** `follow` of a log request. */
export const followParam = flagParam.meta({
  description:
    "Answer with Server-Sent Events: the last lines, then new lines as they are written (`lines` events, a `ready` event after the last lines)",
  default: false,
});

/** `now` of a health request. */
export const nowParam = flagParam.meta({
  description: "Run one check at once (while the service runs) and answer with its outcome",
  default: false,
});

const iso = z.string().meta({ format: "date-time" });

/** `ExitInfo`. */
export const exitInfoSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: iso,
});

/** `HealthInfo`. */
export const healthInfoSchema = z.looseObject({
  healthy: z.boolean().nullable(),
  message: z.string(),
});

/** `ServiceStatus`: the status of one service (more fields may be present). */
export const serviceStatusSchema = z.looseObject({
  name: z.string(),
  display_name: z.string(),
  description: z.string().nullable(),
  type: z.string().nullable(),
  status: z.enum(SERVICE_STATES as [string, ...string[]]),
  pid: z.number().int().nullable(),
  started_at: iso.nullable(),
  uptime: z.number().meta({ description: "Seconds since the current process started" }),
  restarts: z.number().int(),
  crash_count: z.number().int(),
  last_exit: exitInfoSchema.nullable(),
  last_restart: iso.nullable(),
  next_restart_at: iso.nullable(),
  reason: z.string().nullable(),
  autostart: z.boolean(),
  restart_policy: z.enum(RESTART_POLICIES),
  port: z.number().int().nullable(),
  health_check: z.union([z.string(), healthCheckSchema]).nullable(),
  health: healthInfoSchema,
  cpu_percent: z.number().nullable().optional().meta({
    description: "CPU use of the process group, percent of one core",
  }),
  memory_rss_bytes: z.number().int().nullable().optional().meta({
    description: "Resident memory of the process group, bytes",
  }),
}).meta({ id: "ServiceStatus" });

/** `{"ok": false, "error": ...}`. */
export const errorBodySchema = z.object({ ok: z.literal(false), error: z.string() }).meta({
  id: "Error",
});

/** `GET /api/services/list`. */
export const listBodySchema = z.object({
  ok: z.literal(true),
  services: z.array(serviceStatusSchema),
});

/** `GET /api/services/status/{name}`. */
export const statusBodySchema = z.looseObject({
  ok: z.literal(true),
  ...serviceStatusSchema.shape,
});

/** `POST /api/services/{start,stop,restart}/{name}`. */
export const actionBodySchema = z.looseObject({
  ok: z.literal(true),
  message: z.string(),
  ...serviceStatusSchema.shape,
});

/** `GET /api/services/logs/{name}` without `follow`. */
export const logsBodySchema = z.object({
  ok: z.literal(true),
  name: z.string(),
  stream: streamParam,
  lines: z.number().int(),
  stdout: z.array(z.string()).optional(),
  stderr: z.array(z.string()).optional(),
});

/** `GET /api/services/health/{name}`. */
export const serviceHealthBodySchema = z.looseObject({
  ok: z.literal(true),
  name: z.string(),
  ...healthInfoSchema.shape,
});

/** `GET /api/health`. */
export const orchestratorHealthBodySchema = z.looseObject({
  ok: z.literal(true),
  version: z.string(),
  uptime: z.number(),
  pid: z.number().int(),
  services: z.record(z.string(), z.number().int()),
});
