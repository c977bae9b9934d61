import assert from "node:assert/strict";
import { fakeStatus } from "./api/fake_control.ts";
import {
  compareServices,
  countByState,
  formatBytes,
  formatCpu,
  formatDuration,
  formatHealthWord,
  isProblem,
  liveUptime,
  matchesFilter,
  problemRank,
  sortServices,
  SUMMARY_ORDER,
} from "./status_view.ts";
import { SERVICE_STATES } from "./types.ts";

const unhealthy = { healthy: false, message: "connection refused" };

Deno.test("problemRank() puts failed, cooldown, backoff, unhealthy, then the rest", () => {
  assert.equal(problemRank(fakeStatus("a", { status: "failed" })), 0);
  assert.equal(problemRank(fakeStatus("a", { status: "cooldown" })), 1);
  assert.equal(problemRank(fakeStatus("a", { status: "backoff" })), 2);
  assert.equal(problemRank(fakeStatus("a", { status: "running", health: unhealthy })), 3);
  assert.equal(problemRank(fakeStatus("a", { status: "failed", health: unhealthy })), 0);
  for (const status of ["stopped", "starting", "running", "stopping", "exited"] as const) {
    assert.equal(problemRank(fakeStatus("a", { status })), 4, status);
    assert.equal(isProblem(fakeStatus("a", { status })), false, status);
  }
  assert.equal(isProblem(fakeStatus("a", { status: "stopped", health: unhealthy })), true);
  assert.equal(isProblem(fakeStatus("a", { status: "backoff" })), true);
});

Deno.test("sortServices() lists problems first, then by name, without changing its input", () => {
  const input = [
    fakeStatus("web", { status: "running" }),
    fakeStatus("api", { status: "running", health: unhealthy }),
    fakeStatus("zeta", { status: "backoff" }),
    fakeStatus("db", { status: "failed" }),
    fakeStatus("cache", { status: "stopped" }),
    fakeStatus("alpha", { status: "cooldown" }),
    fakeStatus("beta", { status: "failed" }),
    fakeStatus("app", { status: "exited" }),
  ];
  const before = input.map((s) => s.name);
  assert.deepEqual(sortServices(input).map((s) => s.name), [
    "beta",
    "db",
    "alpha",
    "zeta",
    "api",
    "app",
    "cache",
    "web",
  ]);
  assert.deepEqual(input.map((s) => s.name), before);
  assert.deepEqual(sortServices([]), []);
});

Deno.test("compareServices() is a total order: names break every tie", () => {
  const a = fakeStatus("a", { status: "running" });
  const b = fakeStatus("b", { status: "stopped" });
  assert.ok(compareServices(a, b) < 0);
  assert.ok(compareServices(b, a) > 0);
  assert.equal(compareServices(a, a), 0);
});

Deno.test("countByState() counts every state, the unhealthy ones and the total", () => {
  const counts = countByState([
    fakeStatus("a", { status: "running" }),
    fakeStatus("b", { status: "running", health: unhealthy }),
    fakeStatus("c", { status: "cooldown" }),
    fakeStatus("d", { status: "failed", health: unhealthy }),
  ]);
  assert.deepEqual(counts, {
    stopped: 0,
    starting: 0,
    running: 2,
    backoff: 0,
    cooldown: 1,
    stopping: 0,
    exited: 0,
    failed: 1,
    unhealthy: 2,
    total: 4,
  });
  assert.equal(countByState([]).total, 0);
});

Deno.test("SUMMARY_ORDER holds every state once and unhealthy, problems first", () => {
  assert.deepEqual([...SUMMARY_ORDER].sort(), [...SERVICE_STATES, "unhealthy"].sort());
  assert.deepEqual(SUMMARY_ORDER.slice(0, 4), ["failed", "cooldown", "backoff", "unhealthy"]);
});

