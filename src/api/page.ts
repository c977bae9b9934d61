/**
 * The `/services` web page: one self-contained HTML document (style and
 * script inline, no external resource of any kind) served by the
 * orchestrator itself, so it works offline and from the compiled binary.
 * `/` redirects to it.
 *
 * The script is written in TypeScript under `src/web/` and bundled into
 * `page_bundle.ts` by `deno task page`; the style is `page_style.ts`. The
 * Content-Security-Policy allows nothing but these two (by their hashes)
 * and requests to this origin.
 *
 * @module
 */
import type { Hono } from "hono";
import { compress } from "hono/compress";
import { PAGE_SCRIPT } from "./page_bundle.ts";
import { PAGE_CSS } from "./page_style.ts";
import { pathOf } from "./paths.ts";

/** The HTML of the page. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>Services · edgevisor</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header class="top">
  <div class="bar">
    <h1>Services</h1>
    <span id="conn" role="status">connecting…</span>
    <span class="spacer"></span>
    <a href="${pathOf("openapi")}">API (OpenAPI)</a>
  </div>
  <div class="bar">
    <div id="summary" role="group" aria-label="Show only the services in one state"></div>
    <span class="spacer"></span>
    <input type="search" id="filter" placeholder="Filter: name or reason  ( / )" aria-label="Filter the services by name or reason" autocomplete="off" spellcheck="false">
    <span id="shown" role="status"></span>
  </div>
</header>
<div id="banner" role="alert" hidden><span id="banner-text"></span> <button type="button" id="banner-token" hidden>Enter the token</button></div>
<main>
<table id="services">
<caption class="visually-hidden">Services, problems first</caption>
<thead><tr>
<th scope="col">Service</th><th scope="col" class="c-st">State</th><th scope="col" class="c-hl">Health</th>
<th scope="col" class="num c-pid">PID</th><th scope="col" class="num c-up">Uptime</th>
<th scope="col" class="num c-rs" title="restarts / crashes">Restarts</th>
<th scope="col" class="num c-cpu">CPU</th><th scope="col" class="num c-rss">RSS</th>
<th scope="col" class="c-why">Reason</th>
</tr></thead>
<tbody id="rows"></tbody>
</table>
</main>
<aside id="detail" hidden aria-labelledby="detail-title"></aside>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Content-Security-Policy of the page: nothing but its own inline style and script, and this origin. */
async function contentSecurityPolicy(): Promise<string> {
  return [
    "default-src 'none'",
    `script-src 'sha256-${await sha256(PAGE_SCRIPT)}'`,
    `style-src 'sha256-${await sha256(PAGE_CSS)}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Serve the page at `GET /services` (gzip or deflate when the browser takes it) and redirect `GET /` to it. */
export function mountPage(app: Hono): void {
  let csp: Promise<string> | undefined;
  app.get("/", (c) => c.redirect("/services", 302));
  app.get("/services", compress(), async (c) => {
    csp ??= contentSecurityPolicy();
    return c.html(PAGE_HTML, 200, {
      "content-security-policy": await csp,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
  });
}
