import assert from "node:assert/strict";
import { fakeStatus } from "../api/fake_control.ts";
import * as view from "../status_view.ts";
import {
  fitWidth,
  formatBytes,
  formatCpu,
  formatDuration,
  formatExit,
  formatHealth,
  formatKeyValues,
  formatLogs,
  formatOrchestrator,
  formatServices,
  formatState,
  formatStatus,
  formatTable,
  SERVICE_COLUMNS,
  serviceRow,
  visibleWidth,
} from "./format.ts";

Deno.test("formatTable() aligns columns without trailing spaces", () => {
  assert.equal(
    formatTable([["NAME", "PID", "REASON"], ["api", "12345", "-"], ["long_name", "7", ""]]),
    "NAME       PID    REASON\napi        12345  -\nlong_name  7",
  );
  assert.equal(formatTable([]), "");
});

Deno.test("formatTable() ignores ANSI escapes when measuring", () => {
  const green = "\x1b[32mrunning\x1b[0m";
  const lines = formatTable([["STATUS", "PID"], [green, "1"], ["stopped", "-"]]).split("\n");
  assert.equal(lines[1], `${green}  1`);
  assert.equal(lines[2], "stopped  -");
});

Deno.test("formatServices() lists every column, problems first, with - for null", () => {
  const text = formatServices([
    fakeStatus("api", {
      status: "running",
      pid: 1234,
      started_at: "2024-01-01T00:00:00Z",
      uptime: 252,
      restarts: 2,
      crash_count: 1,
      health: { healthy: true, message: "OK" },
      cpu_percent: 2.5,
      memory_rss_bytes: 12 * 1024 * 1024,
    }),
    fakeStatus("worker", {
      status: "failed",
      reason: "exited with code 1 (max_restarts 3 reached)",
    }),
    fakeStatus("db", { status: "backoff", health: { healthy: null, message: "waiting" } }),
  ], { color: false });
  assert.equal(
    text,
    [
      "NAME    STATUS   PID   UPTIME  CPU   MEM    RESTARTS  CRASHES  HEALTH   REASON",
      "worker  failed   -     -       -     -      0         0        -        exited with code 1 (max_restarts 3 reached)",
      "db      backoff  -     -       -     -      0         0        unknown  -",
      "api     running  1234  4m12s   2.5%  12.0M  2         1        healthy  -",
    ].join("\n"),
  );
  assert.equal(text.includes("\x1b"), false);
});

Deno.test("formatServices() colours the state only when asked", () => {
  const services = [fakeStatus("a", { status: "running" }), fakeStatus("b", { status: "failed" })];
  const text = formatServices(services, { color: true });
  assert.ok(text.includes("\x1b[32mrunning\x1b[0m"));
  assert.ok(text.includes("\x1b[31mfailed\x1b[0m"));
  assert.equal(formatServices([fakeStatus("a")], { color: false }).includes("\x1b"), false);
});

Deno.test("formatState() uses green, yellow, red and dim", () => {
  assert.equal(formatState("running"), "running");
  assert.equal(formatState("running", { color: true }), "\x1b[32mrunning\x1b[0m");
  for (const s of ["starting", "backoff", "stopping"] as const) {
    assert.equal(formatState(s, { color: true }), `\x1b[33m${s}\x1b[0m`);
  }
  for (const s of ["failed", "cooldown"] as const) {
    assert.equal(formatState(s, { color: true }), `\x1b[31m${s}\x1b[0m`);
  }
  for (const s of ["stopped", "exited"] as const) {
    assert.equal(formatState(s, { color: true }), `\x1b[2m${s}\x1b[0m`);
  }
});

Deno.test("formatKeyValues() aligns values in one column", () => {
  assert.equal(formatKeyValues([["a", "1"], ["long", "2"], ["e", ""]]), "a:    1\nlong: 2\ne:");
});

Deno.test("formatStatus() shows every field as key: value", () => {
  const text = formatStatus(fakeStatus("api", {
    status: "exited",
    last_exit: { code: 1, signal: null, at: "2024-01-01T00:00:00Z" },
    port: 8081,
  }));
  const lines = text.split("\n");
  assert.equal(lines.length, 21);
  assert.equal(lines[0], "name:            api");
  assert.ok(lines.includes("status:          exited"));
  assert.ok(lines.includes("last_exit:       code 1 at 2024-01-01T00:00:00Z"));
  assert.ok(lines.includes("port:            8081"));
  assert.ok(lines.includes("pid:             -"));
  assert.ok(lines.includes("health:          unknown (no check)"));
  assert.ok(lines.includes("cpu:             -"));
});

