/**
 * The `/services` web page: one self-contained HTML document (style and
 * script inline, no external resource of any kind) served by the
 * orchestrator itself, so it works offline and from the compiled binary.
 * `/` redirects to it.
 *
 * @module
 */
import type { Hono } from "hono";
import { compress } from "hono/compress";
import { PAGE_SCRIPT } from "./page_script.ts";
import { PAGE_CSS } from "./page_style.ts";

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
<header>
  <h1>Services</h1>
  <span id="conn" role="status" aria-live="polite"></span>
  <span class="spacer"></span>
  <a href="/api/openapi.json">API (OpenAPI)</a>
</header>
<p id="banner" role="alert" hidden>Disconnected from the orchestrator; reconnecting…</p>
<main>
  <div id="services" class="grid"></div>
  <section id="logs" hidden aria-labelledby="logs-title">
    <div class="logbar">
      <h2 id="logs-title">Logs</h2>
      <label>Stream <select id="log-stream">
        <option value="both">both</option><option value="stdout">stdout</option><option value="stderr">stderr</option>
      </select></label>
      <label><input type="checkbox" id="log-follow" checked> Follow</label>
      <input type="search" id="log-search" placeholder="Search loaded lines" aria-label="Search loaded lines">
      <span id="log-info" role="status"></span>
      <button type="button" id="log-close">Close</button>
    </div>
    <div id="log-paused" hidden><button type="button" id="log-resume"></button></div>
    <div id="log-lines" tabindex="0" role="log" aria-label="Log lines"></div>
  </section>
</main>
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
