/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas
 * the API validates its parameters with (`schemas.ts`), served at
 * `GET /api/openapi.json`.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { VERSION } from "../version.ts";
import { methodNotAllowed } from "./sse.ts";
import {
  actionBodySchema,
  errorBodySchema,
  followParam,
  forceParam,
  linesParam,
  listBodySchema,
  logsBodySchema,
  nowParam,
  orchestratorHealthBodySchema,
  serviceHealthBodySchema,
  serviceNameParam,
  statusBodySchema,
  streamParam,
} from "./schemas.ts";

type Json = Record<string, unknown>;

const REF_PREFIX = "#/components/schemas/";

/** JSON Schema of `schema` as a client sees it; shared definitions go to `components`. */
function toSchema(schema: z.ZodType, components: Json): Json {
  const json = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as Json;
  delete json.$schema;
  const defs = (json.$defs ?? {}) as Json;
  delete json.$defs;
  for (const [id, def] of Object.entries(defs)) components[id] = def;
  const text = JSON.stringify(json).replaceAll('"#/$defs/', `"${REF_PREFIX}`);
  const id = z.globalRegistry.get(schema)?.id;
  if (typeof id === "string") {
    // The schema itself has an id: it becomes a component and a reference.
    components[id] = JSON.parse(text);
    return { $ref: `${REF_PREFIX}${id}` };
  }
  return JSON.parse(text);
}

interface Param {
  name: string;
  in: "path" | "query";
  schema: z.ZodType;
}

interface Operation {
  method: "get" | "post";
  path: string;
  summary: string;
  params?: Param[];
  body?: z.ZodType;
  /** Media type of a success answer other than JSON. */
  stream?: string;
  errors: number[];
}

const name: Param = { name: "name", in: "path", schema: serviceNameParam };

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid parameter",
  404: "Unknown service",
  409: "The request does not fit the service's state",
  422: "The process cannot be spawned",
};

const OPERATIONS: Operation[] = [
  {
    method: "get",
    path: "/api/services/list",
    summary: "Status of every service, in registry order",
    body: listBodySchema,
    errors: [],
  },
  {
    method: "get",
    path: "/api/services/status/{name}",
    summary: "Status of one service",
    params: [name],
    body: statusBodySchema,
    errors: [400, 404],
  },
  {
    method: "post",
    path: "/api/services/start/{name}",
    summary: "Start a service that is not running",
    params: [name],
    body: actionBodySchema,
    errors: [400, 404, 409, 422],
  },
  {
    method: "post",
    path: "/api/services/stop/{name}",
    summary: "Stop a service and its whole process group",
    params: [name, { name: "force", in: "query", schema: forceParam }],
    body: actionBodySchema,
    errors: [400, 404, 409],
  },
  {
    method: "post",
    path: "/api/services/restart/{name}",
    summary: "Stop the service (if running) and start it again",
    params: [name],
    body: actionBodySchema,
    errors: [400, 404, 409, 422],
  },
  {
    method: "get",
    path: "/api/services/logs/{name}",
    summary:
      "Last lines of the captured output; with `follow`, Server-Sent Events of new lines as they are written",
    params: [
      name,
      { name: "lines", in: "query", schema: linesParam },
      { name: "stream", in: "query", schema: streamParam },
      { name: "follow", in: "query", schema: followParam },
    ],
    body: logsBodySchema,
    stream: "text/event-stream",
    errors: [400, 404],
  },
  {
    method: "get",
    path: "/api/services/health/{name}",
    summary: "Health of one service",
    params: [name, { name: "now", in: "query", schema: nowParam }],
    body: serviceHealthBodySchema,
    errors: [400, 404],
  },
  {
    method: "get",
    path: "/api/services/events",
    summary:
      "Server-Sent Events: `snapshot` with every service, then one event per change (named by its `type`, data = the event and the service's `status`)",
    stream: "text/event-stream",
    errors: [],
  },
  {
    method: "get",
    path: "/api/openapi.json",
    summary: "This document",
    errors: [],
  },
  {
    method: "get",
    path: "/api/health",
    summary: "The orchestrator: version, uptime, pid and counts of services by state",
    body: orchestratorHealthBodySchema,
    errors: [],
  },
];

