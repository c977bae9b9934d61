/// <reference lib="dom" />
/**
 * The detail panel of one service: its name and badges, the actions (start,
 * stop after a confirmation, restart), the full status, the history and
 * the logs. It opens beside the table (over it on a phone).
 *
 * @module
 */
import { pathOf } from "../api/paths.ts";
import type { ActionBody } from "../api/wire.ts";
import type { ServiceStatus } from "../types.ts";
import {
  formatBytes,
  formatCpu,
  formatDuration,
  formatHealthWord,
  LIVE_STATES,
  liveUptime,
  WAITING_STATES,
} from "../status_view.ts";
import type { Api } from "./api.ts";
import { formatClock, parseTime } from "./clock.ts";
import { h, setText } from "./dom.ts";
import { HistoryView } from "./history_view.ts";
import { LogView } from "./log_view.ts";
import { healthClass, type Received } from "./table.ts";

type Action = "start" | "stop" | "restart";

const VERB: Record<Action, string> = {
  start: "Starting",
  stop: "Stopping",
  restart: "Restarting",
};

/** A time of the status as `HH:MM:SS` (the full date in the tooltip is not needed here), or `-`. */
function clockOf(at: string | null | undefined): string {
  const ms = parseTime(at);
  return ms === null ? "-" : formatClock(ms);
}

/** The status fields of the panel: label and text, or null to leave the field out. */
function statusFields(st: ServiceStatus, elapsedMs: number): [string, string | null][] {
  const exit = st.last_exit;
  const health = st.health;
  const next = parseTime(st.next_restart_at);
  return [
    ["Reason", st.reason],
    [
      "Health",
      `${formatHealthWord(health)}${
        health.message && health.message !== "no check" ? ` (${health.message})` : ""
      }`,
    ],
    ["Last check", health.last_checked ? clockOf(health.last_checked) : null],
    [
      "Failed checks",
      health.consecutive_failures ? String(health.consecutive_failures) : null,
    ],
    ["PID", st.pid === null ? "-" : String(st.pid)],
    ["Uptime", formatDuration(liveUptime(st, elapsedMs))],
    ["Started at", st.started_at ? clockOf(st.started_at) : null],
    [
      "Next start",
      WAITING_STATES.has(st.status) && next !== null
        ? `in ${Math.max(0, (next - Date.now()) / 1000).toFixed(1)} s (${formatClock(next)})`
        : null,
    ],
    ["Restarts", String(st.restarts)],
    ["Crashes", String(st.crash_count)],
    [
      "Last exit",
      exit
        ? `${exit.code !== null ? `code ${exit.code}` : exit.signal ?? "signal"} at ${
          clockOf(exit.at)
        }`
        : null,
    ],
    ["Last restart", st.last_restart ? clockOf(st.last_restart) : null],
    ["CPU", formatCpu(st.cpu_percent)],
    ["RSS", formatBytes(st.memory_rss_bytes)],
    ["Threads", st.threads === null ? "-" : String(st.threads)],
    ["CPU time", `${st.cpu_seconds.toFixed(1)} s`],
    ["Restart policy", st.restart_policy],
    ["Autostart", st.autostart ? "yes" : "no"],
    ["Kind", st.kind],
    ["Next run", st.next_run_at ? clockOf(st.next_run_at) : null],
    ["Port", st.port === null ? null : String(st.port)],
    [
      "Health check",
      st.health_check === null
        ? null
        : typeof st.health_check === "string"
        ? st.health_check
        : st.health_check.type,
    ],
    ["Type", st.type],
    ["Description", st.description],
  ];
}

/** The detail panel. */
export class DetailPanel {
  readonly #root: HTMLElement;
  readonly #api: Api;
  readonly #title = h("h2", { id: "detail-title", tabindex: -1 });
  readonly #state = h("span");
  readonly #health = h("span");
  readonly #buttons: Record<Action, HTMLButtonElement>;
  readonly #confirm = h("div", { class: "confirm", hidden: true });
  readonly #message = h("p", { class: "msg", role: "status" });
  readonly #fields = h("dl", { class: "fields" });
  readonly #history: HistoryView;
  readonly #logs: LogView;
  #name: string | null = null;
  #received: Received | undefined;
  #busy = false;

