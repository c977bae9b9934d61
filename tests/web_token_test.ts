/**
 * The `/services` page in headless Chromium against an `edgevisor run` whose
 * API needs the token for reads too (a non-loopback `--listen`): the page
 * asks for the token once, keeps it in `sessionStorage`, and sends it as a
 * header on every request, event streams included; never in a URL.
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { exists, FAST, freePort, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = exists(CHROMIUM);
const TOKEN = "page-token-0c9e4b1d";

if (!HAVE_CHROMIUM) {
  console.warn(`web_token_test.ts: skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

async function pidOf(url: string, name: string): Promise<number | null> {
  const res = await fetch(`${url}/api/services/status/${name}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = await res.json();
  return body.pid;
}

function pidOnPage(page: Page, name: string): Promise<string | null> {
  return page.locator(`article.card[data-name="${name}"] dt:text-is("PID") + dd`).textContent();
}

Deno.test({
  name: "web page: asks for the token on 401 and sends it as a header, event streams included",
  ignore: !HAVE_CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const secs = uniqueSeconds();
    await using orch = await startOrchestrator({
      registry: {
        services: [
          { ...FAST, name: "web", ...{ cmd: "sleep", args: [String(secs)] } },
          {
            ...FAST,
            name: "chatty",
            cmd: "sh",
            args: ["-c", "echo hello from chatty; exec sleep " + secs],
          },
        ],
      },
      port,
      waitHealthy: false,
      env: { EDGEVISOR_TOKEN: TOKEN },
      extraArgs: ["--listen", `0.0.0.0:${port}`],
    });
    await waitFor(async () => {
      try {
        return (await pidOf(orch.url, "web")) !== null;
      } catch {
        return false;
      }
    }, { message: "web to run", timeoutMs: 20_000 });
    // Reads need the token here.
    const open = await fetch(`${orch.url}/api/services/list`);
    await open.body?.cancel();
    assert.equal(open.status, 401);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"],
    });
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      const prompts: string[] = [];
      page.on("dialog", (dialog) => {
        prompts.push(dialog.type());
        void dialog.accept(TOKEN);
      });
      const sent: { url: string; method: string; authorization?: string }[] = [];
      page.on("request", (r) => {
        sent.push({
          url: r.url(),
          method: r.method(),
          authorization: r.headers()["authorization"],
        });
      });

      await page.goto(`${orch.url}/services`);
      await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
      assert.deepEqual(prompts, ["prompt"], "asked for the token once");
      await waitFor(
        async () => (await pidOnPage(page, "web")) === String(await pidOf(orch.url, "web")),
        {
          message: "the pid of web on the page",
        },
      );
      assert.equal(
        await page.evaluate(() => sessionStorage.getItem("edgevisor-token")),
        TOKEN,
      );
      const stream = sent.filter((s) => s.url.endsWith("/api/services/events"));
      assert.ok(stream.some((s) => s.authorization === `Bearer ${TOKEN}`), "events with the token");

      // A change: sent with the token, no second prompt.
      const before = await pidOf(orch.url, "web");
      await page.getByRole("button", { name: "Restart web", exact: true }).click();
      await waitFor(async () => {
        const pid = await pidOf(orch.url, "web");
        return pid !== null && pid !== before;
      }, { message: "web restarted from the page" });
      const restart = sent.find((s) => s.method === "POST" && s.url.includes("/restart/web"));
      assert.equal(restart?.authorization, `Bearer ${TOKEN}`);

      // Followed logs (an event stream read with fetch).
      await page.getByRole("button", { name: "Logs of chatty", exact: true }).click();
      await waitFor(
        async () =>
          /hello from chatty/.test((await page.locator("#log-lines").textContent()) ?? ""),
        { message: "chatty's log on the page" },
      );

      assert.deepEqual(prompts, ["prompt"]);
      for (const s of sent) assert.ok(!s.url.includes(TOKEN), `the token in a URL: ${s.url}`);
      assert.deepEqual(pageErrors, []);

      // On loopback, reads are open: no prompt until a change answers 401, then one.
      await using local = await startOrchestrator({
        registry: { services: [{ ...FAST, name: "web", cmd: "sleep", args: [String(secs)] }] },
        env: { EDGEVISOR_TOKEN: TOKEN },
      });
      const fresh = await browser.newPage(); // a new context: empty sessionStorage
      const freshErrors: string[] = [];
      fresh.on("pageerror", (err) => freshErrors.push(err.message));
      const asked: string[] = [];
      fresh.on("dialog", (dialog) => {
        asked.push(dialog.type());
        void dialog.accept(TOKEN);
      });
      await fresh.goto(`${local.url}/services`);
      await fresh.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
      assert.deepEqual(asked, []);
      const old = await pidOf(local.url, "web");
      await fresh.getByRole("button", { name: "Restart web", exact: true }).click();
      await waitFor(async () => {
        const pid = await pidOf(local.url, "web");
        return pid !== null && pid !== old;
      }, { message: "web restarted after the token was given" });
      assert.deepEqual(asked, ["prompt"]);
      assert.deepEqual(freshErrors, []);
      await local.stop();
    } finally {
      await browser.close();
      await orch.stop();
    }
  },
});
