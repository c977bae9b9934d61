/**
 * The HTTP API as a Hono app (no listening here): the operations of the
 * route table (`routes.ts`) over a `ServiceControl`, plus the web page.
 *
 * Each route of the table gets its handler by name; its path and query
 * parameters are read with the schemas the table declares (a bad one
 * answers 400 with the parameter's message before the control is called),
 * and its answer is sent with the table's status. A path of the table asked
 * with another method answers 405 with an `Allow` header. Every error,
 * those of the guards included, is answered by one `onError` by its kind
 * (`error_status.ts`).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { z } from "zod";
import {
  BadRequestError,
  MethodNotAllowedError,
  NotFoundError,
  NotImplementedError,
} from "../errors.ts";
import type { ServiceControl } from "../types.ts";
import { jsonNestingExceeds, MAX_JSON_NESTING } from "../registry/parse_text.ts";
import { authMiddleware, type AuthOptions, bodyLimitMiddleware } from "./auth.ts";
import { errorAnswer } from "./error_status.ts";
import { type OpenApiDocument, openApiDocument } from "./openapi.ts";
import { mountPage } from "./page.ts";
import type { OperationName } from "./paths.ts";
import { type Param, type ParamValue, parseParam, sinceMs } from "./params.ts";
import { formatPrometheus, PROMETHEUS_CONTENT_TYPE, TransitionCounter } from "./prometheus.ts";
import { requestGuard, type RequestGuardOptions } from "./request_guard.ts";
import { type Route, type Routes, routes } from "./routes.ts";
import { liveAnswers, type LiveOptions } from "./sse.ts";

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
  /**
   * What browsers may send: allowed origins and host names, and whether the
   * API listens on loopback (see `request_guard.ts`). Cross-site requests and
   * bodies that are not JSON are refused whatever the options.
   * @default {}
   */
  guard?: RequestGuardOptions;
  /**
   * Count lifecycle transitions from now on for `/metrics` (a subscription
   * to the control's events until `live.signal` aborts). The NATS control
   * service, which serves no `/metrics`, makes an app without it on each
   * connection.
   * @default true
   */
  countTransitions?: boolean;
}

type Values<P> = { -readonly [K in keyof P]: ParamValue<P[K]> };

/** What the handler of operation `N` gets: its parameters, its body, and whether it is a HEAD. */
export type Input<N extends OperationName> =
  & (Routes[N] extends { params: infer P } ? Values<P> : unknown)
  & (Routes[N] extends { query: infer Q } ? Values<Q> : unknown)
  & (Routes[N] extends { body: z.ZodType } ? { body: unknown } : unknown)
  & { head: boolean };

/** What the handler of operation `N` answers: its JSON body as the table declares it, or a `Response`. */
export type Output<N extends OperationName> = Routes[N] extends { answer: infer A }
  ? A extends z.ZodType ? z.input<A> | Response : Response
  : Response;

/** A handler for every operation of the table. */
type Handlers = {
  [N in OperationName]: (input: Input<N>, c: Context) => Output<N> | Promise<Output<N>>;
};

/**
 * Create the API app over a supervisor (or any `ServiceControl`).
 *
 * @example
 * ```ts ignore
 * const app = createApp(supervisor);
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, app.fetch);
 * ```
 */
export function createApp(control: ServiceControl, options: AppOptions = {}): Hono {
  const log = options.log ?? ((line: string) => console.error(line));
  const app = new Hono();
  app.use(requestGuard(options.guard));
  if (options.auth) app.use(authMiddleware(options.auth));
  app.use(bodyLimitMiddleware(options.maxBodyBytes));
  mountPage(app);
  mountRoutes(app, handlers(control, options, log));
  app.notFound((c) => {
    const answer = errorAnswer(
      new NotFoundError(`Not found: ${c.req.method} ${c.req.path}`),
      log,
      "",
    );
    return c.json(answer.body, answer.status, answer.headers);
  });
  app.onError((error, c) => {
    const answer = errorAnswer(error, log, `api: ${c.req.method} ${c.req.path}`);
    return c.json(answer.body, answer.status, answer.headers);
  });
  return app;
}

const quote = (value: string) => JSON.stringify(value);