  /** A closed panel in `root`; `onClose` is called when the user closes it. */
  constructor(root: HTMLElement, api: Api, onClose: () => void) {
    this.#root = root;
    this.#api = api;
    this.#history = new HistoryView(api);
    this.#logs = new LogView(api);
    const button = (action: Action, text: string, cls = "") => {
      const b = h("button", { type: "button", class: cls, "data-action": action }, text);
      b.addEventListener(
        "click",
        () => action === "stop" ? this.#askStop() : void this.#act(action),
      );
      return b;
    };
    this.#buttons = {
      start: button("start", "Start"),
      stop: button("stop", "Stop", "danger"),
      restart: button("restart", "Restart"),
    };
    const close = h(
      "button",
      { type: "button", class: "close", "aria-label": "Close the details" },
      "Close",
    );
    close.addEventListener("click", onClose);
    root.append(
      h(
        "div",
        { class: "dhead" },
        this.#title,
        h("div", { class: "badges" }, this.#state, this.#health),
        close,
      ),
      h(
        "div",
        { class: "actions" },
        this.#buttons.start,
        this.#buttons.stop,
        this.#buttons.restart,
      ),
      this.#confirm,
      this.#message,
      h(
        "section",
        { "aria-labelledby": "status-title" },
        h("h3", { id: "status-title" }, "Status"),
        this.#fields,
      ),
      this.#history.root,
      this.#logs.root,
    );
    root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      // Escape in a search box with text clears the text first.
      if (event.target instanceof HTMLInputElement && event.target.value) return;
      if (!this.#confirm.hidden) this.#hideConfirm(true);
      else onClose();
    });
  }

  /** The name of the service shown, or null when closed. */
  get name(): string | null {
    return this.#name;
  }

  /** Open the panel on `name` (its last status in `received`) and move the focus to its title. */
  open(name: string, received: Received | undefined): void {
    if (this.#name !== name) {
      this.#name = name;
      this.#message.textContent = "";
      this.#message.className = "msg";
      this.#hideConfirm(false);
      this.#received = received;
      this.#history.show(name);
      this.#logs.show(name);
      this.#draw();
    }
    this.#root.hidden = false;
    this.#title.focus();
  }

  /** Close the panel: its streams and timers stop. */
  close(): void {
    this.#name = null;
    this.#received = undefined;
    this.#history.show(null);
    this.#logs.show(null);
    this.#root.hidden = true;
  }

  /** A newer status of the service shown. */
  update(received: Received): void {
    if (received.status.name !== this.#name) return;
    this.#received = received;
    this.#draw();
  }

  /** An event of the service shown (a state or health change): its history and markers may have grown. */
  changed(type: string): void {
    this.#history.changed();
    if (type === "state") this.#logs.changed();
  }

  /** Move the fields that follow the clock. */
  tick(): void {
    if (this.#name !== null) this.#drawFields();
  }

  #draw(): void {
    const st = this.#received?.status;
    const name = this.#name;
    if (name === null) return;
    const title = st && st.display_name && st.display_name !== name
      ? [st.display_name, " ", h("small", {}, name)]
      : [name];
    this.#title.replaceChildren(...title);
    setText(this.#state, st?.status ?? "unknown");
    this.#state.className = `badge s-${st?.status ?? "stopped"}`;
    const health = st ? formatHealthWord(st.health) : "-";
    setText(this.#health, health === "-" ? "no check" : health);
    this.#health.className = healthClass(health);
    for (const action of ["start", "stop", "restart"] as const) {
      this.#buttons[action].setAttribute(
        "aria-label",
        `${this.#buttons[action].textContent} ${name}`,
      );
    }
    const live = st !== undefined && LIVE_STATES.has(st.status);
    const waiting = st !== undefined && WAITING_STATES.has(st.status);
    this.#buttons.start.disabled = this.#busy || live;
    this.#buttons.stop.disabled = this.#busy || !(live || waiting);
    this.#buttons.restart.disabled = this.#busy;
    this.#drawFields();
  }

  #drawFields(): void {
    const received = this.#received;
    if (received === undefined) {
      this.#fields.replaceChildren();
      return;
    }
    const fields = statusFields(received.status, Date.now() - received.receivedAt)
      .filter((f): f is [string, string] => f[1] !== null);
    const existing = this.#fields.children;
    if (
      existing.length === fields.length * 2 &&
      fields.every(([label], i) => existing[i * 2]!.textContent === label)
    ) {
      fields.forEach(([, text], i) => setText(existing[i * 2 + 1]!, text));
      return;
    }
    this.#fields.replaceChildren(
      ...fields.flatMap((
        [label, text],
      ) => [h("dt", {}, label), h("dd", { class: label === "Reason" ? "reason" : "" }, text)]),
    );
  }

  #say(text: string, isError: boolean): void {
    this.#message.textContent = text;
    this.#message.className = isError ? "msg error" : "msg";
    this.#message.setAttribute("role", isError ? "alert" : "status");
  }

  #askStop(): void {
    const name = this.#name;
    if (name === null) return;
    const label = this.#received?.status.display_name || name;
    const yes = h("button", { type: "button", class: "danger" }, `Yes, stop ${name}`);
    const no = h("button", { type: "button" }, "Cancel");
    yes.addEventListener("click", () => {
      this.#hideConfirm(false);
      void this.#act("stop");
    });
    no.addEventListener("click", () => this.#hideConfirm(true));
    this.#confirm.replaceChildren(
      h(
        "p",
        { id: "confirm-text" },
        `Stop ${label} (${name})? Its processes are sent the stop signal.`,
      ),
      h("div", { class: "actions" }, yes, no),
    );
    this.#confirm.setAttribute("role", "group");
    this.#confirm.setAttribute("aria-labelledby", "confirm-text");
    this.#confirm.hidden = false;
    no.focus();
  }

  #hideConfirm(refocus: boolean): void {
    this.#confirm.hidden = true;
    this.#confirm.replaceChildren();
    if (refocus) this.#buttons.stop.focus();
  }

  async #act(action: Action): Promise<void> {
    const name = this.#name;
    if (name === null) return;
    const label = this.#received?.status.display_name || name;
    const button = this.#buttons[action];
    this.#busy = true;
    this.#say(`${VERB[action]} ${label}…`, false);
    this.#draw();
    try {
      const { body } = await this.#api.json<ActionBody>(pathOf(action, { name }), {
        method: "POST",
      });
      if (this.#name !== name) return;
      if (body.ok) {
        this.#say(body.message || "Done", false);
        this.update({ status: body, receivedAt: Date.now() });
      } else {
        this.#say(body.error || "The request failed", true);
      }
    } catch (err) {
      if (this.#name === name) {
        this.#say(`Cannot reach the orchestrator: ${(err as Error).message}`, true);
      }
    } finally {
      this.#busy = false;
      if (this.#name === name) this.#draw();
      if (document.activeElement === document.body) button.focus();
    }
  }
}
