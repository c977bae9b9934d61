/**
 * `edgevisor top`: the services table of `edgevisor ls`, kept live from the
 * event stream (`GET /api/services/events`) on the alternate screen of a
 * terminal, problems first, with keys to move, filter, and start, stop or
 * restart the selected service. When standard input or output is not a
 * terminal, it prints the table once, as `ls` does.
 *
 * The decisions are pure and tested without a terminal: `eventStream` (of
 * `sse_reader.ts`) reads the stream, {@linkcode parseKeys} the key presses,
 * {@linkcode applyEvent} and {@linkcode press} make the next
 * {@linkcode TopState}, and {@linkcode render} draws it. {@linkcode runTop}
 * only carries them out: raw mode, redraws (at most ten a second, and on
 * `SIGWINCH`), the stream with its reconnections, the API calls; it leaves
 * the terminal as it found it on every way out.
 *
 * @module
 */
import { pathOf } from "../api/paths.ts";
import type { ServiceStatus } from "../types.ts";
import {
  compareServices,
  countByState,
  liveUptime,
  matchesFilter,
  type StateFilter,
  SUMMARY_ORDER,
} from "../status_view.ts";
import { type ApiClient, authorization } from "./client.ts";
import { fitWidth, formatServices, formatTable, SERVICE_COLUMNS, serviceRow } from "./format.ts";
import { writer } from "./io.ts";
import { eventStream, type SseMessage } from "./sse_reader.ts";

/** The text after the options in `edgevisor top --help`. */
export const TOP_HELP = `
Services are listed problems first: failed, cooldown, backoff, unhealthy,
then the others; by name within each group. The header counts them by state.

Keys:
  up/down, j/k       move the selection (PgUp/PgDn, Home/End or g/G: further)
  /                  filter by name, display name or reason; Enter keeps it, Esc clears it
  Tab                filter by state (each state present, then unhealthy, then all)
  s, x, r            start, stop (asks y to confirm), restart the selected service
  Esc                clear the filters
  q, Ctrl-C          quit

When standard output or input is not a terminal, top prints the table once,
as ls does, and exits.`;

// ---------------------------------------------------------------------------
// The event stream: read by `eventStream` of `sse_reader.ts`.

// ---------------------------------------------------------------------------
// Keys

/**
 * A key press: a printable character as itself, or the name of a special
 * key: `up`, `down`, `pageup`, `pagedown`, `home`, `end`, `enter`, `esc`,
 * `backspace`, `tab`, `ctrl-c`.
 */
export type Key = string;

const SEQUENCES: Record<string, Key> = {
  "\x1b[A": "up",
  "\x1bOA": "up",
  "\x1b[B": "down",
  "\x1bOB": "down",
  "\x1b[5~": "pageup",
  "\x1b[6~": "pagedown",
  "\x1b[H": "home",
  "\x1bOH": "home",
  "\x1b[1~": "home",
  "\x1b[7~": "home",
  "\x1b[F": "end",
  "\x1bOF": "end",
  "\x1b[4~": "end",
  "\x1b[8~": "end",
};

const CONTROLS: Record<string, Key> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\b": "backspace",
  "\t": "tab",
  "\x03": "ctrl-c",
};