/** A route of the app, as Hono lists it in `app.routes`. */
export interface RouteInfo {
  /** HTTP method, upper case (`ALL` for catch-alls, which are skipped). */
  method: string;
  /** Hono path with `:param` placeholders. */
  path: string;
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/**
 * Build the OpenAPI document. Routes of `routes` under `/api/` that have no
 * description here are listed too, with their path parameters and the error body.
 *
 * @example
 * ```ts
 * const doc = openApiDocument();
 * console.log(Object.keys(doc.paths));
 * ```
 */
export function openApiDocument(
  routes: RouteInfo[] = [],
): { openapi: string; paths: Record<string, Json> } & Json {
  const components: Json = {};
  const paths: Record<string, Json> = {};
  const error = toSchema(errorBodySchema, components);
  const known = new Set(OPERATIONS.map((op) => `${op.method} ${op.path}`));
  const extra: Operation[] = [];
  for (const route of routes) {
    if (!METHODS.has(route.method) || !route.path.startsWith("/api/")) continue;
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    const method = route.method.toLowerCase() as Operation["method"];
    if (known.has(`${method} ${path}`)) continue;
    known.add(`${method} ${path}`);
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m): Param =>
      m[1] === "name" ? name : { name: m[1]!, in: "path", schema: z.string() }
    );
    extra.push({ method, path, summary: `${route.method} ${path}`, params, errors: [400, 404] });
  }
  for (const op of [...OPERATIONS, ...extra]) {
    const content: Json = {};
    if (op.body) content["application/json"] = { schema: toSchema(op.body, components) };
    if (op.stream) content[op.stream] = { schema: { type: "string" } };
    const responses: Json = { "200": { description: "Success", content } };
    for (const status of op.errors) {
      responses[String(status)] = {
        description: ERROR_TEXT[status] ?? "Error",
        content: { "application/json": { schema: error } },
      };
    }
    if (op.method !== "get") {
      responses["401"] = {
        description: "Missing or wrong API token (when edgevisor has one)",
        content: { "application/json": { schema: error } },
      };
    }
    responses["500"] = {
      description: "Unexpected error",
      content: { "application/json": { schema: error } },
    };
    const parameters = (op.params ?? []).map((p) => {
      const schema = toSchema(p.schema, components);
      const { description, ...rest } = schema;
      return {
        name: p.name,
        in: p.in,
        required: p.in === "path",
        ...(description === undefined ? {} : { description }),
        schema: rest,
      };
    });
    paths[op.path] = {
      ...paths[op.path],
      [op.method]: {
        summary: op.summary,
        operationId: `${op.method}${
          op.path.replace(/\{(\w+)\}/g, "By_$1").replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string) =>
            c ? c.toUpperCase() : "")
        }`,
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(op.method === "get" ? {} : { security: [{ bearer: [] }] }),
        responses,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edgevisor",
      version: VERSION,
      description:
        'Process supervisor API (OmegaOS compatible). Success bodies are `{"ok": true, ...}`; errors `{"ok": false, "error": "..."}`.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "The API token (`--token-file` or `EDGEVISOR_TOKEN`): needed by every change, and by reads when edgevisor listens on a non-loopback address without `--public-read`",
        },
      },
    },
  };
}

/** Serve the document at `GET /api/openapi.json`; it lists every route the app has when first asked. */
export function mountOpenApi(app: Hono): void {
  let doc: Json | undefined;
  app.get("/api/openapi.json", (c) => c.json(doc ??= openApiDocument(app.routes)));
  app.all("/api/openapi.json", (c) => methodNotAllowed(c));
}
