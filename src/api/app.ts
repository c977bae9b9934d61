/**
 * The HTTP API as a Hono app (no listening here): the OmegaOS routes under
 * `/api/services/*` plus `/api/health`, over a `ServiceControl`.
 *
 * Every `:name` is checked against `SERVICE_NAME_PATTERN` before the control
 * is called. One `onError` maps error classes to statuses; a known path with
 * the wrong method answers 405 with an `Allow` header.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { EdgevisorError, NotFoundError } from "../errors.ts";
import type { ServiceControl } from "../types.ts";
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import { parseForce, parseLines, parseNow, parseServiceName, parseStream } from "./params.ts";
import { mountRegistryRoutes } from "./registry_routes.ts";
import { authMiddleware, type AuthOptions, bodyLimitMiddleware } from "./auth.ts";
import { mountOpenApi } from "./openapi.ts";
import { mountPage } from "./page.ts";
import { type LiveOptions, mountLive } from "./sse.ts";
import type {
  ActionBody,
  ErrorBody,
  ListBody,
  LogsBody,
  OrchestratorHealthBody,
  ServiceHealthBody,
  StatusBody,
} from "./wire.ts";

/** Options of `createApp`. */
export interface AppOptions {
  /**
   * Where an unexpected error (answered with 500) is logged, one line each.
   * @default console.error
   */
  log?: (line: string) => void;
  /** Event streams: heartbeat period, buffer bound, and the signal that ends them all at shutdown. */
  live?: LiveOptions;
  /** Who may call the API (the token, and whether reads need it); everyone when undefined. */
  auth?: AuthOptions;
  /** Largest request body in bytes; a larger one answers 413. @default 1 MiB */
  maxBodyBytes?: number;
}

type Method = "GET" | "POST";

interface Route {
  method: Method;
  path: string;
  handle: (c: Context) => Promise<Response> | Response;
}

/**
 * Create the API app over a supervisor (or any `ServiceControl`).
 *
 * @example
 * ```ts
 * const app = createApp(supervisor);
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, app.fetch);
 * ```
 */
export function createApp(control: ServiceControl, options: AppOptions = {}): Hono {
  const log = options.log ?? ((line: string) => console.error(line));
  const name = (c: Context) => parseServiceName(c.req.param("name") ?? "");

  const routes: Route[] = [
    {
      method: "GET",
      path: "/api/services/list",
      handle: (c) => c.json({ ok: true, services: control.list() } satisfies ListBody),
    },
    {
      method: "GET",
      path: "/api/services/status/:name",
      handle: (c) => c.json({ ok: true, ...control.status(name(c)) } satisfies StatusBody),
    },
    {
      method: "POST",
      path: "/api/services/start/:name",
      handle: async (c) => {
        const service = name(c);
        const status = await control.start(service);
        return c.json(
          {
            ok: true,
            message: `Service ${quote(service)} started`,
            ...status,
          } satisfies ActionBody,
        );
      },
    },
    {
      method: "POST",
      path: "/api/services/stop/:name",
      handle: async (c) => {
        const service = name(c);
        const force = parseForce(c.req.query("force"));
        const status = await control.stop(service, { force });
        return c.json(
          {
            ok: true,
            message: `Service ${quote(service)} stopped`,
            ...status,
          } satisfies ActionBody,
        );
      },
    },
    {
      method: "POST",
      path: "/api/services/restart/:name",
      handle: async (c) => {
        const service = name(c);
        const status = await control.restart(service);
        return c.json(
          {
            ok: true,
            message: `Service ${quote(service)} restarted`,
            ...status,
          } satisfies ActionBody,
        );
      },
    },
    {
      method: "POST",
      path: "/api/services/run/:name",
      handle: async (c) => {
        const service = name(c);
        if (!control.run) throw new NotFoundError(`Jobs are not available here`);
        const { run_id, status } = await control.run(service);
        return c.json({
          ok: true,
          message: `Job ${quote(service)} run ${run_id} started`,
          run_id,
          ...status,
        });
      },
    },
    {
      method: "GET",
      path: "/api/services/logs/:name",
      handle: async (c) => {
        const service = name(c);
        const lines = parseLines(c.req.query("lines"));
        const stream = parseStream(c.req.query("stream"));
        const tail = await control.logs(service, lines, stream);
        const body: LogsBody = { ok: true, name: service, stream, lines };
        if (stream !== "stderr") body.stdout = tail.stdout ?? [];
        if (stream !== "stdout") body.stderr = tail.stderr ?? [];
        return c.json(body);
      },
    },
    {
      method: "GET",
      path: "/api/services/health/:name",
      handle: async (c) => {
        const service = name(c);
        const now = parseNow(c.req.query("now"));
        const health = await control.health(service, { now });
        return c.json({ ok: true, name: service, ...health } satisfies ServiceHealthBody);
      },
    },
    {
      method: "GET",
      path: "/api/health",
      handle: (c) => c.json({ ok: true, ...control.info() } satisfies OrchestratorHealthBody),
    },
    {
      method: "GET",
      path: "/metrics",
      handle: (c) =>
        c.body(formatPrometheus(control.list(), control.info()), 200, {
          "Content-Type": PROMETHEUS_CONTENT_TYPE,
        }),
    },
  ];

  const app = new Hono();
  if (options.auth) app.use(authMiddleware(options.auth));
  app.use(bodyLimitMiddleware(options.maxBodyBytes));
  mountLive(app, control, options.live); // first: `logs/:name?follow=1` before the JSON route
  mountPage(app);
  mountOpenApi(app);
  for (const route of routes) app.on(route.method, route.path, route.handle);
  // Registered after the real routes: reached only when no route of the right method matched.
  for (const path of new Set(routes.map((r) => r.path))) {
    const allowed = routes.filter((r) => r.path === path).map((r) => r.method);
    const allow = allowed.flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m]).join(", ");
    app.all(path, (c) =>
      c.json(
        {
          ok: false,
          error: `Method ${c.req.method} not allowed on ${c.req.path}; use ${allowed.join(" or ")}`,
        } satisfies ErrorBody,
        405,
        { Allow: allow },
      ));
  }
  // After the 405s above: `DELETE /api/services/list` is a wrong method, not a service named "list".
  mountRegistryRoutes(app, control);

  app.notFound((c) =>
    c.json(
      { ok: false, error: `Not found: ${c.req.method} ${c.req.path}` } satisfies ErrorBody,
      404,
    )
  );

  app.onError((error, c) => {
    if (error instanceof EdgevisorError) {
      return c.json(
        { ok: false, error: error.message } satisfies ErrorBody,
        error.status as ContentfulStatusCode,
      );
    }
    if (error instanceof HTTPException) {
      return c.json({ ok: false, error: error.message } satisfies ErrorBody, error.status);
    }
    const message = error instanceof Error ? error.message : String(error);
    log(`api: ${c.req.method} ${c.req.path} failed: ${describe(error)}`);
    return c.json({ ok: false, error: message } satisfies ErrorBody, 500);
  });

  return app;
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/** One line for the log: name, message and the first frame of the stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frame = error.stack?.split("\n").find((line) => line.trimStart().startsWith("at "));
  return `${error.name}: ${error.message}${frame ? ` (${frame.trim()})` : ""}`;
}