/** A CSI or SS3 escape sequence at the start of the text. */
// deno-lint-ignore no-control-regex -- terminal input is made of control characters
const ESCAPE_SEQUENCE = /^\x1b(?:\[[0-9;?]*[\x40-\x7e]|O[\x40-\x7e])/;

/**
 * The keys in what a terminal in raw mode sent. A lone ESC is `esc`;
 * escape sequences of keys not listed in {@linkcode Key} and other control
 * characters are dropped.
 */
export function parseKeys(text: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  while (i < text.length) {
    const sequence = text[i] === "\x1b" ? ESCAPE_SEQUENCE.exec(text.slice(i))?.[0] : undefined;
    if (sequence !== undefined) {
      const key = SEQUENCES[sequence];
      if (key !== undefined) keys.push(key);
      i += sequence.length;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(i)!);
    i += char.length;
    if (char === "\x1b") keys.push("esc");
    else if (CONTROLS[char] !== undefined) keys.push(CONTROLS[char]);
    else if (char >= " ") keys.push(char);
  }
  return keys;
}

// ---------------------------------------------------------------------------
// The state of the screen

/** A service as last received, and when (milliseconds since the epoch). */
export interface TopEntry {
  /** Its status. */
  status: ServiceStatus;
  /** When the status arrived, for its uptime since. */
  receivedAt: number;
}

/** What the screen of `edgevisor top` shows. */
export interface TopState {
  /** Base URL of the API, shown in the header. */
  url: string;
  /** Colour the states (a terminal without `NO_COLOR`). */
  color: boolean;
  /** Every service by name. */
  services: ReadonlyMap<string, TopEntry>;
  /** Whether the event stream is open and has sent its snapshot. */
  connected: boolean;
  /** Why the stream is not open; null while connecting for the first time. */
  problem: string | null;
  /** Name of the selected service; the first row when null or filtered out. */
  selected: string | null;
  /** The text filter (see `matchesFilter`). */
  filter: string;
  /** The state filter, or null for every state. */
  stateFilter: StateFilter | null;
  /** The filter text being typed after `/`, or null when not typing. */
  editing: string | null;
  /** The service whose stop awaits a `y`, or null. */
  confirm: string | null;
  /** Feedback of the last action, or null. */
  message: { text: string; error: boolean } | null;
}

/** Size of the terminal in character cells. */
export interface ScreenSize {
  /** Columns. */
  columns: number;
  /** Rows. */
  rows: number;
}

/** What the shell must do after a key: quit, or call the API. */
export type TopEffect =
  | { type: "quit" }
  | { type: "action"; action: "start" | "stop" | "restart"; name: string };

/** The state before anything is received: no service, not connected, no filter. */
export function initialState(url: string, color = false): TopState {
  return {
    url,
    color,
    services: new Map(),
    connected: false,
    problem: null,
    selected: null,
    filter: "",
    stateFilter: null,
    editing: null,
    confirm: null,
    message: null,
  };
}

/** The state with `statuses` as the whole list of services, received at `now`. */
export function withServices(
  state: TopState,
  statuses: readonly ServiceStatus[],
  now: number,
): TopState {
  return {
    ...state,
    services: new Map(statuses.map((status) => [status.name, { status, receivedAt: now }])),
  };
}

/**
 * The state after one event of the stream, received at `now`: `snapshot`
 * replaces every service and marks the stream connected; any other event
 * that carries a `status` replaces that service. Anything else, and data
 * that is not JSON, changes nothing.
 */
export function applyEvent(state: TopState, message: SseMessage, now: number): TopState {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return state;
  }
  if (typeof data !== "object" || data === null) return state;
  if (message.event === "snapshot") {
    const { services } = data as { services?: unknown };
    if (!Array.isArray(services)) return state;
    return { ...withServices(state, services, now), connected: true, problem: null };
  }
  const { status } = data as { status?: Partial<ServiceStatus> };
  if (typeof status?.name !== "string") return state;
  const services = new Map(state.services);
  services.set(status.name, { status: status as ServiceStatus, receivedAt: now });
  return { ...state, services };
}

/** The services the table shows: problems first, then by name, through the filters. */
export function visibleEntries(state: TopState): TopEntry[] {
  const text = state.editing ?? state.filter;
  return [...state.services.values()]
    .filter((e) => matchesFilter(e.status, text, state.stateFilter))
    .sort((a, b) => compareServices(a.status, b.status));
}

/** Index of the selected row among `visible`: the first row when the selection is not shown. */
function selectedIndex(state: TopState, visible: readonly TopEntry[]): number {
  return Math.max(0, visible.findIndex((e) => e.status.name === state.selected));
}

/** Rows of services a screen of `size` has room for. */
export function pageRows(size: ScreenSize): number {
  return Math.max(1, size.rows - 4);
}

const VERBS = { start: "starting", stop: "stopping", restart: "restarting" } as const;

/**
 * The state after a key press, and what the shell must do. `pageRows` is
 * how far PgUp/PgDn move.
 */
