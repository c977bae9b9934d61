/**
 * End-to-end tests of the `/services` page in headless Chromium against a
 * real `edgevisor run` with real services. One browser serves every step.
 * Screenshots and the page figures go to `tests/artifacts/` (not committed).
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import {
  api,
  exists,
  FAST,
  removeDir,
  ROOT,
  serviceStatus,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = exists(CHROMIUM);
const ARTIFACTS = `${ROOT}/tests/artifacts`;

if (!HAVE_CHROMIUM) {
  console.warn(`web_test.ts: skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

/** Launch one headless Chromium (Playwright gives it a fresh temporary profile, removed on close). */
async function launch(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** The card of one service. */
function card(page: Page, name: string) {
  return page.locator(`article.card[data-name="${name}"]`);
}

/** Text of a field of a card: its `dd` after the `dt` with `label`. */
async function field(page: Page, name: string, label: string): Promise<string> {
  return (await card(page, name).locator(`dt:text-is("${label}") + dd`).textContent()) ?? "";
}

/** Wait until the state badge of `name` reads `state`. */
async function waitForState(
  page: Page,
  name: string,
  state: string,
  options: { timeout: number; polling?: number },
): Promise<void> {
  // A function, not a string: the page's Content-Security-Policy forbids eval.
  await page.waitForFunction(
    ([name, state]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).document.querySelector(`article.card[data-name='${name}'] .state`)
        ?.textContent === state,
    [name, state],
    options,
  );
}

Deno.test({
  name: "web page: lists services, live updates, actions, logs, errors, phone width, reconnect",
  ignore: !HAVE_CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const dir = await tempDir();
    const inbox = `${dir}/inbox`;
    const secs = uniqueSeconds();
    const registry = {
      services: [
        {
          ...FAST,
          name: "worker",
          display_name: "Worker",
          cmd: "sleep",
          args: [String(secs)],
          restart_policy: "always",
          backoff: { initial: 1.5, factor: 1, max: 1.5 },
        },
        {
          ...FAST,
          name: "talker",
          display_name: "Talker",
          // Prints what the test drops into the inbox file: log lines on demand.
          ...sh(
            `echo talker up; while true; do if [ -f ${inbox} ]; then cat ${inbox}; rm -f ${inbox}; fi; sleep 0.05; done`,
          ),
          restart_policy: "always",
        },
        {
          ...FAST,
          name: "probe",
          cmd: "sleep",
          args: [String(secs)],
          health_check: { type: "file", path: `${dir}/healthy`, interval: 0.1 },
          autostart: false,
        },
        {
          ...FAST,
          name: "broken",
          display_name: "Broken",
          cmd: "no-such-binary-xyz",
          autostart: false,
        },
      ],
    };
    let orch = await startOrchestrator({ registry, dir });
    const chrome = await launch();
    try {
      const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      page.on("console", (msg) => {
        // Refused connections while the orchestrator is down and the API's error answers are
        // expected; nothing else is.
        if (
          msg.type() === "error" &&
          !/net::ERR_|EventSource|^Failed to load resource/.test(msg.text())
        ) {
          pageErrors.push(msg.text());
        }
      });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));

      await t.step("/ redirects to /services, which lists every service", async () => {
        await page.goto(`${orch.url}/`);
        assert.equal(new URL(page.url()).pathname, "/services");
        await page.waitForSelector("body[data-ready='1']", { timeout: 10_000 });
        const names = await page.locator("article.card").evaluateAll((cards) =>
          cards.map((c) => c.getAttribute("data-name"))
        );
        assert.deepEqual(names, ["worker", "talker", "probe", "broken"]);
        await waitFor(async () => (await field(page, "worker", "PID")) !== "-", {
          message: "the worker's pid on the page",
        });
        const status = await serviceStatus(orch.url, "worker");
        assert.equal(await field(page, "worker", "PID"), String(status.pid));
        assert.equal(await card(page, "worker").locator(".state").textContent(), "running");
        assert.equal(await card(page, "broken").locator(".state").textContent(), "stopped");
        // Only this origin is ever contacted.
        for (const url of requests) assert.ok(url.startsWith(orch.url), `external request ${url}`);
        const figures = await page.evaluate<Record<string, number | null>>(`(() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const paint = performance.getEntriesByName("first-contentful-paint")[0];
          return {
            transfer_bytes: nav.transferSize,
            body_bytes: nav.encodedBodySize,
            decoded_bytes: nav.decodedBodySize,
            first_contentful_paint_ms: paint ? Math.round(paint.startTime) : null,
            dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
            services_rendered_ms: Math.round(
              performance.getEntriesByName("edgevisor-first-snapshot")[0].startTime,
            ),
          };
        })()`);
        console.log(`page figures: ${JSON.stringify(figures)}`);
        await Deno.writeTextFile(`${ARTIFACTS}/web_figures.json`, JSON.stringify(figures, null, 2));
        await page.screenshot({ path: `${ARTIFACTS}/services_desktop.png`, fullPage: true });
      });

      await t.step("health changes show up without reload", async () => {
        // Started from the page, the probe waits for its readiness check: a file not there yet.
        await card(page, "probe").getByRole("button", { name: "Start probe", exact: true }).click();
        await waitForState(page, "probe", "starting", { timeout: 5000 });
        const health = card(page, "probe").locator(".health");
        assert.notEqual(await health.textContent(), "healthy");
        await Deno.writeTextFile(`${dir}/healthy`, "");
        await waitFor(async () => (await health.textContent()) === "healthy", {
          message: "probe healthy on the page",
        });
        await waitForState(page, "probe", "running", { timeout: 5000 });
        assert.match((await card(page, "probe").locator(".health-msg").textContent())!, /exists/);
      });

      await t.step("a crash shows up within a second, without reload", async () => {
        const before = await serviceStatus(orch.url, "worker");
        Deno.kill(before.pid, "SIGKILL");
        const killedAt = performance.now();
        await waitForState(page, "worker", "backoff", { timeout: 1000, polling: 20 });
        const seenMs = performance.now() - killedAt;
        console.log(`crash visible on the page after ${seenMs.toFixed(0)} ms`);
        assert.match(await field(page, "worker", "Reason"), /SIGKILL/);
        assert.match(await field(page, "worker", "Next start"), /^in /);
        assert.equal(await field(page, "worker", "PID"), "-");
        await waitFor(async () => /^\d+$/.test(await field(page, "worker", "PID")), {
          message: "the worker back with a pid",
        });
        assert.notEqual(await field(page, "worker", "PID"), String(before.pid));
      });

      await t.step("the restart button restarts (new pid)", async () => {
        await waitFor(async () => (await serviceStatus(orch.url, "worker")).status === "running", {
          message: "worker running",
        });
        const before = await serviceStatus(orch.url, "worker");
        await card(page, "worker").getByRole("button", { name: "Restart worker", exact: true })
          .click();
        const after = await waitFor(async () => {
          const s = await serviceStatus(orch.url, "worker");
          return s.status === "running" && s.pid !== before.pid && s;
        }, { message: "a new worker pid" });
        await waitFor(async () => (await field(page, "worker", "PID")) === String(after.pid), {
          message: "the new pid on the page",
        });
        assert.equal(after.restarts, before.restarts + 1);
        await waitFor(
          async () => /restarted/.test((await card(page, "worker").locator(".msg").textContent())!),
          { message: "the restart message" },
        );
      });

      await t.step("stop asks for confirmation", async () => {
        const dialogs: string[] = [];
        let accept = false;
        page.on("dialog", (dialog) => {
          dialogs.push(dialog.message());
          if (accept) dialog.accept();
          else dialog.dismiss();
        });
        const stop = card(page, "worker").getByRole("button", { name: "Stop worker", exact: true });
        await stop.click();
        await waitFor(() => dialogs.length === 1, { message: "a confirm dialog" });
        assert.match(dialogs[0]!, /Stop Worker/);
        assert.equal((await serviceStatus(orch.url, "worker")).status, "running");
        accept = true;
        await stop.click();
        await waitFor(() => dialogs.length === 2, { message: "a second confirm dialog" });
        await waitFor(async () => (await serviceStatus(orch.url, "worker")).status === "stopped", {
          message: "worker stopped",
        });
        await waitForState(page, "worker", "stopped", { timeout: 5000 });
        assert.equal(
          await card(page, "worker").getByRole("button", { name: "Start worker", exact: true })
            .isEnabled(),
          true,
        );
      });

      await t.step("an API error is shown", async () => {
        await card(page, "broken").getByRole("button", { name: "Start broken", exact: true })
          .click();
        const msg = card(page, "broken").locator(".msg.error");
        await msg.waitFor({ timeout: 5000 });
        assert.match(
          (await msg.textContent())!,
          /Cannot start service "broken": command "no-such-binary-xyz" not found/,
        );
        assert.equal(await msg.getAttribute("role"), "alert");
        await waitForState(page, "broken", "failed", { timeout: 5000 });
      });

      await t.step("logs follow new lines; search; pause when scrolled up", async () => {
        await card(page, "talker").getByRole("button", { name: "Logs of talker", exact: true })
          .click();
        const lines = page.locator("#log-lines");
        await waitFor(async () => (await lines.textContent())?.includes("talker up"), {
          message: "the first line of talker in the log view",
        });
        const marker = `marker-${crypto.randomUUID()}`;
        await Deno.writeTextFile(`${inbox}.tmp`, `${marker} one\n${marker} two\n`);
        await Deno.rename(`${inbox}.tmp`, inbox);
        await waitFor(async () => (await lines.textContent())?.includes(`${marker} two`), {
          message: "new lines followed in the log view",
        });
        await page.fill("#log-search", "two");
        await waitFor(
          async () =>
            (await page.locator("#log-lines div:not(.nomatch)").allTextContents()).join("|") ===
              `${marker} two`,
          { message: "only the matching line shown" },
        );
        assert.match((await page.locator("#log-info").textContent())!, /1 of \d+ lines match/);
        await page.fill("#log-search", "");
        // Many lines, then scroll up: new lines no longer scroll the view.
        const many = Array.from({ length: 200 }, (_, i) => `filler ${i}`).join("\n") + "\n";
        await Deno.writeTextFile(`${inbox}.tmp`, many);
        await Deno.rename(`${inbox}.tmp`, inbox);
        await waitFor(async () => (await lines.textContent())?.includes("filler 199"), {
          message: "filler lines",
        });
        await lines.evaluate((el) => {
          el.scrollTop = 0;
          el.dispatchEvent(new Event("scroll"));
        });
        await Deno.writeTextFile(`${inbox}.tmp`, `${marker} three\n`);
        await Deno.rename(`${inbox}.tmp`, inbox);
        await page.locator("#log-resume").waitFor({ timeout: 5000 });
        assert.match((await page.locator("#log-resume").textContent())!, /Paused: 1 new line/);
        assert.equal(await lines.evaluate((el) => el.scrollTop), 0);
        await page.screenshot({ path: `${ARTIFACTS}/services_logs.png`, fullPage: true });
        await page.click("#log-resume");
        assert.equal(await page.locator("#log-paused").isHidden(), true);
      });

      await t.step("CPU and RSS with sparklines, or '-' without figures", async () => {
        const status = await serviceStatus(orch.url, "talker");
        if ("cpu_percent" in status) {
          await waitFor(async () => {
            const s = await serviceStatus(orch.url, "talker");
            return typeof s.cpu_percent === "number" && typeof s.memory_rss_bytes === "number";
          }, { message: "CPU and RSS figures in the status" });
          await waitFor(async () => /%$/.test(await field(page, "talker", "CPU")), {
            message: "the CPU figure",
          });
          await waitFor(async () => /iB$/.test(await field(page, "talker", "RSS")), {
            message: "the RSS figure",
          });
          await waitFor(
            async () => (await card(page, "talker").locator("svg.spark polyline").count()) === 2,
            { message: "two sparklines", timeoutMs: 5000 },
          );
        } else {
          assert.equal(await field(page, "talker", "CPU"), "-");
          assert.equal(await field(page, "talker", "RSS"), "-");
        }
      });

      await t.step("a 375 px wide screen has no horizontal scroll; dark theme", async () => {
        await page.setViewportSize({ width: 375, height: 800 });
        await page.emulateMedia({ colorScheme: "dark" });
        const width = await page.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok(width <= 375, `scrollWidth ${width} > 375`);
        const bg = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
        assert.notEqual(bg, "rgb(246, 247, 249)", "dark theme background");
        await page.screenshot({ path: `${ARTIFACTS}/services_phone_dark.png`, fullPage: true });
        await page.emulateMedia({ colorScheme: "light" });
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.step("keyboard: Tab reaches the buttons, Enter presses them", async () => {
        await page.click("#log-close");
        await page.locator("body").focus();
        let reached = false;
        for (let i = 0; i < 40 && !reached; i++) {
          await page.keyboard.press("Tab");
          reached = await page.evaluate<boolean>(
            "document.activeElement?.getAttribute('aria-label') === 'Start worker'",
          );
        }
        assert.ok(reached, "Tab reaches the Start button of worker");
        await page.keyboard.press("Enter");
        await waitFor(async () => (await serviceStatus(orch.url, "worker")).status === "running", {
          message: "worker started from the keyboard",
        });
      });

      await t.step("says so while disconnected, and reconnects by itself", async () => {
        await orch.stop();
        await page.locator("#banner").waitFor({ state: "visible", timeout: 5000 });
        await page.screenshot({ path: `${ARTIFACTS}/services_disconnected.png` });
        orch = await startOrchestrator({ registry: orch.registryPath, dir, port: orch.port });
        await page.locator("#banner").waitFor({ state: "hidden", timeout: 10_000 });
        const status = await serviceStatus(orch.url, "worker");
        await waitFor(async () => (await field(page, "worker", "PID")) === String(status.pid), {
          message: "fresh data after the reconnect",
        });
      });

      assert.deepEqual(pageErrors, []);
      const answer = await api(orch.url, "GET", "/api/health");
      assert.equal(answer.status, 200);
    } finally {
      await chrome.close();
      await orch.destroy();
      await removeDir(dir);
    }
  },
});
