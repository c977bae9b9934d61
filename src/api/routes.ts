/**
 * The route table: every operation of the HTTP API declared once, by the
 * name `paths.ts` gives it its method and path. Each declares its summary,
 * its path, query and body parameters, its success status and answer (a
 * schema of `schemas.ts`, or another media type), the kinds of error it can
 * answer, and the NATS control endpoint that reaches it, if any.
 *
 * Everything else derives from it: the Hono routes and their 405 answers
 * (`app.ts`), the OpenAPI document (`openapi.ts`), the NATS control
 * endpoints (`src/nats/control.ts`) and the calls of the CLI's client.
 *
 * @module
 */
import type { z } from "zod";
import type { ErrorKind } from "../errors.ts";
import { type OperationName, PATHS } from "./paths.ts";
import { type Param, PARAMS } from "./params.ts";
import {
  actionBodySchema,
  historyBodySchema,
  listBodySchema,
  logsBodySchema,
  openApiBodySchema,
  orchestratorHealthBodySchema,
  reloadBodySchema,
  removeBodySchema,
  runBodySchema,
  serviceDefinitionSchema,
  serviceHealthBodySchema,
  serviceReplacementSchema,
  statusBodySchema,
} from "./schemas.ts";

/** An answer that is not JSON: its media type and what it holds. */
export interface MediaAnswer {
  /** Media type, such as `text/event-stream`. */
  type: string;
  /** What the answer holds. */
  description: string;
}

/** How a NATS control request reaches a route. */
export interface ControlSpec {
  /** Endpoint name: the request subject is `{prefix}.{node}.control.{endpoint}`. */
  endpoint: string;
  /** Fields of the request passed on as query parameters. */
  query?: readonly string[];
}

/** One operation of the API, as the table declares it (method and path come from `paths.ts`). */
export interface RouteSpec {
  /** One line for the OpenAPI document. */
  summary: string;
  /** More about it, for the OpenAPI document. */
  description?: string;
  /** Path parameters, in the order they are read. */
  params?: Readonly<Record<string, Param<unknown>>>;
  /** Query parameters, in the order they are read (after the path parameters). */
  query?: Readonly<Record<string, Param<unknown>>>;
  /** The JSON body it takes (validated by the registry's rules, which answer 400 with `problems`). */
  body?: z.ZodType;
  /** Status of a success. @default 200 */
  status?: 200 | 201;
  /** The success answer: the schema of its JSON body, or another media type. */
  answer: z.ZodType | MediaAnswer;
  /** Another answer the route gives on request (`follow` of logs: an event stream). */
  alternative?: MediaAnswer;
  /** Kinds of error the operation itself can answer (those of every request are added). */
  errors: readonly ErrorKind[];
  /** Whether its 400 answers may list a registry's `problems`. @default false */
  problems?: boolean;
  /** The NATS control endpoint that reaches it. */
  control?: ControlSpec;
}

const name = { name: PARAMS.name };

const EVENT_STREAM = "text/event-stream";