export function press(
  state: TopState,
  key: Key,
  pageRows: number,
): { state: TopState; effect?: TopEffect } {
  if (key === "ctrl-c") return { state, effect: { type: "quit" } };
  if (state.confirm !== null) {
    const name = state.confirm;
    if (key !== "y" && key !== "Y") return { state: { ...state, confirm: null, message: null } };
    return {
      state: { ...state, confirm: null, message: { text: `stopping ${name}…`, error: false } },
      effect: { type: "action", action: "stop", name },
    };
  }
  if (state.editing !== null) {
    const editing = state.editing;
    if (key === "enter") return { state: { ...state, filter: editing.trim(), editing: null } };
    if (key === "esc") return { state: { ...state, filter: "", editing: null } };
    if (key === "backspace") {
      return { state: { ...state, editing: [...editing].slice(0, -1).join("") } };
    }
    if ([...key].length === 1) return { state: { ...state, editing: editing + key } };
    return { state };
  }
  const visible = visibleEntries(state);
  const index = selectedIndex(state, visible);
  const select = (i: number) => {
    const entry = visible[Math.min(Math.max(i, 0), visible.length - 1)];
    return { state: { ...state, selected: entry?.status.name ?? state.selected } };
  };
  const selected = visible[index]?.status.name;
  const act = (action: "start" | "stop" | "restart") =>
    selected === undefined ? { state } : {
      state: {
        ...state,
        selected,
        message: { text: `${VERBS[action]} ${selected}…`, error: false },
      },
      effect: { type: "action" as const, action, name: selected },
    };
  switch (key) {
    case "q":
      return { state, effect: { type: "quit" } };
    case "up":
    case "k":
      return select(index - 1);
    case "down":
    case "j":
      return select(index + 1);
    case "pageup":
      return select(index - pageRows);
    case "pagedown":
      return select(index + pageRows);
    case "home":
    case "g":
      return select(0);
    case "end":
    case "G":
      return select(visible.length - 1);
    case "/":
      return { state: { ...state, editing: state.filter, message: null } };
    case "esc":
      return { state: { ...state, filter: "", stateFilter: null, message: null } };
    case "tab": {
      const counts = countByState([...state.services.values()].map((e) => e.status));
      const choices = [null, ...SUMMARY_ORDER.filter((s) => counts[s] > 0)];
      const next = choices[(choices.indexOf(state.stateFilter) + 1) % choices.length] ?? null;
      return { state: { ...state, stateFilter: next } };
    }
    case "s":
      return act("start");
    case "r":
      return act("restart");
    case "x":
      return selected === undefined
        ? { state }
        : { state: { ...state, selected, confirm: selected, message: null } };
    default:
      return { state };
  }
}

// ---------------------------------------------------------------------------
// Drawing

const RED = "\x1b[31m";
const BOLD = "\x1b[1m";
const INVERSE = "\x1b[7m";
const RESET = "\x1b[0m";

/**
 * The screen for `state` on a terminal of `size` at time `now`: lines
 * joined with `\n`, none wider than the terminal, at most `size.rows` of
 * them. Two header lines (address and connection; counts by state and
 * filters), the table with a `>` before the selected row, and a last line
 * for the filter being typed, a confirmation, the last action's answer, or
 * the keys.
 */
