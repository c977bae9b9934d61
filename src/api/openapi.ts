/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table
 * (`routes.ts`) and its zod schemas with `z.toJSONSchema`, served at
 * `GET /api/openapi.json`. Shared schemas are components
 * (`#/components/schemas/...`), each generated whole from a registry of
 * ids, so none refers to itself; the errors every request may get are
 * components too (`#/components/responses/...`).
 *
 * @module
 */
import { z } from "zod";
import type { ErrorKind } from "../errors.ts";
import { healthCheckSchema } from "../registry/schema.ts";
import { VERSION } from "../version.ts";
import { STATUS_OF_KIND } from "./error_status.ts";
import type { Param } from "./params.ts";
import { isSchema, type Route, routes } from "./routes.ts";
import {
  actionBodySchema,
  errorBodySchema,
  exitInfoSchema,
  healthInfoSchema,
  healthRecordSchema,
  historyBodySchema,
  historyEventSchema,
  jobRunSchema,
  listBodySchema,
  logsBodySchema,
  mergedLogEntrySchema,
  openApiBodySchema,
  orchestratorHealthBodySchema,
  problemsBodySchema,
  registryProblemSchema,
  reloadBodySchema,
  removeBodySchema,
  runBodySchema,
  serviceDefinitionSchema,
  serviceHealthBodySchema,
  serviceReplacementSchema,
  statusBodySchema,
  statusSchema,
} from "./schemas.ts";

type Json = Record<string, unknown>;

/** The OpenAPI document: `openapi`, `info`, `paths`, `components` (JSON objects all). */
export type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string } & Record<string, unknown>;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    responses: Record<string, Record<string, unknown>>;
  } & Record<string, unknown>;
} & Record<string, unknown>;

const SCHEMAS = "#/components/schemas/";
const RESPONSES = "#/components/responses/";

/** Schemas of answers, shared as components under these names. */
const ANSWER_COMPONENTS: [z.ZodType, string][] = [
  [errorBodySchema, "Error"],
  [problemsBodySchema, "RegistryProblems"],
  [registryProblemSchema, "RegistryProblem"],
  [statusSchema, "ServiceStatus"],
  [healthInfoSchema, "HealthInfo"],
  [healthRecordSchema, "HealthRecord"],
  [exitInfoSchema, "ExitInfo"],
  [jobRunSchema, "JobRun"],
  [healthCheckSchema, "HealthCheck"],
  [mergedLogEntrySchema, "MergedLogEntry"],
  [historyEventSchema, "HistoryEvent"],
  [listBodySchema, "ListBody"],
  [statusBodySchema, "StatusBody"],
  [actionBodySchema, "ActionBody"],
  [runBodySchema, "RunBody"],
  [logsBodySchema, "LogsBody"],
  [serviceHealthBodySchema, "ServiceHealthBody"],
  [historyBodySchema, "HistoryBody"],
  [reloadBodySchema, "ReloadBody"],
  [removeBodySchema, "RemoveBody"],
  [orchestratorHealthBodySchema, "OrchestratorHealthBody"],
  [openApiBodySchema, "OpenApiDocument"],
];

/** Schemas of request bodies, as clients write them (defaults optional). */
const REQUEST_COMPONENTS: [z.ZodType, string][] = [
  [serviceDefinitionSchema, "ServiceDefinition"],
  [serviceReplacementSchema, "ServiceReplacement"],
  [healthCheckSchema, "HealthCheck"],
];

/** JSON Schemas of every schema of `list`, by id, referring to each other as components. */
function componentSchemas(
  list: [z.ZodType, string][],
  io: "input" | "output",
): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of list) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    uri: (id) => `${SCHEMAS}${id}`,
    unrepresentable: "any",
  }) as { schemas: Record<string, Json> };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

/** A component reference to `schema`, or its JSON Schema inline. */
function schemaRef(schema: z.ZodType, list: [z.ZodType, string][]): Json {
  const id = list.find(([s]) => s === schema)?.[1];
  if (id !== undefined) return { $ref: `${SCHEMAS}${id}` };
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    io: "output",
    unrepresentable: "any",
  }) as Json;
  return json;
}

/** The component response of each status an operation may answer with an error. */
const ERROR_RESPONSES: Record<number, { name: string; description: string; headers?: Json }> = {
  400: { name: "BadRequest", description: "Invalid request, or invalid parameter" },
  401: {
    name: "Unauthorized",
    description: "Missing or wrong API token (when edgevisor has one)",
    headers: {
      "WWW-Authenticate": {
        description: '`Bearer realm="edgevisor"`',
        schema: { type: "string" },
      },
    },
  },
  403: {
    name: "Forbidden",
    description:
      "A cross-site or foreign-origin request, or a Host name that a loopback listener does not answer",
  },
  404: { name: "NotFound", description: "Unknown service" },
  405: {
    name: "MethodNotAllowed",
    description: "Any path of this document, with a method it does not list",
    headers: {
      Allow: { description: "The methods the path takes", schema: { type: "string" } },
    },
  },
  408: { name: "RequestTimeout", description: "The request was not received in time" },
  409: { name: "Conflict", description: "The request does not fit the state of the service" },
  413: { name: "ContentTooLarge", description: "The request body is over the limit (1 MiB)" },
  415: { name: "UnsupportedMediaType", description: "A body that is not `application/json`" },
  422: { name: "Unprocessable", description: "The process cannot be spawned" },
  431: { name: "HeaderFieldsTooLarge", description: "The request head is over the limit" },
  500: {
    name: "InternalError",
    description: "Unexpected error: logged by edgevisor, answered `Internal error`",
  },
  501: { name: "NotImplemented", description: "Not offered by this edgevisor" },
  503: {
    name: "Unavailable",
    description: "Too many connections or log followers; try again later",
  },
};

