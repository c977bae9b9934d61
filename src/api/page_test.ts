import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import { openApiDocument } from "./openapi.ts";
import { PAGE_HTML } from "./page.ts";
import { PAGE_SCRIPT } from "./page_bundle.ts";
import {
  actionBodySchema,
  listBodySchema,
  orchestratorHealthBodySchema,
  statusBodySchema,
} from "./schemas.ts";

Deno.test("mountPage() serves /services with a strict CSP, and / redirects there", async () => {
  const app = createApp(new FakeControl([]));
  const root = await app.request("/");
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "/services");
  const res = await app.request("/services");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/html/);
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]{44}'/);
  assert.match(csp, /connect-src 'self'/);
  assert.equal(await res.text(), PAGE_HTML);
  const gzipped = await app.request("/services", { headers: { "accept-encoding": "gzip" } });
  assert.equal(gzipped.headers.get("content-encoding"), "gzip");
  const bytes = new Uint8Array(await gzipped.arrayBuffer());
  assert.ok(bytes.byteLength < PAGE_HTML.length / 2, `${bytes.byteLength} bytes gzipped`);
  const text = await new Response(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  assert.equal(text, PAGE_HTML);
});

Deno.test("PAGE_HTML loads nothing from elsewhere, and inlines the bundled script whole", () => {
  // No URL with a scheme or a protocol-relative one in src/href/url(): everything is inline.
  assert.doesNotMatch(PAGE_HTML, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(PAGE_HTML, /url\(|@import|@font-face/i);
  assert.ok(PAGE_HTML.includes(`<script>${PAGE_SCRIPT}</script>`));
  // One script element: the bundle cannot end it early.
  assert.equal(PAGE_HTML.match(/<\/script/gi)?.length, 1);
  assert.ok(PAGE_HTML.length < 80_000, `page of ${PAGE_HTML.length} bytes`);
});

Deno.test("PAGE_HTML holds every element the page's script looks up by id", async () => {
  const ids = new Set<string>();
  for await (const entry of Deno.readDir(new URL("../web/", import.meta.url))) {
    if (!entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(`../web/${entry.name}`, import.meta.url));
    for (const [, id] of text.matchAll(/byId\(\s*"([\w-]+)"/g)) ids.add(id!);
  }
  assert.ok(ids.size >= 5, `ids looked up: ${[...ids]}`);
  for (const id of ids) assert.ok(PAGE_HTML.includes(` id="${id}"`), `element "${id}"`);
});

Deno.test("openApiDocument() covers every API route of the app", async () => {
  const app = createApp(new FakeControl([fakeStatus("a")]));
  const res = await app.request("/api/openapi.json");
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.0");
  const documented = new Set(
    Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)
    ),
  );
  for (const route of app.routes) {
    if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(route.method)) continue;
    if (!route.path.startsWith("/api/")) continue;
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    assert.ok(documented.has(`${route.method} ${path}`), `${route.method} ${path} documented`);
  }
  const logs = doc.paths["/api/services/logs/{name}"].get;
  const params = Object.fromEntries(
    logs.parameters.map((p: { name: string; schema: unknown }) => [p.name, p.schema]),
  );
  assert.deepEqual(params.lines, { default: 50, type: "integer", minimum: 0, maximum: 10000 });
  assert.deepEqual(params.stream, {
    type: "string",
    enum: ["stdout", "stderr", "both"],
    default: "both",
  });
  assert.equal(params.follow.type, "boolean");
  assert.ok(logs.responses["200"].content["text/event-stream"]);
  assert.ok(doc.components.schemas.ServiceStatus.properties.status.enum.includes("cooldown"));
  // Every $ref resolves.
  for (const [, id] of JSON.stringify(doc).matchAll(/"#\/components\/schemas\/(\w+)"/g)) {
    assert.ok(doc.components.schemas[id!], `component ${id}`);
  }
  assert.deepEqual(openApiDocument().paths["/api/health"], doc.paths["/api/health"]);
});

Deno.test("the answer schemas accept what the API answers", async () => {
  const control = new FakeControl([fakeStatus("a"), fakeStatus("b", { status: "running" })]);
  const app = createApp(control);
  listBodySchema.parse(await (await app.request("/api/services/list")).json());
  statusBodySchema.parse(await (await app.request("/api/services/status/a")).json());
  actionBodySchema.parse(
    await (await app.request("/api/services/start/a", { method: "POST" })).json(),
  );
  orchestratorHealthBodySchema.parse(await (await app.request("/api/health")).json());
});
