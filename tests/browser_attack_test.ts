/**
 * Pages of other sites, in a real Chromium, try to make the browser drive a
 * real `edgevisor run` on loopback without a token (the default install):
 * a no-cors `fetch` and an auto-submitted `text/plain` form that add a shell
 * service, a CORS `fetch` with JSON, a stop through a form, and a page whose
 * name resolves to 127.0.0.1 (DNS rebinding) reading logs. Every attempt
 * fails and nothing changes; the API's own page still works.
 *
 * Skipped, with a message, when `/usr/bin/chromium` is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from "./browser.ts";
import {
  exists,
  FAST,
  freePort,
  sh,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

warnIfNoChromium("browser_attack_test.ts");

/** A name the browser resolves to 127.0.0.1, as a rebound DNS name would. */
const REBOUND = "rebound.test";

/** Pages of the attacking site, for an API at `api` that writes `proof` if the attack works. */
function attackPages(api: string, proof: string): Record<string, string> {
  const evil = JSON.stringify({
    name: "pwned",
    cmd: "/bin/sh",
    args: ["-c", `id > ${proof}; sleep 100000`],
  });
  const done = `document.title = "done"`;
  return {
    "/fetch-no-cors": `<script>
      fetch(${JSON.stringify(`${api}/api/services`)}, {
        method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" },
        body: ${JSON.stringify(evil)},
      }).then(() => { ${done} }, () => { ${done} });
    </script>`,
    "/fetch-cors-json": `<script>
      fetch(${JSON.stringify(`${api}/api/services`)}, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: ${JSON.stringify(evil)},
      }).then((r) => { document.title = "answered " + r.status }, () => { ${done} });
    </script>`,
    "/form-text-plain":
      `<form id="f" action="${api}/api/services" method="POST" enctype="text/plain">
      <input type="hidden" name='${evil.slice(0, -1)},"description":"' value='"}'>
      </form><script>document.getElementById("f").submit()</script>`,
    "/form-stop": `<form id="f" action="${api}/api/services/stop/victim" method="POST"></form>
      <script>document.getElementById("f").submit()</script>`,
    "/fetch-stop-no-cors": `<script>
      fetch(${
      JSON.stringify(`${api}/api/services/stop/victim`)
    }, { method: "POST", mode: "no-cors" })
        .then(() => { ${done} }, () => { ${done} });
    </script>`,
  };
}

/** Serve `pages` on loopback `port` as HTML. */
function serveAttacker(port: number, pages: Record<string, string>): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const html = pages[new URL(req.url).pathname];
    return html === undefined
      ? new Response("not found", { status: 404 })
      : new Response(`<!doctype html><html><body>${html}</body></html>`, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
  });
}

Deno.test({
  name: "a page of another site cannot make the browser add, stop or read services",
  ignore: !HAVE_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const seconds = uniqueSeconds();
    await using orch = await startOrchestrator({
      registry: {
        services: [{
          name: "victim",
          ...sh(`echo secret-line-${seconds}; exec sleep ${seconds}`),
          ...FAST,
        }],
      },
    });
    const proof = `${orch.dir}/pwned`;
    const registryBefore = await Deno.readTextFile(orch.registryPath);
    const victimPid = await waitFor(async () => {
      const res = await fetch(`${orch.url}/api/services/status/victim`);
      return (await res.json()).pid as number | null;
    }, { message: "victim to run" });

    const attackerPort = freePort();
    const attacker = serveAttacker(attackerPort, attackPages(orch.url, proof));
    let browser: Browser | undefined;
    try {
      browser = await launchChromium([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`]);
      // Another port of the same address is the same site; another name is another site.
      const origins = [`http://127.0.0.1:${attackerPort}`, `http://localhost:${attackerPort}`];
      for (const origin of origins) {
        await t.step(`from ${origin}`, async () => {
          const page = await browser!.newPage();
          try {
            for (const path of ["/fetch-no-cors", "/fetch-stop-no-cors"]) {
              await page.goto(origin + path);
              await titled(page, (title) => title === "done");
            }
            await page.goto(origin + "/fetch-cors-json");
            // The preflight is refused: the fetch rejects (no answer is visible to the page).
            await titled(page, (title) => title !== "");
            assert.equal(await page.title(), "done");
            for (const path of ["/form-text-plain", "/form-stop"]) {
              await submitted(page, origin + path, orch.url);
              const answer = JSON.parse(await page.locator("body").innerText());
              assert.equal(answer.ok, false, path);
              assert.match(answer.error, /^Cross-(site|origin) request refused/, path);
            }
          } finally {
            await page.close();
          }
        });
      }

      await t.step("a rebound name cannot read logs or events", async () => {
        const page = await browser!.newPage();
        try {
          for (
            const path of ["/api/services/logs/victim?lines=10", "/api/services/list", "/services"]
          ) {
            const res = await page.goto(`http://${REBOUND}:${orch.port}${path}`);
            assert.equal(res?.status(), 403, path);
            const text = await page.locator("body").innerText();
            assert.ok(!text.includes(`secret-line-${seconds}`), path);
            assert.match(text, /refused: this API listens on a loopback address/, path);
          }
        } finally {
          await page.close();
        }
      });

      await t.step("nothing changed, and the API's own page still acts", async () => {
        assert.ok(!exists(proof), "the shell service ran");
        assert.equal(await Deno.readTextFile(orch.registryPath), registryBefore);
        const list = await (await fetch(`${orch.url}/api/services/list`)).json();
        assert.deepEqual(list.services.map((s: { name: string }) => s.name), ["victim"]);
        assert.equal(list.services[0].pid, victimPid);
        assert.equal(list.services[0].status, "running");
        const page = await browser!.newPage();
        try {
          await page.goto(`${orch.url}/services`);
          const status = await page.evaluate(async () => {
            const res = await fetch("/api/services/restart/victim", { method: "POST" });
            return res.status;
          });
          assert.equal(status, 200);
        } finally {
          await page.close();
        }
        await waitFor(async () => {
          const res = await fetch(`${orch.url}/api/services/status/victim`);
          const body = await res.json();
          return body.pid !== victimPid && body.status === "running";
        }, { message: "victim restarted by its own page" });
      });
    } finally {
      await browser?.close();
      await attacker.shutdown();
    }
  },
});

/** Open the page at `url` that submits a form to `api`, and wait for the answer page. */
async function submitted(page: Page, url: string, api: string): Promise<void> {
  await Promise.all([
    page.waitForURL((u) => u.toString().startsWith(api), { timeout: 10_000 }),
    page.goto(url),
  ]);
  await page.waitForLoadState("load");
}

/** Wait until the page's title passes `test` (the attacking pages set it when done). */
async function titled(page: Page, test: (title: string) => boolean): Promise<void> {
  await waitFor(async () => test(await page.title()), { message: "the attacking page to finish" });
}
