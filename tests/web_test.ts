/**
 * End-to-end tests of the `/services` page in headless Chromium against a
 * real `edgevisor run` with real services: the table and its live updates,
 * the detail panel's actions, errors and logs, the phone width, the
 * keyboard, and reconnection. One browser serves every step. Screenshots and
 * the page figures go to `tests/artifacts/` (not committed).
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { ARTIFACTS, HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from "./browser.ts";
import {
  api,
  FAST,
  removeDir,
  serviceStatus,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

warnIfNoChromium("web_test.ts");

/** The table row of one service. */
function row(page: Page, name: string) {
  return page.locator(`tr[data-name="${name}"]`);
}

/** Text of a cell of a row: `c-st` (state), `c-hl` (health), `c-pid`, `c-why` (reason), …. */
async function cell(page: Page, name: string, column: string): Promise<string> {
  return (await row(page, name).locator(`.${column}`).textContent()) ?? "";
}

/** Text of a field of the detail panel: its `dd` after the `dt` with `label`. */
async function field(page: Page, label: string): Promise<string> {
  const dd = page.locator(`#detail dt:text-is("${label}") + dd`);
  return (await dd.count()) ? (await dd.textContent()) ?? "" : "";
}

/** Open the detail panel of `name` by its link in the table. */
async function openPanel(page: Page, name: string): Promise<void> {
  await row(page, name).locator("th.name a").click();
  await page.locator("#detail-title", { hasText: name }).waitFor({ timeout: 5000 });
}

/** Wait until the state badge of `name` in the table reads `state`. */
async function waitForState(
  page: Page,
  name: string,
  state: string,
  timeout = 5000,
): Promise<void> {
  await page.waitForFunction(
    ([name, state]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).document.querySelector(`tr[data-name='${name}'] .c-st`)?.textContent ===
        state,
    [name, state],
    { timeout, polling: 20 },
  );
}

