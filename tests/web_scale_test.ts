/**
 * The `/services` page in headless Chromium against a real `edgevisor run`
 * with 200 services, five of them in trouble (failed twice, cooling down,
 * crash-looping, unhealthy): every problem on the first screen, the header
 * counts and their filter, the text filter, axe-core clean in the light and
 * the dark theme, no horizontal scroll at 375 px, the keyboard; the detail
 * panel's history (timeline after a crash, the same after a reload) and the
 * logs merged in time order with start and exit markers. Screenshots go to `tests/artifacts/`.
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { isProblem, sortServices } from "../src/status_view.ts";
import type { ServiceStatus } from "../src/types.ts";
import {
  ARTIFACTS,
  axeViolations,
  HAVE_CHROMIUM,
  launchChromium,
  manyServices,
  TROUBLED,
  warnIfNoChromium,
} from "./browser.ts";
import {
  api,
  removeDir,
  serviceStatus,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

warnIfNoChromium("web_scale_test.ts");

/** Names of the rows shown (not filtered out), top to bottom. */
function shownRows(page: Page): Promise<string[]> {
  return page.locator("tbody tr:not([hidden])").evaluateAll((rows) =>
    rows.map((r) => r.getAttribute("data-name") ?? "")
  );
}

/** The count on a summary button: `failed`, `running`, … or `total`. */
async function count(page: Page, key: string): Promise<number | null> {
  const button = page.locator(`#summary button.c-${key}`);
  if (await button.isHidden()) return null;
  return Number(await button.locator(".n").textContent());
}

/** Every service that has a problem now, problems first, per the API. */
async function problemsOfApi(url: string): Promise<string[]> {
  const list = (await api(url, "GET", "/api/services/list")).body.services as ServiceStatus[];
  return sortServices(list).filter(isProblem).map((s) => s.name);
}

