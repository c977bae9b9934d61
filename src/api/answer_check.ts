/**
 * Checks answers of the API against its OpenAPI document, for tests: the
 * operation is looked up by method and path, the status must be one it
 * documents, and a JSON body must match the documented schema (with ajv,
 * draft 2020-12, the document added as a schema so that its `$ref`s
 * resolve). A path of the document asked with a method it does not list
 * must answer 405 with the right `Allow`; any other path 404. The web page
 * (`/`, `/services`) is not part of the document and is not checked.
 *
 * @module
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { type OpenApiDocument, openApiDocument } from "./openapi.ts";

type Json = Record<string, unknown>;

/** Paths served outside the API: the web page. */
const PAGE_PATHS = new Set(["/", "/services"]);

const DOCUMENT_ID = "urn:edgevisor:openapi";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** The component responses of 404 and 405. */
const SHARED: Record<number, string> = { 404: "NotFound", 405: "MethodNotAllowed" };

/**
 * What any request may get before it reaches an operation, whatever its path:
 * a browser's preflight, and the refusals of the server and the guards.
 */
const BEFORE_ROUTING: Record<number, string> = {
  204: "",
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  408: "RequestTimeout",
  413: "ContentTooLarge",
  415: "UnsupportedMediaType",
  431: "HeaderFieldsTooLarge",
  503: "Unavailable",
};

/** An answer to check: the request's method and path (with query), and what came back. */
export interface Answer {
  /** Method of the request. */
  method: string;
  /** Path of the request, with its query string. */
  path: string;
  /** Status of the answer. */
  status: number;
  /** Headers of the answer. */
  headers: Headers;
  /** The parsed JSON body, the text of another body, or undefined for none (HEAD). */
  body: unknown;
}

/** An answer that does not match the document. */
export class ContractError extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "ContractError";
  }
}

/** Checks answers against one OpenAPI document. */
export class AnswerChecker {
  readonly #doc: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #templates: { path: string; pattern: RegExp }[];

