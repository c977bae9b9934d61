import assert from "node:assert/strict";
import { createApp } from "../api/app.ts";
import { FakeControl, fakeStatus } from "../api/fake_control.ts";
import type { ServiceStatus } from "../types.ts";
import { ApiClient } from "./client.ts";
import { visibleWidth } from "./format.ts";
import type { SseMessage } from "./sse_reader.ts";
import {
  applyEvent,
  initialState,
  type Key,
  pageRows,
  parseKeys,
  press,
  render,
  runTop,
  type TopState,
  visibleEntries,
  withServices,
} from "./top.ts";

// deno-lint-ignore no-control-regex -- stripping ANSI escapes
const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

const NOW = Date.parse("2024-01-01T00:10:00Z");

function services(): ServiceStatus[] {
  return [
    fakeStatus("web", {
      status: "running",
      pid: 101,
      started_at: "2024-01-01T00:00:00Z",
      uptime: 60,
      cpu_percent: 1.5,
      memory_rss_bytes: 3 * 1024 * 1024,
    }),
    fakeStatus("api", { status: "running", pid: 102, started_at: "2024-01-01T00:00:00Z" }),
    fakeStatus("crashy", {
      status: "cooldown",
      crash_count: 5,
      reason: "5 exits within 60s; cooling down for 300s",
    }),
    fakeStatus("idle", { status: "stopped" }),
    fakeStatus("sick", {
      status: "running",
      pid: 103,
      started_at: "2024-01-01T00:00:00Z",
      health: { healthy: false, message: "connection refused" },
    }),
  ];
}

function state(overrides: Partial<TopState> = {}): TopState {
  return { ...withServices(initialState("http://127.0.0.1:8080"), services(), NOW), ...overrides };
}

/** Press `keys` one after the other; the last state and every effect. */
function pressAll(start: TopState, keys: Key[]) {
  let current = start;
  const effects = [];
  for (const key of keys) {
    const { state, effect } = press(current, key, 3);
    current = state;
    if (effect) effects.push(effect);
  }
  return { state: current, effects };
}

const names = (s: TopState) => visibleEntries(s).map((e) => e.status.name);

// ---------------------------------------------------------------------------
// parseKeys

Deno.test("parseKeys() names special keys and passes characters through", () => {
  assert.deepEqual(parseKeys("jk/ab\r"), ["j", "k", "/", "a", "b", "enter"]);
  assert.deepEqual(parseKeys("\x1b[A\x1b[B\x1bOA\x1bOB"), ["up", "down", "up", "down"]);
  assert.deepEqual(parseKeys("\x1b[5~\x1b[6~\x1b[H\x1b[F\x1b[1~\x1b[4~"), [
    "pageup",
    "pagedown",
    "home",
    "end",
    "home",
    "end",
  ]);
  assert.deepEqual(parseKeys("\x1b"), ["esc"]);
  assert.deepEqual(parseKeys("\x7f\b\t\x03"), ["backspace", "backspace", "tab", "ctrl-c"]);
  assert.deepEqual(parseKeys("\x1b[1;5C\x01é😀"), ["é", "😀"], "unknown sequences are dropped");
  assert.deepEqual(parseKeys(""), []);
});

// ---------------------------------------------------------------------------
// applyEvent

Deno.test("applyEvent() takes the snapshot, then each event's status", () => {
  let s = initialState("http://x");
  s = applyEvent(s, {
    event: "snapshot",
    data: JSON.stringify({ services: [fakeStatus("a"), fakeStatus("b")] }),
  }, 1);
  assert.equal(s.connected, true);
  assert.deepEqual([...s.services.keys()], ["a", "b"]);
  const event = (data: unknown): SseMessage => ({ event: "state", data: JSON.stringify(data) });
  s = applyEvent(s, event({ type: "state", service: "a", status: fakeStatus("a", { pid: 9 }) }), 2);
  assert.equal(s.services.get("a")?.status.pid, 9);
  assert.equal(s.services.get("a")?.receivedAt, 2);
  assert.equal(s.services.get("b")?.receivedAt, 1);
  s = applyEvent(s, event({ type: "state", service: "c", status: fakeStatus("c") }), 3);
  assert.deepEqual([...s.services.keys()], ["a", "b", "c"], "a new service is added");
  const before = s;
  assert.equal(applyEvent(s, event({ type: "state", service: "gone" }), 4), before);
  assert.equal(applyEvent(s, { event: "state", data: "not json" }, 4), before);
  assert.equal(applyEvent(s, { event: "snapshot", data: "{}" }, 4), before);
  s = applyEvent(
    { ...s, connected: false, problem: "down" },
    { event: "snapshot", data: JSON.stringify({ services: [fakeStatus("z")] }) },
    5,
  );
  assert.deepEqual([...s.services.keys()], ["z"], "a new snapshot replaces everything");
  assert.equal(s.problem, null);
});

