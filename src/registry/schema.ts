/**
 * The registry schema: one zod schema gives the TypeScript types, the
 * validation messages and `registry/schema.json`. Durations are seconds.
 *
 * @module
 */
import { z } from "zod";
import { cronProblem } from "../cron.ts";

/** Pattern of a service name: used in URLs, NATS subjects and log file names. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Signals a service may be stopped with. */
export const STOP_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGKILL",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
] as const;

/** Restart policies, as in OmegaOS. */
export const RESTART_POLICIES = ["never", "on-failure", "always"] as const;

/** Informational service types, as in OmegaOS. */
export const SERVICE_TYPES = ["python", "go", "docker", "node", "binary", "shell"] as const;

const seconds = () => z.number().min(0).max(31_536_000);

/** Timing shared by every health-check kind. */
const checkTiming = {
  /** Seconds to wait after start before the first check. @default 0 */
  initial_delay: seconds().optional(),
  /** Seconds between checks. @default 10 */
  interval: seconds().optional(),
  /** Seconds one check may take. @default 2 */
  timeout: seconds().optional(),
  /** Consecutive successes to become healthy. @default 1 */
  success_threshold: z.int().min(1).max(1000).optional(),
  /** Consecutive failures to become unhealthy. @default 3 */
  failure_threshold: z.int().min(1).max(1000).optional(),
};

const port = () => z.int().min(1).max(65535);

/** Whether `pattern` is a valid regular expression (the rule of a `log` check's `pattern`). */
export function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** A regular expression, as a string (a `log` check's `pattern`). */
export const regExpSchema = z.string().min(1).refine(isRegExp, {
  error: "expected a valid regular expression",
});

/** An inline health check. */
export const healthCheckSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("tcp"),
    host: z.string().min(1).optional(),
    port: port(),
    ...checkTiming,
  }),
  z.strictObject({
    type: z.literal("http"),
    url: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    port: port().optional(),
    path: z.string().optional(),
    method: z.enum(["GET", "HEAD", "POST"]).optional(),
    expected_status: z.tuple([z.int().min(100).max(599), z.int().min(100).max(599)]).optional(),
    body_contains: z.string().optional(),
    ...checkTiming,
  }),
  z.strictObject({
    type: z.literal("exec"),
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    ...checkTiming,
  }),
  z.strictObject({
    type: z.literal("file"),
    path: z.string().min(1),
    max_age: seconds().optional(),
    ...checkTiming,
  }),
  z.strictObject({
    type: z.literal("log"),
    pattern: regExpSchema,
    stream: z.enum(["stdout", "stderr", "both"]).optional(),
    ...checkTiming,
  }),
]);

/** The message for a name that does not match {@link SERVICE_NAME_PATTERN}. */
export const NAME_RULE =
  "expected 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit";

/** A name: of a service, or of a check in `health_checks`. */
const nameSchema = () => z.string().regex(SERVICE_NAME_PATTERN, { error: NAME_RULE });

/** A check of a service: the name of one in `health_checks`, or an inline check. */
const checkReference = () => z.union([nameSchema(), healthCheckSchema]);

/** A cron expression: five fields or a macro such as `@daily` (see `src/cron.ts`). */
export const cronSchema = z.string().superRefine((expression, context) => {
  const problem = cronProblem(expression);
  if (problem !== undefined) context.addIssue({ code: "custom", message: problem });
});

/** Kinds of service. */
export const SERVICE_KINDS = ["service", "job"] as const;

/** A lifecycle hook: a command with a timeout, run in the service's directory and environment. */
export const hookSchema = z.strictObject({
  cmd: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Seconds before the hook's process group is killed and the hook fails. @default 30 */
  timeout: z.number().gt(0).max(86_400).default(30),
});

/** What a dependent waits for: a live process, a passed readiness check, or a clean exit. */
export const DEPENDENCY_CONDITIONS = ["started", "healthy", "completed_successfully"] as const;

/** One dependency written as an object. */
export const dependencySchema = z.strictObject({
  service: z.string().min(1),
  /** @default "started" */
  condition: z.enum(DEPENDENCY_CONDITIONS).default("started"),
});

/** Restart delay: min(max, initial × factor^n) seconds, ±10% jitter. */
export const backoffSchema = z.strictObject({
  /** @default 0.5 */
  initial: seconds().default(0.5),
  /** @default 2 */
  factor: z.number().min(1).max(100).default(2),
  /** @default 30 */
  max: seconds().default(30),
  /** Seconds a run must stay up for the restart count to reset. @default 60 */
  reset_after: seconds().default(60),
});

/** Crash-loop guard: `max_crashes` within `window` seconds put the service in cooldown. */
export const crashLoopSchema = z.strictObject({
  /** @default 5 */
  max_crashes: z.int().min(1).max(1_000_000).default(5),
  /** @default 60 */
  window: seconds().default(60),
  /** @default 30 */
  cooldown: seconds().default(30),
});

