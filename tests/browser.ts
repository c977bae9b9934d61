/**
 * Headless Chromium for the end-to-end tests, driven by Playwright: Debian's
 * `/usr/bin/chromium`, started with the flags that keep it off the network
 * (this machine has none) and a fresh temporary profile; and what the page
 * tests and the page benchmark share: a registry of 200 services (a few of
 * them in trouble) and an accessibility check with axe-core.
 *
 * @module
 */
import type { AxeResults } from "axe-core";
import { createRequire } from "node:module";
import { type Browser, chromium, type Page } from "playwright-core";
import { exists, FAST, ROOT, sh } from "./harness.ts";

/** Where the browser tests save their screenshots (ignored by git). */
export const ARTIFACTS = `${ROOT}/tests/artifacts`;

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed; tests that need it are skipped (with a warning) otherwise. */
export const HAVE_CHROMIUM: boolean = exists(CHROMIUM);

/** Say once, on stderr, that the tests of `file` are skipped because Chromium is missing. */
export function warnIfNoChromium(file: string): void {
  if (!HAVE_CHROMIUM) {
    console.warn(`${file}: skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
  }
}

/** Launch headless Chromium with `args` added to the usual flags. */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
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
      ...args,
    ],
  });
}

/** The services of {@linkcode manyServices} that have a problem, by what is wrong. */
export const TROUBLED = {
  /** Exits with code 3 after two lines, and is restarted after 1 s, again and again. */
  backoff: "crashloop",
  /** Crashes three times in a row, then waits out a long cooldown. */
  cooldown: "cooler",
  /** Its command does not exist. */
  failed: "missing",
  /** Exits with code 2; gives up after two restarts. */
  gaveUp: "gives-up",
  /** Running, but its readiness file goes away (the test removes it): unhealthy. */
  unhealthy: "sick",
} as const;

/**
 * A registry of `count` services: `count - 7` sleepers (`api-001`,
 * `worker-002`, …), the five {@linkcode TROUBLED} ones, and two that do not
 * start on their own (`spare-1`, `spare-2`). `dir` holds `sick`'s readiness
 * file, `${dir}/sick-ready`, which must exist for it to start.
 */
export function manyServices(dir: string, seconds: number, count = 200): { services: unknown[] } {
  const kinds = ["api", "worker", "cache", "sensor", "camera", "uploader", "gateway", "metrics"];
  const sleepers = Array.from({ length: count - 7 }, (_, i) => ({
    ...FAST,
    name: `${kinds[i % kinds.length]}-${String(i + 1).padStart(3, "0")}`,
    cmd: "sleep",
    args: [String(seconds)],
  }));
  return {
    services: [
      ...sleepers,
      {
        ...FAST,
        name: TROUBLED.backoff,
        display_name: "Crash loop",
        ...sh("echo booting; echo 'fatal: cannot open /dev/ttyUSB0' >&2; exit 3"),
        restart_policy: "always",
        backoff: { initial: 1, factor: 1, max: 1 },
      },
      {
        ...FAST,
        name: TROUBLED.cooldown,
        ...sh("echo overheating >&2; exit 1"),
        restart_policy: "always",
        crash_loop: { max_crashes: 3, window: 60, cooldown: 600 },
      },
      { ...FAST, name: TROUBLED.failed, cmd: "no-such-binary-in-path" },
      {
        ...FAST,
        name: TROUBLED.gaveUp,
        ...sh("echo giving up >&2; exit 2"),
        restart_policy: "on-failure",
        max_restarts: 2,
      },
      {
        ...FAST,
        name: TROUBLED.unhealthy,
        display_name: "Sick",
        cmd: "sleep",
        args: [String(seconds)],
        readiness: {
          type: "file",
          path: `${dir}/sick-ready`,
          interval: 0.2,
          failure_threshold: 1,
        },
      },
      { ...FAST, name: "spare-1", cmd: "sleep", args: [String(seconds)], autostart: false },
      { ...FAST, name: "spare-2", cmd: "sleep", args: [String(seconds)], autostart: false },
    ],
  };
}

/** What axe-core found wrong, in a form that reads well in a failed assertion. */
export interface AxeViolation {
  /** Rule id, such as `color-contrast`. */
  id: string;
  /** `minor`, `moderate`, `serious` or `critical`. */
  impact: string | null | undefined;
  /** What the rule asks for. */
  help: string;
  /** The elements at fault (CSS selectors) with axe's summary of each. */
  nodes: string[];
}

let axeSource: string | undefined;

/**
 * Run axe-core (WCAG 2.x A and AA rules, and best practices) on the page as
 * it is now and return its violations. The page's context must be made with
 * `bypassCSP: true`: axe is injected as an inline script, which the page's
 * Content-Security-Policy forbids otherwise.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await Deno.readTextFile(
    createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  );
  if (!(await page.evaluate("typeof globalThis.axe === 'object'"))) {
    await page.addScriptTag({ content: axeSource });
  }
  const results = await page.evaluate<AxeResults>(
    `axe.run(document, { resultTypes: ["violations"] })`,
  );
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary ?? ""}`),
  }));
}