Deno.test({
  name: "web page: table, live updates, actions, logs, errors, phone width, keyboard, reconnect",
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
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      page.on("console", (msg) => {
        // Refused connections while the orchestrator is down and the API's error answers are
        // expected; nothing else is (a Content-Security-Policy refusal would show here).
        if (
          msg.type() === "error" &&
          !/net::ERR_|EventSource|^Failed to load resource/.test(msg.text())
        ) {
          pageErrors.push(msg.text());
        }
      });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));

      await t.step("/ redirects to /services, whose table lists every service", async () => {
        await page.goto(`${orch.url}/`);
        assert.equal(new URL(page.url()).pathname, "/services");
        await page.waitForSelector("body[data-ready='1']", { timeout: 10_000 });
        // No problem yet: by name.
        const names = await page.locator("tbody tr").evaluateAll((rows) =>
          rows.map((r) => r.getAttribute("data-name"))
        );
        assert.deepEqual(names, ["broken", "probe", "talker", "worker"]);
        await waitFor(async () => (await cell(page, "worker", "c-pid")) !== "-", {
          message: "the worker's pid on the page",
        });
        const status = await serviceStatus(orch.url, "worker");
        assert.equal(await cell(page, "worker", "c-pid"), String(status.pid));
        assert.equal(await cell(page, "worker", "c-st"), "running");
        assert.equal(await cell(page, "broken", "c-st"), "stopped");
        assert.equal(await row(page, "worker").locator("th.name a").textContent(), "Worker");
        // Only this origin is ever contacted.
        for (const url of requests) assert.ok(url.startsWith(orch.url), `external request ${url}`);
        await page.screenshot({ path: `${ARTIFACTS}/services_desktop.png`, fullPage: true });
      });

      await t.step("health changes show up without reload", async () => {
        await openPanel(page, "probe");
        // Started from the page, the probe waits for its readiness check: a file not there yet.
        await page.getByRole("button", { name: "Start probe", exact: true }).click();
        await waitForState(page, "probe", "starting");
        assert.notEqual(await cell(page, "probe", "c-hl"), "healthy");
        await Deno.writeTextFile(`${dir}/healthy`, "");
        await waitFor(async () => (await cell(page, "probe", "c-hl")) === "healthy", {
          message: "probe healthy in the table",
        });
        await waitForState(page, "probe", "running");
        await waitFor(async () => /healthy \(.*exists/.test(await field(page, "Health")), {
          message: "the check's message in the panel",
        });
      });

      await t.step("a crash shows up without reload, the row first", async () => {
        const before = await serviceStatus(orch.url, "worker");
        Deno.kill(before.pid, "SIGKILL");
        const killedAt = performance.now();
        // The row as it is while in backoff, read in one evaluation (the backoff lasts 1.5 s).
        const seen = await (await page.waitForFunction(
          () => {
            // deno-lint-ignore no-explicit-any
            const doc = (globalThis as any).document;
            const tr = doc.querySelector("tr[data-name='worker']");
            if (tr?.querySelector(".c-st")?.textContent !== "backoff") return false;
            return {
              why: tr.querySelector(".c-why")?.textContent ?? "",
              pid: tr.querySelector(".c-pid")?.textContent ?? "",
              first: doc.querySelector("tbody tr")?.getAttribute("data-name"),
              className: tr.getAttribute("class") ?? "",
            };
          },
          undefined,
          { timeout: 5000, polling: 20 },
        )).jsonValue();
        console.log(
          `crash visible on the page after ${(performance.now() - killedAt).toFixed(0)} ms`,
        );
        assert.ok(seen, "the row in backoff");
        assert.match(seen.why, /SIGKILL/);
        assert.equal(seen.pid, "-");
        assert.equal(seen.first, "worker");
        assert.match(seen.className, /problem/);
        await waitFor(async () => /^\d+$/.test(await cell(page, "worker", "c-pid")), {
          message: "the worker back with a pid",
        });
        assert.notEqual(await cell(page, "worker", "c-pid"), String(before.pid));
        await waitFor(
          async () =>
            (await page.locator("tbody tr").first().getAttribute("data-name")) === "broken",
          { message: "the worker back in its place" },
        );
      });

      await t.step("the restart button of the panel restarts (new pid)", async () => {
        await waitFor(async () => (await serviceStatus(orch.url, "worker")).status === "running", {
          message: "worker running",
        });
        await openPanel(page, "worker");
        assert.equal(new URL(page.url()).hash, "#worker");
        const before = await serviceStatus(orch.url, "worker");
        await page.getByRole("button", { name: "Restart worker", exact: true }).click();
        const after = await waitFor(async () => {
          const s = await serviceStatus(orch.url, "worker");
          return s.status === "running" && s.pid !== before.pid && s;
        }, { message: "a new worker pid" });
        await waitFor(async () => (await field(page, "PID")) === String(after.pid), {
          message: "the new pid in the panel",
        });
        assert.equal(await cell(page, "worker", "c-pid"), String(after.pid));
        assert.equal(after.restarts, before.restarts + 1);
        await waitFor(
          async () => /restarted/.test((await page.locator("#detail .msg").textContent())!),
          {
            message: "the restart message",
          },
        );
      });

      await t.step("stop asks for confirmation", async () => {
        const stop = page.getByRole("button", { name: "Stop worker", exact: true });
        await stop.click();
        const confirm = page.locator("#detail .confirm");
        await confirm.waitFor({ timeout: 5000 });
        assert.match((await confirm.textContent())!, /Stop Worker \(worker\)\?/);
        await page.getByRole("button", { name: "Cancel", exact: true }).click();
        await confirm.waitFor({ state: "hidden", timeout: 5000 });
        assert.equal((await serviceStatus(orch.url, "worker")).status, "running");
        await stop.click();
        await page.getByRole("button", { name: "Yes, stop worker", exact: true }).click();
        await waitFor(async () => (await serviceStatus(orch.url, "worker")).status === "stopped", {
          message: "worker stopped",
        });
        await waitForState(page, "worker", "stopped");
        await waitFor(
          () => page.getByRole("button", { name: "Start worker", exact: true }).isEnabled(),
          { message: "the start button enabled" },
        );
      });

      await t.step("an API error is shown", async () => {
        await openPanel(page, "broken");
        await page.getByRole("button", { name: "Start broken", exact: true }).click();
        const msg = page.locator("#detail .msg.error");
        await msg.waitFor({ timeout: 5000 });
        assert.match(
          (await msg.textContent())!,
          /Cannot start service "broken": command "no-such-binary-xyz" not found/,
        );
        assert.equal(await msg.getAttribute("role"), "alert");
        await waitForState(page, "broken", "failed");
      });

      await t.step("logs follow new lines; search; pause when scrolled up", async () => {
        await openPanel(page, "talker");
        const lines = page.locator("#log-lines");
        const texts = () => page.locator("#log-lines .l:not(.nomatch) .x").allTextContents();
        await waitFor(async () => (await texts()).includes("talker up"), {
          message: "the first line of talker in the log view",
        });
        const marker = `marker-${crypto.randomUUID()}`;
        await Deno.writeTextFile(`${inbox}.tmp`, `${marker} one\n${marker} two\n`);
        await Deno.rename(`${inbox}.tmp`, inbox);
        await waitFor(async () => (await texts()).includes(`${marker} two`), {
          message: "new lines followed in the log view",
        });
        assert.equal(
          await page.locator("#log-lines .l").last().locator(".s").textContent(),
          "out",
        );
        await page.fill("#log-search", "two");
        await waitFor(async () => (await texts()).join("|") === `${marker} two`, {
          message: "only the matching line shown",
        });
        assert.match((await page.locator("#log-info").textContent())!, /1 of \d+ lines match/);
        await page.fill("#log-search", "");
        // Many lines, then scroll up: new lines no longer scroll the view.
        const many = Array.from({ length: 200 }, (_, i) => `filler ${i}`).join("\n") + "\n";
        await Deno.writeTextFile(`${inbox}.tmp`, many);
        await Deno.rename(`${inbox}.tmp`, inbox);
        await waitFor(async () => (await texts()).includes("filler 199"), {
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
        await page.screenshot({ path: `${ARTIFACTS}/services_logs.png` });
        await page.click("#log-resume");
        assert.equal(await page.locator("#log-paused").isHidden(), true);
      });

      await t.step("CPU and RSS in the table and the panel, or '-' without figures", async () => {
        const status = await serviceStatus(orch.url, "talker");
        if ("cpu_percent" in status) {
          await waitFor(async () => /%$/.test(await cell(page, "talker", "c-cpu")), {
            message: "the CPU figure",
          });
          await waitFor(async () => /\d[KMG]$/.test(await cell(page, "talker", "c-rss")), {
            message: "the RSS figure",
          });
          await waitFor(async () => /\d[KMG]$/.test(await field(page, "RSS")), {
            message: "the RSS figure in the panel",
          });
        } else {
          assert.equal(await cell(page, "talker", "c-cpu"), "-");
          assert.equal(await cell(page, "talker", "c-rss"), "-");
        }
      });

      await t.step("a 375 px wide screen has no horizontal scroll; dark theme", async () => {
        await page.setViewportSize({ width: 375, height: 800 });
        await page.emulateMedia({ colorScheme: "dark" });
        const width = () => page.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok((await width()) <= 375, `scrollWidth ${await width()} > 375, panel open`);
        const bg = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
        assert.notEqual(bg, "rgb(246, 247, 249)", "dark theme background");
        await page.screenshot({ path: `${ARTIFACTS}/services_phone_dark_panel.png` });
        await page.keyboard.press("Escape");
        await page.locator("#detail").waitFor({ state: "hidden", timeout: 5000 });
        assert.ok((await width()) <= 375, `scrollWidth ${await width()} > 375`);
        await page.screenshot({ path: `${ARTIFACTS}/services_phone_dark.png`, fullPage: true });
        await page.emulateMedia({ colorScheme: "light" });
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.step(
        "keyboard: Escape closes the panel, Tab and Enter open one and act",
        async () => {
          // Escape (previous step) gave the focus back to the row's link.
          assert.equal(
            await page.evaluate<string | null>("document.activeElement?.textContent ?? null"),
            "Talker",
          );
          assert.equal(new URL(page.url()).hash, "");
          await page.keyboard.press("/");
          assert.equal(await page.evaluate<string>("document.activeElement?.id"), "filter");
          let reached = false;
          for (let i = 0; i < 20 && !reached; i++) {
            await page.keyboard.press("Tab");
            reached = await page.evaluate<boolean>(
              "document.activeElement?.textContent === 'Worker'",
            );
          }
          assert.ok(reached, "Tab reaches the link of worker");
          await page.keyboard.press("Enter");
          await page.locator("#detail").waitFor({ timeout: 5000 });
          assert.equal(await page.evaluate<string>("document.activeElement?.id"), "detail-title");
          reached = false;
          for (let i = 0; i < 10 && !reached; i++) {
            await page.keyboard.press("Tab");
            reached = await page.evaluate<boolean>(
              "document.activeElement?.getAttribute('aria-label') === 'Start worker'",
            );
          }
          assert.ok(reached, "Tab reaches the Start button of worker");
          await page.keyboard.press("Enter");
          await waitFor(
            async () => (await serviceStatus(orch.url, "worker")).status === "running",
            {
              message: "worker started from the keyboard",
            },
          );
        },
      );

      await t.step("says so while disconnected, and reconnects by itself", async () => {
        await orch.stop();
        await page.locator("#banner").waitFor({ state: "visible", timeout: 5000 });
        assert.match((await page.locator("#banner").textContent())!, /Disconnected/);
        await page.screenshot({ path: `${ARTIFACTS}/services_disconnected.png` });
        orch = await startOrchestrator({ registry: orch.registryPath, dir, port: orch.port });
        await page.locator("#banner").waitFor({ state: "hidden", timeout: 10_000 });
        const status = await serviceStatus(orch.url, "worker");
        await waitFor(async () => (await cell(page, "worker", "c-pid")) === String(status.pid), {
          message: "fresh data after the reconnect",
        });
      });

      assert.deepEqual(pageErrors, []);
      const answer = await api(orch.url, "GET", "/api/health");
      assert.equal(answer.status, 200);
    } finally {
      await browser.close();
      await orch.destroy();
      await removeDir(dir);
    }
  },
});