// ---------------------------------------------------------------------------
// press

Deno.test("press() moves the selection through the sorted rows, within bounds", () => {
  const s = state();
  assert.deepEqual(names(s), ["crashy", "sick", "api", "idle", "web"]);
  assert.equal(pressAll(s, ["j"]).state.selected, "sick", "from the first row when none chosen");
  assert.equal(pressAll(s, ["j", "down", "k"]).state.selected, "sick");
  assert.equal(pressAll(s, ["up", "k"]).state.selected, "crashy");
  assert.equal(pressAll(s, ["G"]).state.selected, "web");
  assert.equal(pressAll(s, ["end", "j", "j"]).state.selected, "web");
  assert.equal(pressAll(s, ["end", "home"]).state.selected, "crashy");
  assert.equal(pressAll(s, ["pagedown"]).state.selected, "idle");
  assert.equal(pressAll(s, ["pagedown", "pagedown", "pageup"]).state.selected, "sick");
  assert.equal(pressAll(s, ["G", "g"]).state.selected, "crashy");
});

Deno.test("press() / types a filter that narrows the rows; Enter keeps it, Esc clears it", () => {
  let { state: s } = pressAll(state(), ["/", "A", "p"]);
  assert.equal(s.editing, "Ap");
  assert.deepEqual(names(s), ["api"], "the rows follow the typing");
  s = pressAll(s, ["i", "backspace", "enter"]).state;
  assert.equal(s.editing, null);
  assert.equal(s.filter, "Ap");
  assert.deepEqual(names(s), ["api"]);
  s = pressAll(s, ["/", "x", "esc"]).state;
  assert.equal(s.filter, "");
  assert.equal(names(s).length, 5);
  s = pressAll(s, ["/", "c", "o", "o", "l", "enter"]).state;
  assert.deepEqual(names(s), ["crashy"], "the reason matches");
  assert.deepEqual(pressAll(state(), ["/", "q"]).effects, [], "q is text while typing");
  assert.equal(pressAll(state(), ["/", "q"]).state.editing, "q");
  assert.equal(pressAll(state({ filter: "api" }), ["esc"]).state.filter, "");
});

Deno.test("press() Tab steps through the states present, then unhealthy, then all", () => {
  const seen: (string | null)[] = [];
  let s = state();
  for (let i = 0; i < 6; i++) {
    s = pressAll(s, ["tab"]).state;
    seen.push(s.stateFilter);
  }
  assert.deepEqual(seen, ["cooldown", "unhealthy", "running", "stopped", null, "cooldown"]);
  s = pressAll(state(), ["tab", "tab"]).state;
  assert.deepEqual(names(s), ["sick"]);
  assert.equal(pressAll(s, ["esc"]).state.stateFilter, null);
});

Deno.test("press() s and r act on the selected row; x asks first; q and Ctrl-C quit", () => {
  assert.deepEqual(pressAll(state(), ["j", "j", "r"]).effects, [
    { type: "action", action: "restart", name: "api" },
  ]);
  const started = pressAll(state(), ["G", "s"]);
  assert.deepEqual(started.effects, [{ type: "action", action: "start", name: "web" }]);
  assert.equal(started.state.message?.text, "starting web…");
  let asked = pressAll(state(), ["j", "x"]);
  assert.deepEqual(asked.effects, []);
  assert.equal(asked.state.confirm, "sick");
  assert.deepEqual(pressAll(asked.state, ["y"]).effects, [
    { type: "action", action: "stop", name: "sick" },
  ]);
  asked = pressAll(asked.state, ["n"]);
  assert.deepEqual(asked.effects, []);
  assert.equal(asked.state.confirm, null);
  assert.deepEqual(pressAll(state(), ["q"]).effects, [{ type: "quit" }]);
  assert.deepEqual(pressAll(state({ editing: "a" }), ["ctrl-c"]).effects, [{ type: "quit" }]);
  assert.deepEqual(pressAll(state({ confirm: "api" }), ["ctrl-c"]).effects, [{ type: "quit" }]);
  const none = pressAll(state({ filter: "nothing matches" }), ["r", "s", "x"]);
  assert.deepEqual(none.effects, [], "no row, no action");
  assert.equal(none.state.confirm, null);
});

Deno.test("press() keeps the selection on the same service when the order changes", () => {
  let s = pressAll(state(), ["G"]).state; // web, last
  s = applyEvent(s, {
    event: "state",
    data: JSON.stringify({ status: fakeStatus("web", { status: "failed" }) }),
  }, NOW);
  assert.equal(names(s)[0], "web");
  assert.equal(pressAll(s, ["j"]).state.selected, "crashy", "moves from web's new place");
});

// ---------------------------------------------------------------------------
// render

