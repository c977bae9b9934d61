/**
 * The `/services` page in headless Chromium against an `edgevisor run` whose
 * API needs the token for reads too (a non-loopback `--listen`): the page
 * asks for the token in a form with a password field (no `window.prompt`),
 * asks again when the token is refused, keeps it in `sessionStorage`, and
 * sends it as a header on every request, event streams included; never in
 * a URL. On loopback, reads are open: the form comes with the first change.
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from "./browser.ts";
import { FAST, freePort, ROOT, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";

const TOKEN = "page-token-0c9e4b1d";

warnIfNoChromium("web_token_test.ts");

async function pidOf(url: string, name: string): Promise<number | null> {
  const res = await fetch(`${url}/api/services/status/${name}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = await res.json();
  return body.pid;
}

function pidOnPage(page: Page, name: string): Promise<string | null> {
  return page.locator(`tr[data-name="${name}"] .c-pid`).textContent();
}

/**
 * Type `token` into the token form (which must be open or opening) and
 * submit it with Enter; then wait until the form is gone, or, for a token
 * the orchestrator refuses (`refused`), until it asks again.
 */
async function giveToken(page: Page, token: string, refused = false): Promise<void> {
  const input = page.locator("#token-dialog #token-input");
  await input.waitFor({ timeout: 10_000 });
  assert.equal(await input.getAttribute("type"), "password");
  await input.fill(token);
  await input.press("Enter");
  if (refused) {
    await page.locator("#token-why", { hasText: "refused" }).waitFor({ timeout: 10_000 });
    assert.equal(await input.inputValue(), "", "the form empty again");
  } else {
    await page.locator("#token-dialog").waitFor({ state: "hidden", timeout: 5000 });
  }
}

Deno.test({
  name: "web page: asks for the token in a form on 401 and sends it as a header, streams included",
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

    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.type());
        void dialog.dismiss();
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
      // A wrong token first: refused, and asked again.
      await giveToken(page, "not-the-token", true);
      await Deno.mkdir(`${ROOT}/tests/artifacts`, { recursive: true });
      await page.screenshot({ path: `${ROOT}/tests/artifacts/token_form.png` });
      await giveToken(page, TOKEN);
      await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
      await waitFor(
        async () => (await pidOnPage(page, "web")) === String(await pidOf(orch.url, "web")),
        { message: "the pid of web on the page" },
      );
      assert.equal(
        await page.evaluate(() => sessionStorage.getItem("edgevisor-token")),
        TOKEN,
      );
      const stream = sent.filter((s) => s.url.endsWith("/api/services/events"));
      assert.ok(stream.some((s) => s.authorization === `Bearer ${TOKEN}`), "events with the token");

      // A change from the detail panel: sent with the token, not asked again.
      await page.locator('tr[data-name="web"] th.name a').click();
      const before = await pidOf(orch.url, "web");
      await page.getByRole("button", { name: "Restart web", exact: true }).click();
      await waitFor(async () => {
        const pid = await pidOf(orch.url, "web");
        return pid !== null && pid !== before;
      }, { message: "web restarted from the page" });
      const restart = sent.find((s) => s.method === "POST" && s.url.includes("/restart/web"));
      assert.equal(restart?.authorization, `Bearer ${TOKEN}`);

      // Followed logs (an event stream read with fetch).
      await page.locator('tr[data-name="chatty"] th.name a').click();
      await waitFor(
        async () =>
          /hello from chatty/.test((await page.locator("#log-lines").textContent()) ?? ""),
        { message: "chatty's log on the page" },
      );
      const follow = sent.find((s) => s.url.includes("/logs/chatty") && s.url.includes("follow"));
      assert.equal(follow?.authorization, `Bearer ${TOKEN}`);

      assert.equal(await page.locator("#token-dialog").isHidden(), true, "not asked again");
      assert.deepEqual(dialogs, [], "no window.prompt, alert or confirm");
      for (const s of sent) assert.ok(!s.url.includes(TOKEN), `the token in a URL: ${s.url}`);
      assert.deepEqual(pageErrors, []);

      // On loopback, reads are open: no form until a change answers 401, then once.
      await using local = await startOrchestrator({
        registry: { services: [{ ...FAST, name: "web", cmd: "sleep", args: [String(secs)] }] },
        env: { EDGEVISOR_TOKEN: TOKEN },
      });
      const fresh = await browser.newPage(); // a new context: empty sessionStorage
      const freshErrors: string[] = [];
      fresh.on("pageerror", (err) => freshErrors.push(err.message));
      await fresh.goto(`${local.url}/services#web`);
      await fresh.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
      await fresh.locator("#detail").waitFor({ timeout: 5000 });
      assert.equal(await fresh.locator("#token-dialog").count(), 0, "not asked for reads");
      const old = await pidOf(local.url, "web");
      await fresh.getByRole("button", { name: "Restart web", exact: true }).click();
      await giveToken(fresh, TOKEN);
      await waitFor(async () => {
        const pid = await pidOf(local.url, "web");
        return pid !== null && pid !== old;
      }, { message: "web restarted after the token was given" });
      // Cancelled, the form stays away and the page says what is missing.
      await fresh.evaluate(() => sessionStorage.removeItem("edgevisor-token"));
      await fresh.getByRole("button", { name: "Restart web", exact: true }).click();
      await fresh.locator("#token-dialog").waitFor({ timeout: 5000 });
      await fresh.getByRole("button", { name: "Cancel", exact: true }).click();
      await waitFor(
        async () =>
          /401|token/i.test((await fresh.locator("#detail .msg.error").textContent()) ?? ""),
        { message: "the refusal shown in the panel" },
      );
      assert.deepEqual(freshErrors, []);
      await local.stop();
    } finally {
      await browser.close();
      await orch.stop();
    }
  },
});