Deno.test("formatStatus() shows a job's next run and last runs", () => {
  const text = formatStatus(fakeStatus("nightly", {
    kind: "job",
    next_run_at: "2026-01-02T03:00:00.000Z",
    runs: [{
      id: 2,
      started_at: "2026-01-01T03:00:00.000Z",
      ended_at: "2026-01-01T03:00:01.500Z",
      exit_code: 0,
      signal: null,
      duration_ms: 1500,
      output_tail: [],
    }],
  }));
  const lines = text.split("\n");
  assert.ok(lines.includes("next_run_at:     2026-01-02T03:00:00.000Z"), text);
  assert.ok(lines.includes("run 2:           2026-01-01T03:00:00.000Z exit 0 (1500 ms)"), text);
});

Deno.test("formatExit() and formatHealth() describe their values", () => {
  assert.equal(formatExit(null), "-");
  assert.equal(formatExit({ code: null, signal: "SIGKILL", at: "t" }), "signal SIGKILL at t");
  assert.equal(formatHealth({ healthy: true, message: "OK" }), "healthy (OK)");
  assert.equal(formatHealth({ healthy: false, message: "" }), "unhealthy");
});

Deno.test("formatOrchestrator() shows non-zero counts", () => {
  const text = formatOrchestrator({
    version: "1.2.3",
    uptime: 3700,
    pid: 9,
    services: {
      total: 3,
      running: 2,
      failed: 1,
      stopped: 0,
      starting: 0,
      backoff: 0,
      cooldown: 0,
      stopping: 0,
      exited: 0,
    },
  }, "http://x:1");
  assert.equal(
    text,
    "url:      http://x:1\nversion:  1.2.3\npid:      9\nuptime:   1h01m\nservices: 3 (2 running, 1 failed)",
  );
});

Deno.test("formatLogs() prints sections for both streams and bare lines for one", () => {
  assert.equal(
    formatLogs({ stream: "both", stdout: ["a", "b"], stderr: ["c"] }),
    "==> stdout <==\na\nb\n\n==> stderr <==\nc",
  );
  assert.equal(formatLogs({ stream: "stderr", stderr: ["x", "y"] }), "x\ny");
  assert.equal(formatLogs({ stream: "stdout", stdout: [] }), "");
});

Deno.test("formatServices() sorts with sortServices(): failed, cooldown, backoff, unhealthy, then by name", () => {
  const text = formatServices([
    fakeStatus("b", { status: "running" }),
    fakeStatus("a", { status: "stopped" }),
    fakeStatus("sick", { status: "running", health: { healthy: false, message: "timeout" } }),
    fakeStatus("cool", { status: "cooldown" }),
    fakeStatus("dead", { status: "failed" }),
    fakeStatus("wait", { status: "backoff" }),
  ]);
  const names = text.split("\n").slice(1).map((line) => line.split(" ")[0]);
  assert.deepEqual(names, ["dead", "cool", "wait", "sick", "a", "b"]);
});

Deno.test("serviceRow() gives one cell per column", () => {
  const row = serviceRow(fakeStatus("api", { status: "running", pid: 7 }));
  assert.equal(row.length, SERVICE_COLUMNS.length);
  assert.deepEqual(row.slice(0, 3), ["api", "running", "7"]);
});

Deno.test("format.ts re-exports the figures of status_view.ts, not copies", () => {
  assert.equal(formatDuration, view.formatDuration);
  assert.equal(formatBytes, view.formatBytes);
  assert.equal(formatCpu, view.formatCpu);
});

Deno.test("fitWidth() cuts to visible columns, keeps escapes and resets after a cut", () => {
  assert.equal(fitWidth("abcdef", 4), "abcd");
  assert.equal(fitWidth("abc", 4), "abc");
  assert.equal(fitWidth("", 0), "");
  assert.equal(fitWidth("abc", 0), "");
  const red = "\x1b[31mfailed\x1b[0m tail";
  assert.equal(fitWidth(red, 20), red);
  assert.equal(fitWidth(red, 3), "\x1b[31mfai\x1b[0m\x1b[0m");
  assert.equal(visibleWidth(fitWidth(red, 8)), 8);
  assert.equal(fitWidth("→é€x", 3), "→é€", "counts characters, not UTF-16 units");
});
