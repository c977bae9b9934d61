/**
 * Who may call the API: the API token (`--token-file` or `EDGEVISOR_TOKEN`),
 * the middleware that checks it, the request body limit, and the start-up
 * rule that refuses to listen on a non-loopback address without a token.
 *
 * - Every request that is not `GET`, `HEAD` or `OPTIONS` (start, stop,
 *   restart, run, reload, add, replace, delete) needs
 *   `Authorization: Bearer <token>` when a token is configured.
 * - Reads (list, status, logs, health, events, openapi, metrics) are open
 *   when the API listens on a loopback address, or with `--public-read`;
 *   otherwise they need the token too. The page itself (`/`, `/services`)
 *   is static and holds no data: it is always served, and asks for the
 *   token when the API answers 401.
 * - A missing or wrong token answers 401 `{"ok": false, "error": ...}` with
 *   `WWW-Authenticate: Bearer` (an `UnauthorizedError`, answered by the app). Tokens are compared in constant time (both
 *   sides hashed with SHA-256 first, so that not even the length leaks).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { TooLargeError, UnauthorizedError } from "../errors.ts";
import { tooLarge } from "./http_parser.ts";

/** Largest request body the API reads, in bytes; a larger one answers 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Paths served to anyone: the static page, which holds no data. */
const ALWAYS_OPEN = new Set(["/", "/services"]);

/** Methods that only read. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Who may call the API (the `auth` option of `createApp`). */
export interface AuthOptions {
  /** The API token; without one every request is allowed. */
  token?: string;
  /**
   * Whether reads are allowed without the token (true when the API listens
   * on loopback, or with `--public-read`).
   * @default true
   */
  publicRead?: boolean;
}

/**
 * An API token that cannot be used; `exitCode` is 1 for an unreadable file,
 * 2 for an empty one or a token that could never match.
 */
export class TokenFileError extends Error {
  /** Exit code of `edgevisor run`. */
  readonly exitCode: 1 | 2;
  /** Create the error with the exit code `edgevisor run` ends with. */
  constructor(message: string, exitCode: 1 | 2, options?: ErrorOptions) {
    super(message, options);
    this.name = "TokenFileError";
    this.exitCode = exitCode;
  }
}

/**
 * Read the API token from `path`: the whole file without one trailing
 * newline (`\n` or `\r\n`). Throws `TokenFileError` (exit code 1) when the
 * file cannot be read, and (exit code 2) when it is empty, holds a line
 * break inside, or fails {@linkcode checkToken}. The token never appears in
 * a message.
 */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new TokenFileError(
      `Cannot read the token file ${JSON.stringify(path)}: ${(error as Error).message}`,
      1,
      { cause: error },
    );
  }
  const token = text.replace(/\r?\n$/, "");
  if (token.trim() === "") {
    throw new TokenFileError(`The token file ${JSON.stringify(path)} is empty`, 2);
  }
  if (/[\r\n]/.test(token)) {
    throw new TokenFileError(
      `The token file ${JSON.stringify(path)} holds more than one line; expected the token alone`,
      2,
    );
  }
  return checkToken(token, JSON.stringify(path));
}

/**
 * `token`, when a request can carry it: `Authorization: Bearer <token>` takes
 * one run of characters without whitespace, so a token holding a space, a
 * tab or any other whitespace or control character could never match.
 * `source` names where it came from in the message (a quoted file name, or
 * `EDGEVISOR_TOKEN`), which never shows the token.
 *
 * @throws {TokenFileError} (exit code 2) for such a token.
 */
export function checkToken(token: string, source: string): string {
  if (/[\s\p{Cc}]/u.test(token)) {
    throw new TokenFileError(
      `The API token from ${source} holds whitespace or control characters; use printable characters without spaces`,
      2,
    );
  }
  return token;
}

/**
 * Whether `hostname` (of `--listen`) is a loopback address: `localhost`,
 * `127.0.0.0/8`, `::1` or `::ffff:127.x.y.z`. Any other name or address,
 * `0.0.0.0` and `::` included, is not.
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  const v4 = host.startsWith("::ffff:") ? host.slice(7) : host;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** What `edgevisor run` decides about access from its options. */
export type AccessPlan =
  | { ok: true; auth: AuthOptions; warning?: string }
  | { ok: false; error: string };

/**
 * Decide who may call the API listening on `hostname`. Without a token on a
 * non-loopback address, refuse (unless `insecure`, which gives a warning to
 * log on every start).
 */
export function planAccess(
  options: { hostname: string; token?: string; publicRead?: boolean; insecure?: boolean },
): AccessPlan {
  const loopback = isLoopback(options.hostname);
  const publicRead = loopback || options.publicRead === true;
  if (options.token !== undefined) return { ok: true, auth: { token: options.token, publicRead } };
  if (loopback) return { ok: true, auth: { publicRead } };
  if (options.insecure) {
    return {
      ok: true,
      auth: { publicRead },
      warning:
        `warning: the API listens on the non-loopback address "${options.hostname}" without a token (--insecure): anyone who reaches it can start, stop and change services`,
    };
  }
  return {
    ok: false,
    error:
      `refusing to listen on the non-loopback address "${options.hostname}" without an API token: set one with --token-file FILE or EDGEVISOR_TOKEN (or pass --insecure to allow anyone on the network)`,
  };
}

/**
 * Whether `header` (an `Authorization` value) carries `token` as a bearer
 * token. The SHA-256 digests of both are compared, every byte whatever the
 * first difference, so the time taken says nothing of the token.
 */
export async function bearerMatches(
  header: string | undefined | null,
  token: string,
): Promise<boolean> {
  const given = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "")?.[1] ?? "";
  const [a, b] = await Promise.all([sha256(given), sha256(token)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0 && given !== "";
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The middleware that refuses (`UnauthorizedError`, 401) a request without the token it needs. */
export function authMiddleware(options: AuthOptions): MiddlewareHandler {
  const { token } = options;
  const publicRead = options.publicRead ?? true;
  return async (c, next) => {
    if (token === undefined) return await next();
    const read = READ_METHODS.has(c.req.method);
    if (read && (publicRead || ALWAYS_OPEN.has(c.req.path))) return await next();
    const header = c.req.header("Authorization");
    if (await bearerMatches(header, token)) return await next();
    throw new UnauthorizedError(
      header === undefined
        ? `Missing API token: send "Authorization: Bearer <token>"`
        : "Wrong API token",
    );
  };
}

/** The middleware that refuses (`TooLargeError`, 413) a request body over `maxBytes`. */
export function bodyLimitMiddleware(maxBytes: number = MAX_BODY_BYTES): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new TooLargeError(tooLarge(maxBytes));
    },
  });
}
