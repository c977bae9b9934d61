/**
 * Benchmark of the `/services` page with 200 services (five of them in
 * trouble), in headless Chromium against a real orchestrator: the page's
 * weight (bytes on the wire, gzipped, and decoded; the script and the style
 * alone; the snapshot event the page reads first) and its time to first
 * render (from navigation start to the table drawn from the first
 * snapshot; `response_end_ms` is when the HTML had arrived), median of
 * several loads in fresh browser contexts.
 *
 * ```sh
 * deno run --allow-all bench/page.ts            # a table on stdout
 * deno run --allow-all bench/page.ts --json     # one JSON document
 * deno run --allow-all bench/page.ts --runs 9 --services 500
 * ```
 *
 * It measures and prints; it asserts nothing. Needs `/usr/bin/chromium`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PAGE_SCRIPT } from "../src/api/page_bundle.ts";
import { PAGE_CSS } from "../src/api/page_style.ts";
import { PAGE_HTML } from "../src/api/page.ts";
import { HAVE_CHROMIUM, launchChromium, manyServices } from "../tests/browser.ts";
import { removeDir, startOrchestrator, tempDir, uniqueSeconds, waitFor } from "../tests/harness.ts";
import { median } from "./stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    services: { type: "string", default: "200" },
    json: { type: "boolean", default: false },
  },
});
const RUNS = Number(flags.runs);
const SERVICES = Number(flags.services);

async function gzipBytes(text: string): Promise<number> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Bytes of the first event (`snapshot`) of the event stream. */
async function snapshotBytes(url: string): Promise<number> {
  const res = await fetch(`${url}/api/services/events`);
  const reader = res.body!.getReader();
  let text = "";
  const decoder = new TextDecoder();
  while (!/event: snapshot\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return new TextEncoder().encode(/event: snapshot\ndata: .*\n\n/.exec(text)?.[0] ?? "").length;
}

if (!HAVE_CHROMIUM) {
  console.error("bench/page.ts: /usr/bin/chromium is missing (apt-get install -y chromium)");
  Deno.exit(1);
}

const dir = await tempDir("edgevisor_bench_page_");
await Deno.writeTextFile(`${dir}/sick-ready`, "");
const orch = await startOrchestrator({
  registry: manyServices(dir, uniqueSeconds(), SERVICES),
  dir,
});
const browser = await launchChromium();
try {
  console.error(`bench/page.ts: ${SERVICES} services starting…`);
  await waitFor(async () => {
    const body = await (await fetch(`${orch.url}/api/services/list`)).json();
    return body.services.filter((s: { status: string }) => s.status === "running").length >=
      SERVICES - 7;
  }, { timeoutMs: 60_000, message: "the sleepers running" });

  const runs: Record<string, number>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${orch.url}/services`);
    await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
    const figures = await page.evaluate<Record<string, number>>(`(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const paint = performance.getEntriesByName("first-contentful-paint")[0];
      return {
        transfer_bytes: nav.transferSize,
        body_bytes_gzip: nav.encodedBodySize,
        body_bytes: nav.decodedBodySize,
        response_end_ms: nav.responseEnd,
        dom_content_loaded_ms: nav.domContentLoadedEventEnd,
        first_contentful_paint_ms: paint ? paint.startTime : NaN,
        first_render_ms: performance.getEntriesByName("edgevisor-first-snapshot")[0].startTime,
        rows: document.querySelectorAll("tbody tr").length,
        js_heap_bytes: performance.memory ? performance.memory.usedJSHeapSize : NaN,
      };
    })()`);
    runs.push(figures);
    await context.close();
    console.error(`run ${i + 1}/${RUNS}: first render ${figures.first_render_ms!.toFixed(0)} ms`);
  }
  const keys = Object.keys(runs[0]!);
  const result = {
    services: SERVICES,
    runs: RUNS,
    median: Object.fromEntries(keys.map((k) => [k, Math.round(median(runs.map((r) => r[k]!)))])),
    script_bytes: PAGE_SCRIPT.length,
    script_bytes_gzip: await gzipBytes(PAGE_SCRIPT),
    style_bytes: PAGE_CSS.length,
    style_bytes_gzip: await gzipBytes(PAGE_CSS),
    html_bytes_gzip: await gzipBytes(PAGE_HTML),
    snapshot_event_bytes: await snapshotBytes(orch.url),
    per_run: runs.map((r) => Object.fromEntries(keys.map((k) => [k, Math.round(r[k]!)]))),
  };
  if (flags.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`# /services with ${SERVICES} services (median of ${RUNS} loads)\n`);
    console.log("| figure | value |\n| --- | --- |");
    for (const [key, value] of Object.entries(result.median)) console.log(`| ${key} | ${value} |`);
    for (
      const key of [
        "script_bytes",
        "script_bytes_gzip",
        "style_bytes",
        "style_bytes_gzip",
        "html_bytes_gzip",
        "snapshot_event_bytes",
      ] as const
    ) {
      console.log(`| ${key} | ${result[key]} |`);
    }
  }
} finally {
  await browser.close();
  await orch.destroy();
  await removeDir(dir);
}