function handlers(
  control: ServiceControl,
  options: AppOptions,
  log: (line: string) => void,
): Handlers {
  const live = liveAnswers(control, options.live, log);
  // Counted from now on, so that a stop and start between two scrapes still shows.
  const transitions = options.countTransitions === false
    ? undefined
    : new TransitionCounter(control, options.live?.signal);
  let document: OpenApiDocument | undefined;
  const since = (value: string | undefined) => {
    if (value === undefined) return undefined;
    if (!control.logTimes) {
      throw new NotImplementedError(
        `Cannot select lines by "since": this edgevisor keeps no times of log lines`,
      );
    }
    return sinceMs(value, Date.now());
  };

  return {
    list: () => ({ ok: true, services: control.list() }),
    status: ({ name }) => ({ ok: true, ...control.status(name) }),
    start: async ({ name }) => {
      const status = await control.start(name);
      return { ok: true, message: `Service ${quote(name)} started`, ...status };
    },
    stop: async ({ name, force }) => {
      const status = await control.stop(name, { force });
      return { ok: true, message: `Service ${quote(name)} stopped`, ...status };
    },
    restart: async ({ name }) => {
      const status = await control.restart(name);
      return { ok: true, message: `Service ${quote(name)} restarted`, ...status };
    },
    run: async ({ name }) => {
      if (!control.run) throw new NotFoundError(`Jobs are not available here`);
      const { run_id, status } = await control.run(name);
      return { ok: true, message: `Job ${quote(name)} run ${run_id} started`, run_id, ...status };
    },
    logs: async ({ name, lines, stream, since: from, follow, head }) => {
      const fromMs = since(from);
      if (follow) {
        return live.followLogs({
          name,
          lines,
          stream,
          head,
          ...(fromMs === undefined ? {} : { sinceMs: fromMs }),
        });
      }
      const tail = await control.logs(
        name,
        lines,
        stream,
        fromMs === undefined ? undefined : { sinceMs: fromMs },
      );
      return {
        ok: true,
        name,
        stream,
        lines,
        ...(stream === "stderr" ? {} : { stdout: tail.stdout ?? [] }),
        ...(stream === "stdout" ? {} : { stderr: tail.stderr ?? [] }),
        ...(tail.merged === undefined ? {} : { merged: tail.merged }),
      };
    },
    health: async ({ name, now }) => ({ ok: true, name, ...await control.health(name, { now }) }),
    history: async ({ name }) => {
      if (!control.history) {
        control.status(name); // an unknown name is 404 all the same
        throw new NotImplementedError(`History is not available here`);
      }
      return { ok: true, name, ...await control.history(name) };
    },
    events: ({ head }) => live.events(head),
    reload: async () => ({ ok: true, message: "Registry reloaded", ...await control.reload() }),
    add: async ({ body }) => {
      const status = await control.addService(body);
      return { ok: true, message: `Service ${quote(status.name)} added`, ...status };
    },
    replace: async ({ name, body }) => {
      const status = await control.replaceService(name, body);
      return { ok: true, message: `Service ${quote(name)} replaced`, ...status };
    },
    remove: async ({ name }) => {
      await control.removeService(name);
      return { ok: true, message: `Service ${quote(name)} removed`, name };
    },
    orchestrator: () => ({ ok: true, ...control.info() }),
    openapi: () => (document ??= openApiDocument()),
    metrics: (_input, c) =>
      c.body(
        formatPrometheus(control.list(), control.info(), transitions?.counts() ?? new Map()),
        200,
        {
          "Content-Type": PROMETHEUS_CONTENT_TYPE,
        },
      ),
  };
}

/**
 * Add every route of the table with its handler, and a 405 for every other
 * method on its path. Paths without parameters come first, so that
 * `DELETE /api/services/list` is a wrong method, not a service named "list".
 */
function mountRoutes(app: Hono, handle: Handlers): void {
  const byPath = new Map<string, Route[]>();
  for (const route of routes()) byPath.set(route.path, [...byPath.get(route.path) ?? [], route]);
  const paths = [...byPath.keys()].sort((a, b) =>
    Number(a.includes("{")) - Number(b.includes("{"))
  );
  for (const path of paths) {
    const honoPath = path.replace(/\{(\w+)\}/g, ":$1");
    const onPath = byPath.get(path)!;
    for (const route of onPath) {
      const handler = handle[route.name] as (
        input: Record<string, unknown>,
        c: Context,
      ) => unknown;
      app.on(route.method, honoPath, async (c) => {
        const answer = await handler(await readInput(route, c), c);
        if (answer instanceof Response) return answer;
        return c.json(answer as object, route.status ?? 200);
      });
    }
    const allowed = onPath.map((r) => r.method);
    app.all(honoPath, (c) => {
      throw new MethodNotAllowedError(
        `Method ${c.req.method} not allowed on ${c.req.path}; use ${allowed.join(" or ")}`,
        allowed,
      );
    });
  }
}

/** The path and query parameters (in the order the table declares them) and the JSON body of a request. */
async function readInput(route: Route, c: Context): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = { head: c.req.method === "HEAD" };
  for (const [key, param] of Object.entries(route.params ?? {}) as [string, Param<unknown>][]) {
    input[key] = parseParam(param, c.req.param(key) ?? "");
  }
  for (const [key, param] of Object.entries(route.query ?? {}) as [string, Param<unknown>][]) {
    input[key] = parseParam(param, c.req.query(key));
  }
  if (route.body) input.body = await jsonBody(c);
  return input;
}

/**
 * The JSON body of a request. Nesting deeper than a registry could use is
 * refused before parsing: walking such a value would exhaust the stack.
 */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (jsonNestingExceeds(text)) {
    throw new BadRequestError(
      `Invalid JSON body: nested more than ${MAX_JSON_NESTING} levels deep`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(
      `Invalid JSON body: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