Deno.test("render() draws the header counts, the table problems first, and the keys", () => {
  const screen = strip(render(state(), { columns: 120, rows: 12 }, NOW + 5000)).split("\n");
  assert.equal(screen.length, 12);
  assert.equal(screen[0], "edgevisor top  http://127.0.0.1:8080  connecting…");
  assert.equal(screen[1], "5 services: 1 cooldown, 1 unhealthy, 3 running, 1 stopped");
  assert.match(screen[2]!, /^ {2}NAME\s+STATUS\s+PID\s+UPTIME\s+CPU\s+MEM\s+RESTARTS\s+CRASHES/);
  assert.match(screen[3]!, /^> crashy\s+cooldown\s+-\s+-\s+-\s+-\s+0\s+5\s+-\s+5 exits within/);
  assert.match(screen[4]!, /^ {2}sick\s+running\s+103\s.*unhealthy/);
  assert.match(screen[7]!, /^ {2}web\s+running\s+101\s+1m05s\s+1\.5%\s+3\.0M/, "uptime goes on");
  assert.equal(screen[8], "");
  assert.match(screen[11]!, /^j\/k move {2}\/ filter .* q quit$/);
});

Deno.test("render() shows the connection, the filters, and the footer of each mode", () => {
  const size = { columns: 120, rows: 10 };
  const lines = (s: TopState) => strip(render(s, size, NOW)).split("\n");
  assert.match(lines(state({ connected: true }))[0]!, / {2}connected$/);
  assert.match(
    lines(state({ problem: "Cannot reach edgevisor" }))[0]!,
    /disconnected, reconnecting… \(Cannot reach edgevisor\)$/,
  );
  const filtered = lines(state({ filter: "we", stateFilter: "running" }));
  assert.match(filtered[1]!, /· filter "we", state running: 1 of 5 shown$/);
  assert.match(filtered[3]!, /^> web /);
  assert.equal(filtered[4], "");
  assert.equal(lines(state({ editing: "cr" })).at(-1), "/cr_   Enter keep, Esc clear");
  assert.equal(
    lines(state({ confirm: "api" })).at(-1),
    "Stop api? y to confirm, any other key to cancel",
  );
  assert.equal(lines(state({ message: { text: "no", error: true } })).at(-1), "error: no");
  assert.equal(lines(state({ filter: "zzz" }))[3], "  no service matches the filter");
  assert.equal(lines({ ...initialState("u"), connected: true })[3], "  no services");
});

Deno.test("render() pages to keep the selection in view, and fits any size", () => {
  const many = Array.from({ length: 30 }, (_, i) => fakeStatus(`svc${String(i).padStart(2, "0")}`));
  const s = withServices(initialState("u"), many, NOW);
  const at = (selected: string) =>
    strip(render({ ...s, selected }, { columns: 80, rows: 14 }, NOW)).split("\n");
  assert.equal(pageRows({ columns: 80, rows: 14 }), 10);
  assert.match(at("svc00")[1]!, /rows 1-10 of 30$/);
  assert.match(at("svc00")[3]!, /^> svc00/);
  const second = at("svc12");
  assert.match(second[1]!, /rows 11-20 of 30$/);
  assert.match(second[3]!, /^ {2}svc10/);
  assert.match(second[5]!, /^> svc12/);
  for (
    const size of [{ columns: 20, rows: 5 }, { columns: 1, rows: 1 }, { columns: 200, rows: 3 }]
  ) {
    const screen = render({ ...state(), color: true }, size, NOW).split("\n");
    assert.ok(screen.length <= size.rows, JSON.stringify(size));
    for (const line of screen) assert.ok(visibleWidth(line) <= size.columns, line);
  }
});

Deno.test("render() colours only with colour on, and shows the selection in reverse video", () => {
  assert.equal(render(state(), { columns: 120, rows: 10 }, NOW).includes("\x1b"), false);
  const coloured = render({ ...state(), color: true }, { columns: 120, rows: 10 }, NOW);
  assert.ok(coloured.includes("\x1b[7m> crashy"), "selected row in reverse video");
  assert.ok(coloured.includes("\x1b[32mrunning\x1b[0m"), "states coloured");
  assert.ok(coloured.includes("\x1b[31m1 cooldown\x1b[0m"));
});

// ---------------------------------------------------------------------------
// runTop, not on a terminal

Deno.test("runTop() prints the table once, problems first, when not on a terminal", async () => {
  const control = new FakeControl(services());
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(control).fetch,
  );
  try {
    let out = "";
    const code = await runTop({
      client: new ApiClient(`http://127.0.0.1:${server.addr.port}`),
      isTerminal: false,
      stdout: (text) => (out += text),
    });
    assert.equal(code, 0);
    const rows = out.trimEnd().split("\n").map((line) => line.split(/\s+/)[0]);
    assert.deepEqual(rows, ["NAME", "crashy", "sick", "api", "idle", "web"]);
  } finally {
    await server.shutdown();
  }
});
