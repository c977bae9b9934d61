/**
 * Remote control over NATS: a micro service named `edgevisor` (so that
 * `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` list every orchestrator) with the
 * endpoints `list`, `status`, `start`, `stop`, `restart`, `logs` and `health`
 * under `{prefix}.{node}.control`.
 *
 * Each request is answered by the REST API app itself (`createApp`), so the
 * bodies, validation and errors are exactly those of HTTP. A request carries
 * its parameters as a JSON object (`{"name": "web", "force": true}`), and the
 * API token, when one is configured, in an `Authorization: Bearer <token>`
 * header.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import { createApp } from "../api/app.ts";
import type { ErrorBody } from "../api/wire.ts";
import type { ServiceControl } from "../types.ts";
import { VERSION } from "../version.ts";

/** The running micro service. */
export type ControlService = Service;

/** Every control endpoint. */
export const CONTROL_ENDPOINTS = [
  "list",
  "status",
  "start",
  "stop",
  "restart",
  "logs",
  "health",
] as const;

/** One control endpoint. */
export type ControlEndpoint = typeof CONTROL_ENDPOINTS[number];

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
  /** Token requests must carry; none when undefined. */
  token?: string;
  /** Where unexpected errors are logged. */
  log?: (line: string) => void;
}

/** A REST request (method and path with query) for a control request; throws on bad input. */
export function restRequest(
  endpoint: ControlEndpoint,
  request: ControlRequest,
): { method: "GET" | "POST"; path: string; status?: number; error?: string } {
  const name = request.name;
  if (name !== undefined && typeof name !== "string") {
    return { method: "GET", path: "", status: 400, error: 'Invalid "name": expected a string' };
  }
  const service = name === undefined ? undefined : encodeURIComponent(name);
  if (endpoint === "list") return { method: "GET", path: "/api/services/list" };
  if (endpoint === "health" && service === undefined) return { method: "GET", path: "/api/health" };
  if (service === undefined || service === "") {
    return { method: "GET", path: "", status: 400, error: 'Missing "name": the service name' };
  }
  const query = new URLSearchParams();
  if (endpoint === "stop" && request.force !== undefined) query.set("force", String(request.force));
  if (endpoint === "logs") {
    if (request.lines !== undefined) query.set("lines", String(request.lines));
    if (request.stream !== undefined) query.set("stream", String(request.stream));
  }
  const qs = query.size > 0 ? `?${query}` : "";
  const method = endpoint === "start" || endpoint === "stop" || endpoint === "restart"
    ? "POST"
    : "GET";
  return { method, path: `/api/services/${endpoint}/${service}${qs}` };
}

/** Whether an `Authorization` header value carries `token` (constant-time comparison). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? "")?.[1] ?? "";
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Register the `edgevisor` micro service with its endpoints on `nc`. */
export async function addControlService(
  nc: NatsConnection,
  control: ServiceControl,
  options: ControlOptions,
): Promise<ControlService> {
  const app = createApp(control, { log: options.log });
  // @nats-io/services is built against its own copy of nats-core's types.
  const svcm = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const service = await svcm.add({
    name: "edgevisor",
    version: VERSION,
    description: "edgevisor process supervisor",
    metadata: { node: options.node, version: VERSION, prefix: options.prefix },
  });
  const group = service.addGroup(options.group);
  for (const endpoint of CONTROL_ENDPOINTS) {
    group.addEndpoint(endpoint, {
      handler: (_err, msg) => {
        void answer(endpoint, msg).catch((err) =>
          options.log?.(`nats: control ${endpoint} failed: ${err}`)
        );
      },
      metadata: { endpoint },
    });
  }

  async function answer(endpoint: ControlEndpoint, msg: ServiceMsg): Promise<void> {
    const fail = (status: number, error: string) =>
      msg.respondError(status, error, JSON.stringify({ ok: false, error } satisfies ErrorBody));
    const authorization = msg.headers?.get("Authorization") || undefined;
    if (options.token !== undefined && !tokenMatches(authorization, options.token)) {
      fail(401, authorization ? "Wrong API token" : "Missing API token");
      return;
    }
    let request: ControlRequest = {};
    if (msg.data.length > 0) {
      try {
        const parsed = msg.json<unknown>();
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new TypeError("not an object");
        }
        request = parsed as ControlRequest;
      } catch {
        fail(400, "Invalid request: expected a JSON object");
        return;
      }
    }
    const rest = restRequest(endpoint, request);
    if (rest.status !== undefined) {
      fail(rest.status, rest.error ?? "Bad request");
      return;
    }
    const headers: Record<string, string> = {};
    if (authorization) headers.Authorization = authorization;
    const response = await app.request(rest.path, { method: rest.method, headers });
    const text = await response.text();
    if (response.ok) {
      msg.respond(text);
      return;
    }
    let error = `HTTP ${response.status}`;
    try {
      error = (JSON.parse(text) as ErrorBody).error ?? error;
    } catch {
      // keep the status
    }
    msg.respondError(response.status, error, text);
  }

  return service;
}