  /** Compile checks against `doc`. */
  constructor(doc: OpenApiDocument = openApiDocument()) {
    this.#doc = doc;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    this.#ajv.addFormat("date-time", {
      type: "string",
      validate: (value: string) =>
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) &&
        !Number.isNaN(Date.parse(value)),
    });
    this.#ajv.addSchema({ ...doc, $id: DOCUMENT_ID });
    // Paths without parameters first, as the app routes them.
    this.#templates = Object.keys(doc.paths)
      .sort((a, b) => Number(a.includes("{")) - Number(b.includes("{")))
      .map((path) => ({
        path,
        pattern: new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/\{\w+\}/g, "[^/]+")}$`),
      }));
  }

  /** Throw a `ContractError` that says what is wrong unless `answer` matches the document. */
  check(answer: Answer): void {
    const path = answer.path.split("?")[0]!;
    const what = `${answer.method} ${answer.path} → ${answer.status}`;
    const template = this.#templates.find((t) => t.pattern.test(path))?.path;
    const item = template === undefined ? undefined : this.#doc.paths[template]!;
    const method = answer.method === "HEAD" ? "get" : answer.method.toLowerCase();
    if (item === undefined || !(method in item)) {
      if (item === undefined && PAGE_PATHS.has(path)) return;
      const allowed = METHODS.filter((m) => item !== undefined && m in item)
        .map((m) => m.toUpperCase());
      const allow = allowed.flatMap((m) => m === "GET" ? ["GET", "HEAD"] : [m]).join(", ");
      const expected = item === undefined ? 404 : 405;
      const name = answer.status === expected ? SHARED[expected] : BEFORE_ROUTING[answer.status];
      if (name === undefined) {
        throw new ContractError(
          item === undefined
            ? `${what}: a path outside the document must answer 404`
            : `${what}: ${template} takes ${allow} only: expected 405`,
        );
      }
      if (answer.status === 405 && answer.headers.get("allow") !== allow) {
        throw new ContractError(
          `${what}: Allow ${JSON.stringify(answer.headers.get("allow"))}; expected "${allow}"`,
        );
      }
      if (answer.status === 204) return; // a preflight
      return this.#checkBody(what, answer, `#/components/responses/${name}`);
    }
    const operation = item[method] as { responses: Record<string, Json> };
    const pointer = `#/paths/${escape(template!)}/${method}/responses/${answer.status}`;
    const response = operation.responses[String(answer.status)];
    if (response === undefined) {
      throw new ContractError(
        `${what}: status ${answer.status} is not documented (documented: ${
          Object.keys(operation.responses).join(", ")
        })`,
      );
    }
    const ref = typeof response.$ref === "string" ? response.$ref : pointer;
    this.#checkBody(what, answer, ref);
  }

  /** Check the headers and body of `answer` against the response at `pointer`. */
  #checkBody(what: string, answer: Answer, pointer: string): void {
    const response = resolve(this.#doc, pointer) as {
      content?: Record<string, unknown>;
      headers?: Record<string, unknown>;
    };
    for (const header of Object.keys(response.headers ?? {})) {
      if (!answer.headers.has(header)) throw new ContractError(`${what}: no ${header} header`);
    }
    if (answer.body === undefined) return; // HEAD
    const type = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const media = Object.keys(response.content ?? {}).find((key) =>
      key.split(";")[0]!.trim() === type
    );
    if (media === undefined) {
      throw new ContractError(
        `${what}: Content-Type ${JSON.stringify(type)} is not documented (documented: ${
          Object.keys(response.content ?? {}).join(", ") || "none"
        })`,
      );
    }
    if (media !== "application/json") return;
    const schemaPointer = `${pointer}/content/${escape(media)}/schema`;
    let validate = this.#validators.get(schemaPointer);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: `${DOCUMENT_ID}${schemaPointer}` });
      this.#validators.set(schemaPointer, validate);
    }
    if (!validate(answer.body)) {
      const errors = (validate.errors ?? []).slice(0, 5).map((e) =>
        `${e.instancePath || "/"} ${e.message}${
          e.params && "additionalProperty" in e.params
            ? ` (${JSON.stringify(e.params.additionalProperty)})`
            : ""
        }`
      );
      throw new ContractError(
        `${what}: the body does not match ${pointer}: ${errors.join("; ")}\nbody: ${
          JSON.stringify(answer.body).slice(0, 2000)
        }`,
      );
    }
  }
}

/** A JSON pointer token: `~` and `/` escaped. */
function escape(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The value at `#/a/b` in `doc`. */
function resolve(doc: unknown, pointer: string): unknown {
  return pointer.slice(2).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((value: unknown, key) => (value as Record<string, unknown> | undefined)?.[key], doc);
}

let shared: AnswerChecker | undefined;

/** Check `answer` against the document of this edgevisor (see {@linkcode AnswerChecker.check}). */
export function checkAnswer(answer: Answer): void {
  (shared ??= new AnswerChecker()).check(answer);
}

/** What {@linkcode checkedRequest} answers: the status, the headers and the parsed body. */
export interface CheckedAnswer {
  /** HTTP status. */
  status: number;
  /** Headers. */
  headers: Headers;
  /** Parsed JSON body, the text of another body, undefined for HEAD. */
  // deno-lint-ignore no-explicit-any
  body: any;
}

/**
 * `app.request(path, init)` (a Hono app, no socket), with the answer read
 * and checked against the document. An event stream is not read: its body
 * is left to the caller as `response`.
 */
export async function checkedRequest(
  app: { request(path: string, init?: RequestInit): Response | Promise<Response> },
  method: string,
  path: string,
  init: Omit<RequestInit, "method"> = {},
): Promise<CheckedAnswer & { response: Response }> {
  const response = await app.request(path, { ...init, method });
  const stream = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
  let body: unknown = undefined;
  if (method !== "HEAD" && !stream) {
    const text = await response.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  checkAnswer({
    method,
    path,
    status: response.status,
    headers: response.headers,
    body: stream ? undefined : body,
  });
  return { status: response.status, headers: response.headers, body, response };
}