/** Every operation of the API, by name. */
export const ROUTES = {
  list: {
    summary: "Status of every service, in registry order",
    answer: listBodySchema,
    errors: [],
    control: { endpoint: "list" },
  },
  status: {
    summary: "Status of one service",
    params: name,
    answer: statusBodySchema,
    errors: ["invalid", "not_found"],
    control: { endpoint: "status" },
  },
  start: {
    summary: "Start a service that is not running; answers once it is spawned",
    params: name,
    answer: actionBodySchema,
    errors: ["invalid", "not_found", "conflict", "unprocessable"],
    control: { endpoint: "start" },
  },
  stop: {
    summary: "Stop a service and its whole process group; answers once the group is gone",
    params: name,
    query: { force: PARAMS.force },
    answer: actionBodySchema,
    errors: ["invalid", "not_found", "conflict"],
    control: { endpoint: "stop", query: ["force"] },
  },
  restart: {
    summary: "Stop the service (if live) and start it again",
    params: name,
    answer: actionBodySchema,
    errors: ["invalid", "not_found", "conflict", "unprocessable"],
    control: { endpoint: "restart" },
  },
  run: {
    summary: "Start one run of a job; answers once it is spawned, with its run id",
    description: "409 when the service is not a job or a run is going.",
    params: name,
    answer: runBodySchema,
    errors: ["invalid", "not_found", "conflict", "unprocessable"],
  },
  logs: {
    summary:
      "Last lines of the captured output; with `follow`, Server-Sent Events of new lines as they are written",
    params: name,
    query: {
      lines: PARAMS.lines,
      stream: PARAMS.stream,
      since: PARAMS.since,
      follow: PARAMS.follow,
    },
    answer: logsBodySchema,
    alternative: {
      type: EVENT_STREAM,
      description:
        "With `follow`: `lines` events (`{stream, lines, at}`, `at` the arrival time of each line or null, with `skipped` for output rotated away unread), a `ready` event after the last lines, then `marker` events (`{at, marker, text}`) at each start and exit of the service; `since` applies",
    },
    errors: ["invalid", "not_found", "not_implemented", "unavailable"],
    control: { endpoint: "logs", query: ["lines", "stream"] },
  },
  health: {
    summary: "Health of one service, with its last results",
    params: name,
    query: { now: PARAMS.now },
    answer: serviceHealthBodySchema,
    errors: ["invalid", "not_found"],
    control: { endpoint: "health" },
  },
  history: {
    summary: "The last events of one service, and its CPU and memory over the last hour",
    params: name,
    answer: historyBodySchema,
    errors: ["invalid", "not_found", "not_implemented"],
  },
  events: {
    summary: "Server-Sent Events: the status of every service, then every change",
    answer: {
      type: EVENT_STREAM,
      description:
        "`snapshot` with every service, then one event per change (named by its `type`, data = the event and the service's `status`)",
    },
    errors: [],
  },
  reload: {
    summary: "Re-read the registry file and apply what changed",
    answer: reloadBodySchema,
    errors: ["invalid", "conflict"],
    problems: true,
  },
  add: {
    summary: "Add a service (validated like the registry, written to the registry file)",
    body: serviceDefinitionSchema,
    status: 201,
    answer: actionBodySchema,
    errors: ["invalid", "conflict", "unprocessable"],
    problems: true,
  },
  replace: {
    summary: "Replace the definition of a service (written to the registry file); it restarts",
    params: name,
    body: serviceReplacementSchema,
    answer: actionBodySchema,
    errors: ["invalid", "not_found", "conflict", "unprocessable"],
    problems: true,
  },
  remove: {
    summary: "Stop a service and remove it from the registry file",
    params: name,
    answer: removeBodySchema,
    errors: ["invalid", "not_found", "conflict"],
  },
  orchestrator: {
    summary: "The orchestrator: version, uptime, pid and counts of services by state",
    answer: orchestratorHealthBodySchema,
    errors: [],
    control: { endpoint: "health" },
  },
  openapi: {
    summary: "This document",
    answer: openApiBodySchema,
    errors: [],
  },
  metrics: {
    summary: "The services and the orchestrator in the Prometheus text format (0.0.4)",
    answer: {
      type: "text/plain; version=0.0.4",
      description: "Prometheus text exposition format",
    },
    errors: [],
  },
} as const satisfies Record<OperationName, RouteSpec>;

/** The table's declarations, as its entries are typed. */
export type Routes = typeof ROUTES;

/** One operation with its name, method and path. */
export type Route = RouteSpec & {
  /** Operation name, from `paths.ts`. */
  name: OperationName;
  /** HTTP method. */
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path with `{param}` placeholders. */
  path: string;
};

/** Every operation, in the order of the table. */
export function routes(): Route[] {
  return (Object.keys(ROUTES) as OperationName[]).map((key): Route => ({
    ...(ROUTES[key] as RouteSpec),
    name: key,
    method: PATHS[key].method,
    path: PATHS[key].path,
  }));
}

/** Whether `answer` is the schema of a JSON body (not another media type). */
export function isSchema(answer: RouteSpec["answer"]): answer is z.ZodType {
  return "_zod" in answer;
}