Deno.test("matchesFilter() finds the text in name, display name or reason, ignoring case", () => {
  const api = fakeStatus("api", {
    display_name: "Public API",
    reason: "exited with code 3; restarting in 2s",
    status: "backoff",
  });
  assert.equal(matchesFilter(api, ""), true);
  assert.equal(matchesFilter(api, "  "), true);
  assert.equal(matchesFilter(api, "AP"), true);
  assert.equal(matchesFilter(api, "public"), true);
  assert.equal(matchesFilter(api, "CODE 3"), true);
  assert.equal(matchesFilter(api, " code "), true, "the text is trimmed");
  assert.equal(matchesFilter(api, "worker"), false);
  assert.equal(matchesFilter(fakeStatus("db"), "code"), false, "a null reason matches nothing");
});

Deno.test("matchesFilter() keeps one state, or the unhealthy services", () => {
  const api = fakeStatus("api", { status: "backoff" });
  const web = fakeStatus("web", { status: "running", health: unhealthy });
  assert.equal(matchesFilter(api, "", "backoff"), true);
  assert.equal(matchesFilter(api, "", "running"), false);
  assert.equal(matchesFilter(api, "api", "backoff"), true);
  assert.equal(matchesFilter(api, "web", "backoff"), false);
  assert.equal(matchesFilter(web, "", "unhealthy"), true);
  assert.equal(matchesFilter(api, "", "unhealthy"), false);
  assert.equal(matchesFilter(web, "", null), true);
});

Deno.test("liveUptime() adds the time since the status came, and is null without a start", () => {
  const running = fakeStatus("a", { started_at: "2024-01-01T00:00:00Z", uptime: 10 });
  assert.equal(liveUptime(running), 10);
  assert.equal(liveUptime(running, 2500), 12.5);
  assert.equal(liveUptime(running, -5000), 10, "a clock going back adds nothing");
  assert.equal(liveUptime(fakeStatus("a"), 2500), null);
});

Deno.test("formatDuration() shows the two largest units", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(3), "3s");
  assert.equal(formatDuration(3.9), "3s");
  assert.equal(formatDuration(59), "59s");
  assert.equal(formatDuration(60), "1m00s");
  assert.equal(formatDuration(252), "4m12s");
  assert.equal(formatDuration(3599), "59m59s");
  assert.equal(formatDuration(2 * 3600 + 5 * 60 + 9), "2h05m");
  assert.equal(formatDuration(86399), "23h59m");
  assert.equal(formatDuration(3 * 86400 + 4 * 3600 + 59), "3d04h");
  assert.equal(formatDuration(400 * 86400), "400d00h");
  assert.equal(formatDuration(-1), "-");
  assert.equal(formatDuration(NaN), "-");
  assert.equal(formatDuration(Infinity), "-");
  assert.equal(formatDuration(null), "-");
});

Deno.test("formatBytes() and formatCpu() use short binary units and one decimal", () => {
  assert.equal(formatBytes(0), "0B");
  assert.equal(formatBytes(512), "512B");
  assert.equal(formatBytes(1536), "1.5K");
  assert.equal(formatBytes(50 * 1024 * 1024), "50.0M");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0G");
  assert.equal(formatBytes(2 * 1024 ** 5), "2048.0T");
  assert.equal(formatBytes(null), "-");
  assert.equal(formatBytes(undefined), "-");
  assert.equal(formatCpu(0), "0.0%");
  assert.equal(formatCpu(12.345), "12.3%");
  assert.equal(formatCpu(null), "-");
});

Deno.test("formatHealthWord() says - without a check", () => {
  assert.equal(formatHealthWord({ healthy: true, message: "OK" }), "healthy");
  assert.equal(formatHealthWord({ healthy: false, message: "refused" }), "unhealthy");
  assert.equal(formatHealthWord({ healthy: null, message: "waiting" }), "unknown");
  assert.equal(formatHealthWord({ healthy: null, message: "no check" }), "-");
});

Deno.test("status_view.ts imports types only, so that a browser can run it as it is", async () => {
  const source = await Deno.readTextFile(new URL("./status_view.ts", import.meta.url));
  const imports = source.match(/^\s*(import|export)\b[^;]*\bfrom\s[^;]*;/gm) ?? [];
  assert.ok(imports.length > 0);
  for (const line of imports) assert.match(line, /^\s*import type /, line);
  assert.doesNotMatch(source, /\bDeno\.|\bimport\(/);
});