Deno.test({
  name: "web page with 200 services: problems first, counts, filters, axe, phone, keyboard",
  ignore: !HAVE_CHROMIUM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const dir = await tempDir();
    await Deno.writeTextFile(`${dir}/sick-ready`, "");
    const registry = manyServices(dir, uniqueSeconds());
    const orch = await startOrchestrator({ registry, dir });
    const browser = await launchChromium();
    try {
      // Every trouble in place before the page is opened.
      await waitFor(
        async () => (await serviceStatus(orch.url, TROUBLED.unhealthy)).status === "running",
        {
          message: "sick running",
          timeoutMs: 30_000,
        },
      );
      await Deno.remove(`${dir}/sick-ready`);
      for (
        const [name, ok] of [
          [TROUBLED.unhealthy, (s: ServiceStatus) => s.health.healthy === false],
          [TROUBLED.cooldown, (s: ServiceStatus) => s.status === "cooldown"],
          [TROUBLED.failed, (s: ServiceStatus) => s.status === "failed"],
          [TROUBLED.gaveUp, (s: ServiceStatus) => s.status === "failed"],
          [TROUBLED.backoff, (s: ServiceStatus) => s.crash_count >= 2],
        ] as const
      ) {
        await waitFor(async () => ok(await serviceStatus(orch.url, name)), {
          message: `${name} in trouble`,
          timeoutMs: 30_000,
        });
      }
      // bypassCSP: axe-core is injected as an inline script.
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        bypassCSP: true,
      });
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      page.on("console", (msg) => {
        if (msg.type() === "error" && !/^Failed to load resource/.test(msg.text())) {
          pageErrors.push(msg.text());
        }
      });
      await page.goto(`${orch.url}/services`);
      await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });

      await t.step("every service with a problem is on the first screen, first", async () => {
        assert.equal(await page.locator("tbody tr").count(), 200);
        // The crash loop leaves backoff for a moment now and then, and its row moves: the order,
        // the marks and the positions are read in one go, and compared once page and API agree.
        const problems = await waitFor(async () => {
          const problems = await problemsOfApi(orch.url);
          const rows = await page.locator("tbody tr:not([hidden])").evaluateAll((rows) =>
            rows.map((r) => {
              const box = r.getBoundingClientRect();
              return {
                name: r.getAttribute("data-name") ?? "",
                problem: r.classList.contains("problem"),
                onScreen: box.top >= 0 &&
                  box.bottom <= r.ownerDocument.documentElement.clientHeight,
              };
            })
          );
          const first = rows.slice(0, problems.length);
          const marked = rows.filter((r) => r.problem).map((r) => r.name);
          return JSON.stringify(first.map((r) => r.name)) === JSON.stringify(problems) &&
            JSON.stringify(marked) === JSON.stringify(problems) &&
            first.every((r) => r.onScreen) && problems;
        }, { message: "the problem rows first, as the API orders them, all on the first screen" });
        for (const name of Object.values(TROUBLED)) {
          if (name !== TROUBLED.backoff) assert.ok(problems.includes(name), name);
        }
        await page.screenshot({ path: `${ARTIFACTS}/scale_first_screen.png` });
      });

      await t.step("the header counts by state, and a click on one filters", async () => {
        const list = (await api(orch.url, "GET", "/api/services/list")).body
          .services as ServiceStatus[];
        assert.equal(await count(page, "total"), 200);
        assert.equal(await count(page, "failed"), 2);
        assert.equal(await count(page, "cooldown"), 1);
        assert.equal(await count(page, "unhealthy"), 1);
        assert.equal(await count(page, "stopped"), 2);
        assert.equal(await count(page, "stopping"), null, "no button for a state without services");
        await waitFor(
          async () =>
            (await count(page, "running")) ===
              (await api(orch.url, "GET", "/api/services/list")).body.services
                .filter((s: ServiceStatus) => s.status === "running").length,
          { message: `the running count (${list.length} services)` },
        );
        await page.locator("#summary button.c-failed").click();
        assert.deepEqual(await shownRows(page), [TROUBLED.gaveUp, TROUBLED.failed]);
        assert.equal(
          await page.locator("#summary button.c-failed").getAttribute("aria-pressed"),
          "true",
        );
        assert.equal(await page.locator("#shown").textContent(), "2 of 200 shown");
        await page.screenshot({ path: `${ARTIFACTS}/scale_filter_failed.png` });
        await page.locator("#summary button.c-unhealthy").click();
        assert.deepEqual(await shownRows(page), [TROUBLED.unhealthy]);
        await page.locator("#summary button.c-unhealthy").click(); // again: off
        assert.equal((await shownRows(page)).length, 200);
        assert.equal(await page.locator("#shown").textContent(), "");
      });

      await t.step("the text filter matches names and reasons", async () => {
        const cameras = (registry.services as { name: string }[])
          .map((s) => s.name).filter((n) => n.includes("camera"));
        await page.fill("#filter", "CAMERA");
        await waitFor(async () => (await shownRows(page)).length === cameras.length, {
          message: "only the cameras",
        });
        assert.deepEqual((await shownRows(page)).sort(), cameras.sort());
        await page.fill("#filter", "cooling down");
        await waitFor(async () => (await shownRows(page)).join() === TROUBLED.cooldown, {
          message: "the service whose reason matches",
        });
        await page.fill("#filter", "");
        await waitFor(async () => (await shownRows(page)).length === 200, {
          message: "every row back",
        });
      });

      await t.step("axe-core finds nothing, light and dark, table and panel", async () => {
        for (const scheme of ["light", "dark"] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          assert.deepEqual(await axeViolations(page), [], `${scheme}: table`);
          await page.locator(`tr[data-name="${TROUBLED.backoff}"] th.name a`).click();
          await page.locator("#detail").waitFor({ timeout: 5000 });
          await waitFor(async () => (await page.locator("#log-lines .l").count()) > 0, {
            message: "log lines in the panel",
          });
          assert.deepEqual(await axeViolations(page), [], `${scheme}: panel`);
          await page.screenshot({ path: `${ARTIFACTS}/scale_panel_${scheme}.png` });
          await page.keyboard.press("Escape");
          await page.locator("#detail").waitFor({ state: "hidden", timeout: 5000 });
        }
        await page.emulateMedia({ colorScheme: "light" });
      });

      await t.step("375 px wide: no horizontal scroll, table or panel", async () => {
        await page.setViewportSize({ width: 375, height: 800 });
        const width = () => page.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok((await width()) <= 375, `scrollWidth ${await width()}`);
        await page.screenshot({ path: `${ARTIFACTS}/scale_phone.png` });
        await page.locator(`tr[data-name="${TROUBLED.unhealthy}"] th.name a`).click();
        await page.locator("#detail").waitFor({ timeout: 5000 });
        assert.ok((await width()) <= 375, `scrollWidth ${await width()}, panel open`);
        const panel = await page.locator("#detail").evaluate((
          el,
        ) => [el.scrollWidth, el.clientWidth]);
        assert.ok(panel[0]! <= panel[1]!, `the panel scrolls sideways: ${panel}`);
        await page.screenshot({ path: `${ARTIFACTS}/scale_phone_panel.png` });
        await page.keyboard.press("Escape");
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.step(
        "keyboard: '/' to the filter, Tab to a row, Enter opens, Escape closes",
        async () => {
          await page.locator("body").focus();
          await page.keyboard.press("/");
          assert.equal(await page.evaluate<string>("document.activeElement?.id"), "filter");
          await page.keyboard.press("Tab");
          const first = (await shownRows(page))[0]!;
          assert.equal(
            await page.evaluate<string | null>(
              "document.activeElement?.closest('tr')?.dataset.name ?? null",
            ),
            first,
          );
          await page.keyboard.press("Enter");
          await page.locator("#detail").waitFor({ timeout: 5000 });
          assert.equal(new URL(page.url()).hash, `#${first}`);
          assert.equal(await page.evaluate<string>("document.activeElement?.id"), "detail-title");
          await page.keyboard.press("Escape");
          await page.locator("#detail").waitFor({ state: "hidden", timeout: 5000 });
          assert.equal(
            await page.evaluate<string | null>(
              "document.activeElement?.closest('tr')?.dataset.name ?? null",
            ),
            first,
          );
        },
      );

      await t.step({
        name: "detail panel: the timeline after a crash, the same after a reload",
        fn: async () => {
          await page.goto(`${orch.url}/services#${TROUBLED.backoff}`);
          await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
          const exits = page.locator("#detail ol.timeline li .tag", { hasText: "exit" });
          await waitFor(async () => (await exits.count()) > 0, {
            message: "an exit in the timeline",
          });
          assert.ok(await page.locator("#detail section.history").isVisible(), "history shown");
          assert.match(
            // The inner locator is matched inside each item: `.tag`, not the whole path.
            (await page.locator("#detail ol.timeline li", {
              has: page.locator(".tag", { hasText: /^exit$/ }),
            }).first().textContent())!,
            /exited with code 3/,
          );
          assert.equal(await page.locator("#detail .charts svg[role=img]").count(), 2);
          assert.match(
            (await page.locator("#detail .charts svg.cpu").getAttribute("aria-label"))!,
            /CPU over the last hour/,
          );
          assert.ok(
            (await page.locator("#detail .charts svg.cpu text.axis").count()) >= 3,
            "an axis",
          );
          await page.screenshot({ path: `${ARTIFACTS}/scale_history.png` });
          const before = await page.locator("#detail ol.timeline li").count();
          await page.reload();
          await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
          await waitFor(
            async () => (await page.locator("#detail ol.timeline li").count()) >= before,
            {
              message: "the timeline back after a reload",
            },
          );
          assert.ok((await exits.count()) > 0, "the exits still in the timeline after a reload");
        },
      });

      await t.step({
        name: "logs: both streams merged in time order, with start and exit markers",
        fn: async () => {
          await page.goto(`${orch.url}/services#${TROUBLED.backoff}`);
          await page.waitForSelector("body[data-ready='1']", { timeout: 20_000 });
          const lines = page.locator("#log-lines");
          await waitFor(
            async () =>
              (await lines.locator(".m-start").count()) >= 2 &&
              (await lines.locator(".m-exit").count()) >= 2,
            { message: "start and exit markers in the logs" },
          );
          const entries = await lines.locator(":scope > div").evaluateAll((divs) =>
            divs.map((d) => ({
              kind: d.classList.contains("m") ? d.className : d.querySelector(".s")?.textContent,
              at: d.querySelector("time")?.getAttribute("datetime") ?? null,
              text: d.querySelector(".x")?.textContent ?? "",
            }))
          );
          const times = entries.map((e) => e.at).filter((at) => at !== null) as string[];
          assert.deepEqual(times, [...times].sort(), "in time order");
          // Each run: started, its stdout line, its stderr line, exited; not all stdout first.
          const runs = entries.map((e) =>
            e.kind === "out"
              ? "o"
              : e.kind === "err"
              ? "e"
              : e.kind?.includes("m-start")
              ? "S"
              : "X"
          ).join("");
          assert.match(runs, /SoeX/, `the order of the entries: ${runs}`);
          await page.screenshot({ path: `${ARTIFACTS}/scale_logs_merged.png` });
        },
      });

      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      await orch.destroy();
      await removeDir(dir);
    }
  },
});
