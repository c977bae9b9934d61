/**
 * What a browser may ask of the API. A browser sends requests for any page
 * it shows, whatever site that page comes from, and no token set for the API
 * stops a request the browser itself carries out; so the API refuses what a
 * page of another site, or a page that renamed itself to a loopback address
 * (DNS rebinding), could make a browser send:
 *
 * - **Bodies are JSON.** A request with a body must say
 *   `Content-Type: application/json` (else 415). A page of another site can
 *   send a plain form or a `text/plain` body without asking, but not JSON.
 * - **No cross-site requests.** A request whose `Sec-Fetch-Site` is
 *   `cross-site` or `same-site`, or whose `Origin` is not the API's own, is
 *   refused (403) unless its origin is allowed (`--allow-origin`), which also
 *   answers the browser's CORS preflight for it. Following a link to the page
 *   or an endpoint (a top-level `GET` navigation) stays allowed: it changes
 *   nothing and only the user sees the answer.
 * - **Loopback names only on loopback.** On a loopback listener, the `Host`
 *   must be a loopback name or address (`localhost`, `127.0.0.1`, `[::1]`,
 *   with any port) or a name allowed with `--allow-host` (else 403). A page
 *   served from `evil.example` whose name then resolves to `127.0.0.1` sends
 *   `Host: evil.example`. On other addresses the token guards, as ever.
 *
 * Clients that are not browsers (curl, the CLI) send neither `Origin` nor
 * `Sec-Fetch-Site`, and pass as long as their body is JSON and their `Host`
 * is right.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { ForbiddenError, UnsupportedMediaTypeError } from "../errors.ts";
import { isLoopback } from "./auth.ts";

/** Options of {@linkcode requestGuard}. */
export interface RequestGuardOptions {
  /**
   * Whether the API listens on a loopback address; then `Host` must be a
   * loopback name or one of `allowHosts`.
   * @default false
   */
  loopback?: boolean;
  /** Origins (`scheme://host[:port]`, as {@linkcode parseOrigin} gives them) allowed to call the API from a browser. @default [] */
  allowOrigins?: readonly string[];
  /** Host names (without port) a loopback listener answers besides loopback ones. @default [] */
  allowHosts?: readonly string[];
}

/** Methods that change nothing. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Headers a browser page may send to an allowed origin's API. */
const CORS_HEADERS = "Authorization, Content-Type, Accept, Last-Event-ID";

/**
 * The normal form of an origin given on the command line: lower case,
 * `scheme://host[:port]`, without a default port. Throws `TypeError` for
 * anything that is not an `http` or `https` origin (a path, a query,
 * credentials, `*`).
 *
 * @example
 * ```ts
 * parseOrigin("https://Dash.Example:443"); // "https://dash.example"
 * ```
 */
export function parseOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(
      `Invalid origin ${
        JSON.stringify(value)
      }: expected scheme://host[:port], such as https://dash.example`,
    );
  }
  const bare = (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash &&
    !url.username && !url.password && !value.trimEnd().endsWith("/");
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) {
    throw new TypeError(
      `Invalid origin ${
        JSON.stringify(value)
      }: expected scheme://host[:port] (http or https, no path), such as https://dash.example`,
    );
  }
  return url.origin;
}

/**
 * The normal form of a host name given with `--allow-host`: lower case,
 * without a port. Throws `TypeError` for a value with a port, a scheme, a
 * path or spaces.
 */
export function parseHostName(value: string): string {
  const host = value.trim().toLowerCase();
  if (
    !/^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(
      host,
    )
  ) {
    throw new TypeError(
      `Invalid host name ${
        JSON.stringify(value)
      }: expected a name without port or scheme, such as robot1.local`,
    );
  }
  return host.replace(/\.$/, "");
}

/** The host name of a `Host` header value (without port and brackets), lower case; undefined when malformed. */
export function hostNameOf(header: string): string | undefined {
  const value = header.trim().toLowerCase();
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s/@]+))(?::[0-9]{1,5})?$/.exec(value);
  if (!match) return undefined;
  return (match[1] ?? match[2]!).replace(/\.$/, "");
}

/**
 * The middleware that refuses what browsers must not be made to send (see
 * the module documentation): it throws `ForbiddenError` (403) and
 * `UnsupportedMediaTypeError` (415), which the app answers.
 */
export function requestGuard(options: RequestGuardOptions = {}): MiddlewareHandler {
  const allowOrigins = new Set(options.allowOrigins ?? []);
  const allowHosts = new Set(options.allowHosts ?? []);
  const loopback = options.loopback ?? false;
  return async (c, next) => {
    const host = c.req.header("Host");
    if (loopback && host !== undefined) {
      const name = hostNameOf(host);
      if (name === undefined || !(isLoopback(name) || allowHosts.has(name))) {
        throw new ForbiddenError(
          `Host ${
            JSON.stringify(host)
          } refused: this API listens on a loopback address and answers loopback names only (add a name with --allow-host)`,
        );
      }
    }

    const method = c.req.method;
    const origin = c.req.header("Origin");
    const site = c.req.header("Sec-Fetch-Site")?.toLowerCase();
    const allowed = origin !== undefined && allowOrigins.has(origin);
    const own = origin !== undefined && host !== undefined && origin === ownOrigin(c.req.url, host);
    const foreignOrigin = origin !== undefined && !own;
    const crossSite = site === "cross-site" || site === "same-site";
    const navigation = (method === "GET" || method === "HEAD") &&
      c.req.header("Sec-Fetch-Mode")?.toLowerCase() === "navigate";
    if ((foreignOrigin || crossSite) && !allowed && !navigation) {
      throw new ForbiddenError(
        origin === undefined
          ? `Cross-site request refused (Sec-Fetch-Site: ${site})`
          : `Cross-origin request refused: origin ${
            JSON.stringify(origin)
          } is not allowed (allow it with --allow-origin)`,
      );
    }
    if (allowed && method === "OPTIONS" && c.req.header("Access-Control-Request-Method")) {
      return c.body(null, 204, {
        ...corsHeaders(origin!),
        "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE",
        "Access-Control-Allow-Headers": CORS_HEADERS,
        "Access-Control-Max-Age": "600",
      });
    }

    if (!SAFE_METHODS.has(method) && hasBody(c.req.raw)) {
      const type = c.req.header("Content-Type");
      if (!isJson(type)) {
        throw new UnsupportedMediaTypeError(
          `Unsupported Content-Type ${
            type === undefined ? "(none)" : JSON.stringify(type)
          }: send the body as application/json`,
        );
      }
    }

    await next();
    if (allowed) {
      for (const [name, value] of Object.entries(corsHeaders(origin!))) {
        c.res.headers.set(name, value);
      }
    }
  };
}

/** The origin a browser gives a page of this API reached as `host`. */
function ownOrigin(url: string, host: string): string {
  const scheme = url.startsWith("https:") ? "https:" : "http:";
  try {
    return new URL(`${scheme}//${host}`).origin;
  } catch {
    return "";
  }
}

function corsHeaders(origin: string): Record<string, string> {
  return { "Access-Control-Allow-Origin": origin, "Vary": "Origin" };
}

/** Whether the request says it has a body: a length over 0, a transfer coding, or a type. */
function hasBody(request: Request): boolean {
  const length = request.headers.get("Content-Length");
  if (length !== null) return length.trim() !== "0";
  return request.headers.has("Transfer-Encoding") || request.headers.has("Content-Type");
}

/** `application/json`, with parameters (`; charset=utf-8`) or not. */
function isJson(type: string | undefined): boolean {
  return type !== undefined && /^application\/json\s*(?:;|$)/i.test(type.trim());
}
