/**
 * HTTP client of the edgevisor API, used by the CLI's client commands. Every
 * request is built from the operation's method and path (`src/api/paths.ts`,
 * which the route table declares the operations with).
 *
 * @module
 */
import { kindOfStatus } from "../api/error_status.ts";
import { type OperationName, pathOf, PATHS } from "../api/paths.ts";
import type {
  ActionBody,
  ErrorBody,
  HistoryBody,
  ListBody,
  LogsBody,
  OrchestratorHealthBody,
  ReloadBody,
  RemoveBody,
  RunBody,
  ServiceHealthBody,
  StatusBody,
} from "../api/wire.ts";
import { EdgevisorError } from "../errors.ts";
import type { LogStream } from "../types.ts";

/**
 * The API answered with a non-2xx status; the message is the server's
 * `error` text, the kind the one its status stands for.
 */
export class ApiError extends EdgevisorError {
  /** HTTP status of the answer. */
  readonly status: number;
  /** Create an API error from the HTTP status and the server's message. */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: kindOfStatus(status) });
    this.name = "ApiError";
    this.status = status;
  }
}

/** Options of `ApiClient`. */
export interface ApiClientOptions {
  /**
   * Milliseconds one request may take before it is abandoned. A stop waits
   * for the service's `stop_timeout`, so keep this above it.
   * @default 60_000
   */
  timeoutMs?: number;
  /** API token, sent as `Authorization: Bearer <token>` with every request. */
  token?: string;
}

/** Options of `ApiClient.logs`. */
export interface LogsOptions {
  /** Number of lines, 0 to 10000. @default 50 */
  lines?: number;
  /** Which stream(s). @default "both" */
  stream?: LogStream;
  /** Only lines at or after this time: ISO 8601, or a duration before now (`10m`). */
  since?: string;
}

/** The `Authorization` header that carries `token`, or none. */
export function authorization(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/**
 * Calls the edgevisor HTTP API. Every method resolves to the parsed success
 * body, throws `ApiError` for a non-2xx answer, and `EdgevisorError` (kind
 * `unavailable`: "Cannot reach edgevisor at …") when the server cannot be
 * reached.
 *
 * @example
 * ```ts ignore
 * const client = new ApiClient("http://127.0.0.1:8080");
 * const { services } = await client.list();
 * ```
 */
export class ApiClient {
  #base: string;
  #timeoutMs: number;
  #token: string | undefined;

  /** Create a client for `baseUrl` (http or https; a path prefix is kept). Throws `TypeError` for a bad URL. */
  constructor(baseUrl: string, options: ApiClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(`Invalid URL ${JSON.stringify(baseUrl)}: expected http://HOST:PORT`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Invalid URL ${JSON.stringify(baseUrl)}: expected http or https`);
    }
    if (url.search || url.hash || url.username || url.password) {
      throw new TypeError(
        `Invalid URL ${JSON.stringify(baseUrl)}: expected no query, fragment or credentials`,
      );
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#token = options.token;
  }

  /** The base URL, without a trailing slash. */
  get baseUrl(): string {
    return this.#base;
  }

  /** `GET /api/services/list`. */
  list(): Promise<ListBody> {
    return this.#call("list");
  }

  /** `GET /api/services/status/{name}`. */
  status(name: string): Promise<StatusBody> {
    return this.#call("status", { name });
  }

  /** `POST /api/services/start/{name}`. */
  start(name: string): Promise<ActionBody> {
    return this.#call("start", { name });
  }

  /** `POST /api/services/run/{name}`: one run of a job. */
  runJob(name: string): Promise<RunBody> {
    return this.#call("run", { name });
  }

  /** `POST /api/services/stop/{name}?force=…`. */
  stop(name: string, options: { force?: boolean } = {}): Promise<ActionBody> {
    return this.#call("stop", { name }, { force: options.force ? true : undefined });
  }

  /** `POST /api/services/restart/{name}`. */
  restart(name: string): Promise<ActionBody> {
    return this.#call("restart", { name });
  }

  /** `POST /api/services/reload`: re-read the registry file; an invalid one gives an `ApiError` (400, kind `invalid`). */
  reload(): Promise<ReloadBody> {
    return this.#call("reload");
  }

  /** `POST /api/services`: add a service (a definition as in the registry). */
  addService(definition: unknown): Promise<ActionBody> {
    return this.#call("add", {}, {}, definition);
  }

  /** `PUT /api/services/{name}`: replace the definition of a service. */
  replaceService(name: string, definition: unknown): Promise<ActionBody> {
    return this.#call("replace", { name }, {}, definition);
  }

  /** `DELETE /api/services/{name}`: stop a service and remove it from the registry file. */
  removeService(name: string): Promise<RemoveBody> {
    return this.#call("remove", { name });
  }

  /** `GET /api/services/logs/{name}?lines=…&stream=…`. */
  logs(name: string, options: LogsOptions = {}): Promise<LogsBody> {
    return this.#call("logs", { name }, {
      lines: options.lines,
      stream: options.stream,
      since: options.since,
    });
  }

  /** `GET /api/services/health/{name}`. */
  serviceHealth(name: string): Promise<ServiceHealthBody> {
    return this.#call("health", { name });
  }

  /** `GET /api/services/history/{name}`: the last events, and CPU and memory over time. */
  history(name: string): Promise<HistoryBody> {
    return this.#call("history", { name });
  }

  /** `GET /api/health`: orchestrator version, uptime, pid and counts. */
  health(): Promise<OrchestratorHealthBody> {
    return this.#call("orchestrator");
  }

  /** Call operation `name` with its path parameters, query and JSON body. */
  async #call<T>(
    name: OperationName,
    params: { name?: string } = {},
    query: Record<string, string | number | boolean | undefined> = {},
    body?: unknown,
  ): Promise<T> {
    const path = pathOf(name, params, query);
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.#base + path, {
        method: PATHS[name].method,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...authorization(this.#token),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error; // missing --allow-net, not a network problem
      throw new EdgevisorError(
        `Cannot reach edgevisor at ${this.#base}: ${
          reason(error, this.#timeoutMs)
        } (is "edgevisor run" running?)`,
        { cause: error, kind: "unavailable" },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = isErrorBody(parsed)
        ? parsed.error
        : `HTTP ${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, error);
    }
    if (typeof parsed !== "object" || parsed === null) {
      throw new EdgevisorError(
        `Unexpected answer from ${this.#base}${path}: expected a JSON object; got ${
          JSON.stringify(text.slice(0, 80))
        }`,
      );
    }
    return parsed as T;
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === "object" && body !== null &&
    typeof (body as { error?: unknown }).error === "string";
}

/** Short, lower-case reason of a failed fetch. */
function reason(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${timeoutMs / 1000}s`;
  }
  const text = [error, (error as { cause?: unknown })?.cause]
    .map((e) => (e instanceof Error ? e.message : String(e)))
    .join(" ");
  if (/connection refused/i.test(text)) return "connection refused";
  if (/dns error|failed to lookup|name or service not known/i.test(text)) {
    return "host not found";
  }
  if (/connection reset/i.test(text)) return "connection reset";
  if (/timed out/i.test(text)) return "connection timed out";
  if (/certificate|tls/i.test(text)) return "TLS error";
  const cause = (error as { cause?: unknown })?.cause;
  const detail = cause instanceof Error
    ? cause.message
    : error instanceof Error
    ? error.message
    : String(error);
  const short = detail
    .replace(/^error sending request for url \([^)]*\): /, "")
    .replace(/^fetch failed: /i, "");
  return short.charAt(0).toLowerCase() + short.slice(1);
}