/** Rotation of a service's log files. */
export const logSchema = z.strictObject({
  /** Size in MiB at which a log file is rotated. @default 10 */
  max_size_mb: z.number().gt(0).max(1_048_576).default(10),
  /** Rotated files kept (`.1` … `.keep`). @default 3 */
  keep: z.int().min(0).max(1000).default(3),
  /** Begin each line of the log files with its arrival time (ISO 8601) and a space. @default true */
  timestamps: z.boolean().default(true),
});

/** Every service field with its default. */
const serviceShape = {
  name: nameSchema(),
  display_name: z.string().optional(),
  description: z.string().optional(),
  type: z.enum(SERVICE_TYPES).optional(),
  cmd: z.string().min(1),
  args: z.array(z.string()).default([]),
  working_dir: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).default({}),
  autostart: z.boolean().default(true),
  restart_policy: z.enum(RESTART_POLICIES).default("on-failure"),
  max_restarts: z.int().min(0).max(1_000_000).default(3),
  backoff: backoffSchema.prefault({}),
  crash_loop: crashLoopSchema.prefault({}),
  /** Seconds a new process must stay up to count as `running`. @default 1 */
  start_grace: seconds().default(1),
  stop_signal: z.enum(STOP_SIGNALS).default("SIGTERM"),
  stop_timeout: seconds().default(10),
  /** Readiness and liveness check: a name from `health_checks` or an inline check. */
  health_check: checkReference().optional(),
  /** Check that gates `starting → running` (and dependents); overrides `health_check` for that role. */
  readiness: checkReference().optional(),
  /** Check whose `failure_threshold` consecutive failures restart the service; overrides `health_check` for that role. */
  liveness: checkReference().optional(),
  port: port().optional(),
  log: logSchema.prefault({}),
  /** Restart when the process group's RSS stays above this many MiB for two samples. */
  max_memory_mb: z.number().gt(0).max(16_777_216).optional(),
  /** Scheduling priority of the process, -20 (highest) to 19 (run through `nice`). */
  nice: z.int().min(-20).max(19).optional(),
  /** CPU ids the process may run on (run through `taskset`). */
  cpu_affinity: z.array(z.int().min(0).max(4095)).min(1).optional(),
  /** Services to wait for before an automatic start: names, or `{service, condition}`. @default [] */
  depends_on: z.array(z.union([z.string().min(1), dependencySchema])).default([]),
  /** Dependencies whose restart restarts this service too. @default [] */
  restart_with: z.array(z.string().min(1)).default([]),
  /** `service` runs until stopped; `job` runs to completion and is never restarted by policy. @default "service" */
  kind: z.enum(SERVICE_KINDS).default("service"),
  /** When a job runs on its own: `{"every": seconds}` or a cron expression. Jobs only. */
  schedule: z.union([z.strictObject({ every: z.number().gt(0).max(31_536_000) }), cronSchema])
    .optional(),
  /** Command run before each start; a failure keeps the service from starting. */
  pre_start: hookSchema.optional(),
  /** Command run once the service is `running`. */
  post_start: hookSchema.optional(),
  /** Command run after each process of the service has ended. */
  post_stop: hookSchema.optional(),
  /** `shutdown_everything`: when this service ends and will not be restarted, stop everything and exit 1. */
  on_exit: z.enum(["continue", "shutdown_everything"]).default("continue"),
};

/** One service, with defaults applied. */
export const serviceSchema = z.strictObject(serviceShape);

/** The top-level `defaults`: any service field but `name`, none required. */
export const defaultsSchema = z.strictObject({
  display_name: serviceShape.display_name,
  description: serviceShape.description,
  type: serviceShape.type,
  cmd: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  working_dir: serviceShape.working_dir,
  env: z.record(z.string(), z.string()).optional(),
  autostart: z.boolean().optional(),
  restart_policy: z.enum(RESTART_POLICIES).optional(),
  max_restarts: z.int().min(0).max(1_000_000).optional(),
  backoff: backoffSchema.partial().optional(),
  crash_loop: crashLoopSchema.partial().optional(),
  start_grace: seconds().optional(),
  stop_signal: z.enum(STOP_SIGNALS).optional(),
  stop_timeout: seconds().optional(),
  health_check: serviceShape.health_check,
  readiness: serviceShape.readiness,
  liveness: serviceShape.liveness,
  port: port().optional(),
  log: logSchema.partial().optional(),
  max_memory_mb: serviceShape.max_memory_mb,
  nice: serviceShape.nice,
  cpu_affinity: serviceShape.cpu_affinity,
});

/** The whole registry file. */
export const registrySchema = z.strictObject({
  $schema: z.string().optional(),
  services: z.array(serviceSchema),
  defaults: defaultsSchema.optional(),
  health_checks: z.record(nameSchema(), healthCheckSchema).optional(),
  /** Seconds between two samples of CPU and memory from `/proc`; 0 turns sampling off. @default 2 */
  metrics_interval: z.number().min(0).max(3600).optional(),
});

/** One service definition after defaults (durations in seconds). */
export type ServiceSpec = z.output<typeof serviceSchema>;
/** An inline health check. */
export type HealthCheckSpec = z.output<typeof healthCheckSchema>;
/** A restart policy name. */
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
/** A stop signal name. */
export type StopSignal = (typeof STOP_SIGNALS)[number];
