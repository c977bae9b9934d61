/**
 * Remote control over NATS: a micro service named `edgevisor` (so that
 * `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` list every orchestrator) with the
 * endpoints of {@linkcode CONTROL_ENDPOINTS} under `{prefix}.{node}.control`.
 *
 * The endpoints, and the REST request each answers with, come from the
 * route table (`src/api/routes.ts`): the routes that name a control
 * endpoint. Each request is answered by the REST API app itself
 * (`createApp`), so the bodies, validation and errors are exactly those of
 * HTTP, and the error code of an error answer is its HTTP status. A request
 * carries its parameters as a JSON object (`{"name": "web", "force": true}`).
 * No secret travels with it: who may send control requests, and who may
 * answer them, is decided by the NATS server's permissions on these subjects.
 *
 * @module
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { createApp } from "../api/app.ts";
import { errorAnswer } from "../api/error_status.ts";
import { type OperationName, pathOf } from "../api/paths.ts";
import { type Route, type Routes, routes } from "../api/routes.ts";
import { BadRequestError } from "../errors.ts";
import type { ServiceControl } from "../types.ts";
import { VERSION } from "../version.ts";
import { type MicroReply, MicroService } from "./micro.ts";

/** The running micro service. */
export type ControlService = MicroService;

/** One control endpoint: the name a route of the table gives it. */
export type ControlEndpoint = {
  [N in OperationName]: Routes[N] extends { control: { endpoint: infer E } } ? E : never;
}[OperationName];

/** How one control endpoint maps to REST requests. */
export interface ControlRoute {
  /** The operation that answers a request naming a service. */
  named?: Route;
  /** The operation that answers a request naming none (`list`, the orchestrator's `health`). */
  unnamed?: Route;
  /** Request fields passed on as query parameters. */
  query: readonly string[];
}

/** Every control endpoint and the operations that answer it, in the order of the route table. */
export const CONTROL_ENDPOINTS: Readonly<Record<ControlEndpoint, ControlRoute>> = (() => {
  const endpoints: Record<string, ControlRoute> = {};
  for (const route of routes()) {
    if (!route.control) continue;
    const entry = endpoints[route.control.endpoint] ??= { query: [] };
    if (route.params?.name) entry.named = route;
    else entry.unnamed = route;
    entry.query = [...new Set([...entry.query, ...route.control.query ?? []])];
  }
  return endpoints as Record<ControlEndpoint, ControlRoute>;
})();

/** Body of a control request: every field optional, strings accepted as in a query string. */
export interface ControlRequest {
  /** Service name (every endpoint but `list`; `health` without it: the orchestrator). */
  name?: string;
  /** `stop`: SIGKILL at once. */
  force?: boolean | string;
  /** `logs`: number of lines. */
  lines?: number | string;
  /** `logs`: `stdout`, `stderr` or `both`. */
  stream?: string;
}

/** Options of {@linkcode addControlService}. */
export interface ControlOptions {
  /** Subject group of the endpoints, `{prefix}.{node}.control`. */
  group: string;
  /** Node name (service metadata). */
  node: string;
  /** Subject prefix (service metadata). */
  prefix: string;
  /** Where unexpected errors are logged. */
  log?: (line: string) => void;
}

/**
 * The REST request (method and path with query) of a control request.
 *
 * @throws {BadRequestError} for a name that is not a string, or a missing one.
 */
export function restRequest(
  endpoint: ControlEndpoint,
  request: ControlRequest,
): { method: Route["method"]; path: string } {
  const { named, unnamed, query } = CONTROL_ENDPOINTS[endpoint];
  const name = request.name;
  if (name !== undefined && typeof name !== "string") {
    throw new BadRequestError('Invalid "name": expected a string');
  }
  if (named === undefined || (name === undefined && unnamed !== undefined)) {
    return { method: unnamed!.method, path: pathOf(unnamed!.name) };
  }
  if (name === undefined || name === "") {
    throw new BadRequestError('Missing "name": the service name');
  }
  const values: Record<string, string> = {};
  for (const key of query) {
    const value = request[key as keyof ControlRequest];
    if (value !== undefined) values[key] = String(value);
  }
  return { method: named.method, path: pathOf(named.name, { name }, values) };
}

/** Start the `edgevisor` micro service with its endpoints on `nc`. */
export function addControlService(
  nc: NatsConnection,
  control: ServiceControl,
  options: ControlOptions,
): Promise<ControlService> {
  const log = options.log ?? ((line: string) => console.error(line));
  // One app per connection, for its answers only: it serves no /metrics, so it counts no transitions.
  const app = createApp(control, { log, countTransitions: false });

  async function answer(endpoint: ControlEndpoint, msg: Msg): Promise<MicroReply> {
    let request: ControlRequest = {};
    if (msg.data.length > 0) {
      let parsed: unknown;
      try {
        parsed = msg.json<unknown>();
      } catch {
        parsed = undefined;
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new BadRequestError("Invalid request: expected a JSON object");
      }
      request = parsed as ControlRequest;
    }
    const rest = restRequest(endpoint, request);
    const response = await app.request(rest.path, { method: rest.method });
    const text = await response.text();
    if (response.ok) return { data: text };
    let error = `HTTP ${response.status}`;
    try {
      error = (JSON.parse(text) as { error?: string }).error ?? error;
    } catch {
      // keep the status
    }
    return { data: text, error: { code: response.status, description: error } };
  }

  /** An error of the request itself, answered by its kind as HTTP would. */
  async function reply(endpoint: ControlEndpoint, msg: Msg): Promise<MicroReply> {
    try {
      return await answer(endpoint, msg);
    } catch (error) {
      const { status, body } = errorAnswer(error, log, `nats: control ${endpoint}`);
      return { data: JSON.stringify(body), error: { code: status, description: body.error } };
    }
  }

  return MicroService.start(nc, {
    name: "edgevisor",
    version: VERSION,
    description: "edgevisor process supervisor",
    metadata: { node: options.node, version: VERSION, prefix: options.prefix },
    endpoints: (Object.keys(CONTROL_ENDPOINTS) as ControlEndpoint[]).map((endpoint) => ({
      name: endpoint,
      subject: `${options.group}.${endpoint}`,
      metadata: { endpoint },
      handler: (msg) => reply(endpoint, msg),
    })),
  });
}
