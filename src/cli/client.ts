/**
 * HTTP client of the edgevisor API, used by the CLI's client commands.
 *
 * @module
 */
import type {
  ActionBody,
  ErrorBody,
  ListBody,
  LogsBody,
  OrchestratorHealthBody,
  ServiceHealthBody,
  StatusBody,
} from "../api/wire.ts";
import { EdgevisorError } from "../errors.ts";
import type { LogStream, RegistryDiff } from "../types.ts";

/** The API answered with a non-2xx status; the message is the server's `error` text. */
export class ApiError extends EdgevisorError {
  /** HTTP status of the answer. */
  override readonly status: number;
  /** Create an API error from the HTTP status and the server's message. */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
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
}

/**
 * Calls the edgevisor HTTP API. Every method resolves to the parsed success
 * body, throws `ApiError` for a non-2xx answer, and `EdgevisorError`
 * ("Cannot reach edgevisor at …") when the server cannot be reached.
 *
 * @example
 * ```ts
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
    return this.#request("GET", "/api/services/list");
  }

  /** `GET /api/services/status/:name`. */
  status(name: string): Promise<StatusBody> {
    return this.#request("GET", `/api/services/status/${encodeURIComponent(name)}`);
  }

  /** `POST /api/services/start/:name`. */
  start(name: string): Promise<ActionBody> {
    return this.#request("POST", `/api/services/start/${encodeURIComponent(name)}`);
  }

  /** `POST /api/services/run/:name`: one run of a job. */
  runJob(name: string): Promise<ActionBody & { run_id: number }> {
    return this.#request("POST", `/api/services/run/${encodeURIComponent(name)}`);
  }

  /** `POST /api/services/stop/:name?force=…`. */
  stop(name: string, options: { force?: boolean } = {}): Promise<ActionBody> {
    const query = options.force ? "?force=true" : "";
    return this.#request("POST", `/api/services/stop/${encodeURIComponent(name)}${query}`);
  }

  /** `POST /api/services/restart/:name`. */
  restart(name: string): Promise<ActionBody> {
    return this.#request("POST", `/api/services/restart/${encodeURIComponent(name)}`);
  }

  /** `POST /api/services/reload`: re-read the registry file; an invalid one gives an `ApiError` (400). */
  reload(): Promise<{ ok: true; message: string } & RegistryDiff> {
    return this.#request("POST", "/api/services/reload");
  }

  /** `GET /api/services/logs/:name?lines=…&stream=…`. */
  logs(name: string, options: LogsOptions = {}): Promise<LogsBody> {
    const query = new URLSearchParams();
    if (options.lines !== undefined) query.set("lines", String(options.lines));
    if (options.stream !== undefined) query.set("stream", options.stream);
    const search = query.size > 0 ? `?${query}` : "";
    return this.#request("GET", `/api/services/logs/${encodeURIComponent(name)}${search}`);
  }

  /** `GET /api/services/health/:name`. */
  serviceHealth(name: string): Promise<ServiceHealthBody> {
    return this.#request("GET", `/api/services/health/${encodeURIComponent(name)}`);
  }

  /** `GET /api/health`: orchestrator version, uptime, pid and counts. */
  health(): Promise<OrchestratorHealthBody> {
    return this.#request("GET", "/api/health");
  }

  async #request<T>(method: "GET" | "POST", path: string): Promise<T> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.#base + path, {
        method,
        headers: {
          accept: "application/json",
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error; // missing --allow-net, not a network problem
      throw new EdgevisorError(
        `Cannot reach edgevisor at ${this.#base}: ${
          reason(error, this.#timeoutMs)
        } (is "edgevisor run" running?)`,
        { cause: error },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const error = isErrorBody(body)
        ? body.error
        : `HTTP ${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, error);
    }
    if (typeof body !== "object" || body === null) {
      throw new EdgevisorError(
        `Unexpected answer from ${this.#base}${path}: expected a JSON object; got ${
          JSON.stringify(text.slice(0, 80))
        }`,
      );
    }
    return body as T;
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