/** Kinds of error every request may get (the server and the guards answer them). */
const EVERY_REQUEST: readonly ErrorKind[] = ["invalid", "unauthorized", "forbidden", "internal"];

/** Statuses the HTTP server answers before the app: too slow, too large a head, too many connections. */
const SERVER_STATUSES = [408, 431, 503];

/** Kinds of error of every request that may carry a body. */
const WITH_BODY: readonly ErrorKind[] = ["too_large", "unsupported_media_type"];

function errorStatuses(route: Route): number[] {
  const kinds = new Set([
    ...EVERY_REQUEST,
    ...(route.method === "GET" ? [] : WITH_BODY),
    ...route.errors,
  ]);
  const statuses = new Set([...[...kinds].map((kind) => STATUS_OF_KIND[kind]), ...SERVER_STATUSES]);
  return [...statuses].sort((a, b) => a - b);
}

function parameters(params: Route["params"], place: "path" | "query"): Json[] {
  return Object.entries(params ?? {}).map(([name, param]: [string, Param<unknown>]) => {
    const { description, $schema: _, ...schema } = z.toJSONSchema(param.schema, {
      io: "output",
      unrepresentable: "any",
    }) as Json;
    return {
      name,
      in: place,
      required: place === "path",
      ...(description === undefined ? {} : { description }),
      schema,
    };
  });
}

/** `get /api/services/status/{name}` → `getApiServicesStatusByName`. */
function operationId(route: Route): string {
  const path = route.path.replace(/\{(\w+)\}/g, "By_$1")
    .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string) => c ? c.toUpperCase() : "");
  return `${route.method.toLowerCase()}${path}`;
}

function operation(route: Route): Json {
  const content: Json = {};
  if (isSchema(route.answer)) {
    content["application/json"] = { schema: schemaRef(route.answer, ANSWER_COMPONENTS) };
  } else {
    content[route.answer.type] = {
      schema: { type: "string", description: route.answer.description },
    };
  }
  if (route.alternative) {
    content[route.alternative.type] = {
      schema: { type: "string", description: route.alternative.description },
    };
  }
  const responses: Json = {
    [String(route.status ?? 200)]: { description: "Success", content },
  };
  for (const status of errorStatuses(route)) {
    responses[String(status)] = status === 400 && route.problems
      ? { $ref: `${RESPONSES}InvalidRegistry` }
      : { $ref: `${RESPONSES}${ERROR_RESPONSES[status]!.name}` };
  }
  const params = [...parameters(route.params, "path"), ...parameters(route.query, "query")];
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(route.body
      ? {
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: schemaRef(route.body, REQUEST_COMPONENTS) },
          },
        },
      }
      : {}),
    // Reads need the token only on a non-loopback listener without --public-read.
    security: route.method === "GET" ? [{}, { bearer: [] }] : [{ bearer: [] }],
    responses,
  };
}

function errorResponses(): Record<string, Json> {
  const error = { "application/json": { schema: { $ref: `${SCHEMAS}Error` } } };
  const responses: Record<string, Json> = {};
  for (const { name, description, headers } of Object.values(ERROR_RESPONSES)) {
    responses[name] = { description, ...(headers ? { headers } : {}), content: error };
  }
  responses.InvalidRegistry = {
    description:
      "Invalid request or parameter; for an invalid registry or definition, every problem with its path",
    content: {
      "application/json": {
        schema: { anyOf: [{ $ref: `${SCHEMAS}Error` }, { $ref: `${SCHEMAS}RegistryProblems` }] },
      },
    },
  };
  return responses;
}

/**
 * Build the OpenAPI 3.1 document of every operation of the route table.
 *
 * @example
 * ```ts
 * const doc = openApiDocument();
 * Object.keys(doc.paths).includes("/api/services/list"); // true
 * ```
 */
export function openApiDocument(): OpenApiDocument {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes()) {
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edgevisor",
      version: VERSION,
      description:
        'Process supervisor API (OmegaOS compatible). Success bodies are `{"ok": true, ...}`; errors `{"ok": false, "error": "..."}`. ' +
        "GET operations also answer HEAD. A path of this document asked with a method it does not list answers 405 with an `Allow` header; any other path answers 404.",
    },
    paths,
    components: {
      schemas: {
        ...componentSchemas(REQUEST_COMPONENTS, "input"),
        ...componentSchemas(ANSWER_COMPONENTS, "output"),
      },
      responses: errorResponses(),
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
