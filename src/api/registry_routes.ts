/**
 * Routes that change the set of services at run time: reload the registry
 * file, add, replace and remove one service. Every change is validated
 * exactly like the registry; an invalid one answers 400 with every problem:
 * `{"ok": false, "error": "...", "problems": [{"path", "message"}]}`.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { BadRequestError, RegistryError } from "../errors.ts";
import type { ServiceControl } from "../types.ts";
import { parseServiceName } from "./params.ts";

/** Body of a rejected registry change: the error and every problem, each with its path. */
export interface ProblemsBody {
  ok: false;
  error: string;
  problems: RegistryError["problems"];
}

/**
 * Add the routes to `app`:
 * - `POST /api/services/reload` → `{ok, added, removed, changed, untouched}`
 * - `POST /api/services` (a service definition) → 201 `{ok, message, ...status}`
 * - `PUT /api/services/{name}` → `{ok, message, ...status}`
 * - `DELETE /api/services/{name}` → `{ok, message, name}`
 */
export function mountRegistryRoutes(app: Hono, control: ServiceControl): void {
  app.post("/api/services/reload", (c) =>
    withProblems(c, async () => {
      const diff = await control.reload();
      return c.json({ ok: true, message: "Registry reloaded", ...diff });
    }));
  app.post("/api/services", (c) =>
    withProblems(c, async () => {
      const status = await control.addService(await jsonBody(c));
      return c.json(
        { ok: true, message: `Service ${JSON.stringify(status.name)} added`, ...status },
        201,
      );
    }));
  // Before `/:name`: `PUT /api/services/reload` is a wrong method, not a service named "reload".
  for (const path of ["/api/services/reload", "/api/services"]) {
    app.all(path, (c) =>
      c.json(
        { ok: false, error: `Method ${c.req.method} not allowed on ${c.req.path}; use POST` },
        405,
        { Allow: "POST" },
      ));
  }
  app.put("/api/services/:name", (c) =>
    withProblems(c, async () => {
      const name = parseServiceName(c.req.param("name") ?? "");
      const status = await control.replaceService(name, await jsonBody(c));
      return c.json({ ok: true, message: `Service ${JSON.stringify(name)} replaced`, ...status });
    }));
  app.delete("/api/services/:name", (c) =>
    withProblems(c, async () => {
      const name = parseServiceName(c.req.param("name") ?? "");
      await control.removeService(name);
      return c.json({ ok: true, message: `Service ${JSON.stringify(name)} removed`, name });
    }));
}

/** Answer a `RegistryError` with its problems; leave every other error to `onError`. */
async function withProblems(c: Context, handle: () => Promise<Response>): Promise<Response> {
  try {
    return await handle();
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    return c.json(
      { ok: false, error: error.message, problems: error.problems } satisfies ProblemsBody,
      400,
    );
  }
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(
      `Invalid JSON body: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