export function render(state: TopState, size: ScreenSize, now: number = Date.now()): string {
  const paint = (text: string, style: string) =>
    state.color && style !== "" ? style + text + RESET : text;
  const statuses = [...state.services.values()].map((e) => e.status);
  const counts = countByState(statuses);
  const visible = visibleEntries(state);
  const height = pageRows(size);
  const index = selectedIndex(state, visible);
  const first = Math.floor(index / height) * height;
  const page = visible.slice(first, first + height);

  const connection = state.connected
    ? "connected"
    : state.problem === null
    ? "connecting…"
    : paint(`disconnected, reconnecting… (${state.problem})`, RED);
  const summary = SUMMARY_ORDER.filter((s) => counts[s] > 0)
    .map((s) =>
      paint(`${counts[s]} ${s}`, s === "unhealthy" || s === "failed" || s === "cooldown" ? RED : "")
    );
  const filters = [
    state.filter !== "" && state.editing === null ? `filter "${state.filter}"` : "",
    state.stateFilter !== null ? `state ${state.stateFilter}` : "",
  ].filter((f) => f !== "");
  const shown = [
    filters.length > 0 ? `${filters.join(", ")}: ${visible.length} of ${counts.total} shown` : "",
    visible.length > height ? `rows ${first + 1}-${first + page.length} of ${visible.length}` : "",
  ].filter((s) => s !== "");

  const lines = [
    `${paint("edgevisor top", BOLD)}  ${state.url}  ${connection}`,
    [
      `${counts.total} service${counts.total === 1 ? "" : "s"}${summary.length ? ":" : ""}`,
      summary.join(", "),
      shown.length > 0 ? `  · ${shown.join(" · ")}` : "",
    ].filter((p) => p !== "").join(" "),
  ];
  const table = formatTable([
    [...SERVICE_COLUMNS],
    ...page.map((e, i) => {
      const status = { ...e.status, uptime: liveUptime(e.status, now - e.receivedAt) ?? 0 };
      return serviceRow(status, { color: state.color && first + i !== index });
    }),
  ]).split("\n");
  lines.push(paint(`  ${table[0]}`, BOLD));
  page.forEach((_, i) => {
    const row = table[i + 1] ?? "";
    lines.push(first + i === index ? paint(`> ${row}`, INVERSE) : `  ${row}`);
  });
  if (visible.length === 0) {
    lines.push(
      counts.total > 0 ? "  no service matches the filter" : state.connected ? "  no services" : "",
    );
  }
  while (lines.length < size.rows - 1) lines.push("");
  lines.push(footer(state, paint));
  return lines.slice(0, size.rows).map((line) => fitWidth(line, size.columns)).join("\n");
}

function footer(state: TopState, paint: (text: string, style: string) => string): string {
  if (state.editing !== null) return `/${state.editing}_   Enter keep, Esc clear`;
  if (state.confirm !== null) return `Stop ${state.confirm}? y to confirm, any other key to cancel`;
  if (state.message !== null) {
    return state.message.error ? paint(`error: ${state.message.text}`, RED) : state.message.text;
  }
  return "j/k move  / filter  Tab state  s start  x stop  r restart  Esc clear  q quit";
}

// ---------------------------------------------------------------------------
// The terminal

/** Options of {@linkcode runTop}. */
export interface TopOptions {
  /** Client of the API. */
  client: ApiClient;
  /** API token sent with the event stream, as the client sends it. */
  token?: string;
  /** Whether standard output is a terminal (then standard input must be one too for the live view). */
  isTerminal: boolean;
  /** Colour the states. @default false */
  color?: boolean;
  /** Where the table goes when not on a terminal. */
  stdout(text: string): void;
}

/**
 * Run `edgevisor top` and resolve to its exit code. Throws what the client
 * throws when the API cannot be read at start (the caller reports it).
 */
export async function runTop(options: TopOptions): Promise<number> {
  const { services } = await options.client.list();
  if (!options.isTerminal || !Deno.stdin.isTerminal()) {
    options.stdout(formatServices(services, { color: options.color }) + "\n");
    return 0;
  }
  return await new TopScreen(options, services).run();
}

/** Milliseconds between two redraws at least. */
const FRAME_MS = 100;
/** Milliseconds without a byte (the server sends a heartbeat every 15 s) before the stream counts as lost. */
const IDLE_MS = 45_000;
/** Milliseconds before reconnecting, until the server's `retry:` says otherwise. */
const RETRY_MS = 1000;

const ENTER_SCREEN = "\x1b[?1049h\x1b[?25l"; // alternate screen, cursor hidden
const LEAVE_SCREEN = "\x1b[0m\x1b[?25h\x1b[?1049l"; // cursor shown, main screen back

