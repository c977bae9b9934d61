/**
 * Where each operation of the HTTP API lives: its method and path, by name.
 * The route table (`routes.ts`) declares each operation with these, and the
 * clients (the CLI, NATS control, the web page) build their requests with
 * {@linkcode pathOf}; no other module spells a path. Plain data, no imports,
 * so that the page can use it too.
 *
 * @module
 */

/** Every operation of the API, by name: method and path (`{name}` is a path parameter). */
export const PATHS = {
  list: { method: "GET", path: "/api/services/list" },
  status: { method: "GET", path: "/api/services/status/{name}" },
  start: { method: "POST", path: "/api/services/start/{name}" },
  stop: { method: "POST", path: "/api/services/stop/{name}" },
  restart: { method: "POST", path: "/api/services/restart/{name}" },
  run: { method: "POST", path: "/api/services/run/{name}" },
  logs: { method: "GET", path: "/api/services/logs/{name}" },
  health: { method: "GET", path: "/api/services/health/{name}" },
  history: { method: "GET", path: "/api/services/history/{name}" },
  events: { method: "GET", path: "/api/services/events" },
  reload: { method: "POST", path: "/api/services/reload" },
  add: { method: "POST", path: "/api/services" },
  replace: { method: "PUT", path: "/api/services/{name}" },
  remove: { method: "DELETE", path: "/api/services/{name}" },
  orchestrator: { method: "GET", path: "/api/health" },
  openapi: { method: "GET", path: "/api/openapi.json" },
  metrics: { method: "GET", path: "/metrics" },
} as const;

/** The name of an operation of the API. */
export type OperationName = keyof typeof PATHS;

/**
 * The path (with its query string) of operation `name` for the path
 * parameters and query values given; `undefined` query values are left out.
 *
 * @example
 * ```ts
 * pathOf("stop", { name: "web" }, { force: true }); // "/api/services/stop/web?force=true"
 * ```
 */
export function pathOf(
  name: OperationName,
  params: { name?: string } = {},
  query: Record<string, string | number | boolean | undefined> = {},
): string {
  const path = PATHS[name].path.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = (params as Record<string, string | undefined>)[key];
    if (value === undefined) throw new TypeError(`Missing path parameter "${key}" of "${name}"`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  return search.size > 0 ? `${path}?${search}` : path;
}