/** The live view on a terminal. */
class TopScreen {
  readonly #client: ApiClient;
  readonly #headers: Record<string, string>;
  readonly #write = writer(Deno.stdout);
  readonly #stop = new AbortController();
  readonly #done = Promise.withResolvers<number>();
  #state: TopState;
  #retryMs = RETRY_MS;
  #lastDraw = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TopOptions, services: ServiceStatus[]) {
    this.#client = options.client;
    this.#headers = authorization(options.token);
    this.#state = withServices(
      initialState(options.client.baseUrl, options.color === true),
      services,
      Date.now(),
    );
  }

  async run(): Promise<number> {
    const redraw = () => this.#schedule();
    const quit = () => this.#done.resolve(0);
    const signals = ["SIGTERM", "SIGHUP", "SIGINT"] as const;
    const tick = setInterval(redraw, 1000); // uptimes
    Deno.stdin.setRaw(true);
    try {
      this.#write(ENTER_SCREEN);
      Deno.addSignalListener("SIGWINCH", redraw);
      for (const signal of signals) Deno.addSignalListener(signal, quit);
      this.#draw();
      this.#follow().catch((error) => this.#done.reject(error));
      this.#readKeys().catch((error) => this.#done.reject(error));
      return await this.#done.promise;
    } finally {
      this.#stop.abort();
      clearInterval(tick);
      clearTimeout(this.#timer);
      Deno.removeSignalListener("SIGWINCH", redraw);
      for (const signal of signals) Deno.removeSignalListener(signal, quit);
      try {
        Deno.stdin.setRaw(false);
        this.#write(LEAVE_SCREEN);
      } catch {
        // The terminal is gone (SIGHUP).
      }
    }
  }

  async #readKeys(): Promise<void> {
    const buffer = new Uint8Array(256);
    const decoder = new TextDecoder();
    while (!this.#stop.signal.aborted) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return this.#done.resolve(0);
      for (const key of parseKeys(decoder.decode(buffer.subarray(0, n), { stream: true }))) {
        const { state, effect } = press(this.#state, key, pageRows(this.#size()));
        this.#state = state;
        if (effect?.type === "quit") return this.#done.resolve(0);
        if (effect?.type === "action") void this.#act(effect.action, effect.name);
      }
      this.#schedule();
    }
  }

  async #act(action: "start" | "stop" | "restart", name: string): Promise<void> {
    let message: TopState["message"];
    try {
      const body = await (action === "start"
        ? this.#client.start(name)
        : action === "stop"
        ? this.#client.stop(name)
        : this.#client.restart(name));
      message = { text: body.message, error: false };
    } catch (error) {
      message = { text: error instanceof Error ? error.message : String(error), error: true };
    }
    this.#state = { ...this.#state, message };
    this.#schedule();
  }

  /** Follow the event stream, reconnecting whenever it drops, until the view closes. */
  async #follow(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let problem = "the event stream ended";
      try {
        await this.#stream();
      } catch (error) {
        if (signal.aborted) return;
        problem = error instanceof Error ? error.message : String(error);
      }
      this.#disconnected(problem);
      // The client says it better when the orchestrator is unreachable.
      await this.#client.health().catch((error) => this.#disconnected(error.message));
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, this.#retryMs);
        signal.addEventListener("abort", () => (clearTimeout(timer), resolve(undefined)));
      });
    }
  }

  #disconnected(problem: string): void {
    if (this.#stop.signal.aborted) return;
    this.#state = { ...this.#state, connected: false, problem };
    this.#schedule();
  }

  /** One connection to the event stream, until it ends, fails, or stays silent too long. */
  async #stream(): Promise<void> {
    const events = eventStream(`${this.#client.baseUrl}${pathOf("events")}`, {
      headers: this.#headers,
      signal: this.#stop.signal,
      idleMs: IDLE_MS,
      onRetry: (ms) => (this.#retryMs = ms),
    });
    for await (const message of events) {
      this.#state = applyEvent(this.#state, message, Date.now());
      this.#schedule();
    }
  }

  #size(): ScreenSize {
    try {
      return Deno.consoleSize();
    } catch {
      return { columns: 80, rows: 24 };
    }
  }

  /** Draw soon: at once if the last frame is old enough, else when it is. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#stop.signal.aborted) return;
    const wait = Math.max(0, this.#lastDraw + FRAME_MS - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        if (!this.#stop.signal.aborted) this.#draw();
      } catch (error) {
        this.#done.reject(error);
      }
    }, wait);
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    const screen = render(this.#state, this.#size());
    // Home, then each line cleared and written; what is below the last line cleared.
    this.#write(`\x1b[H${screen.split("\n").map((line) => `\x1b[2K${line}`).join("\r\n")}\x1b[J`);
  }
}
