/// <reference lib="dom" />
/**
 * The services table of the page: one row per service, problems first
 * (`sortServices` of `src/status_view.ts`), the counts by state in the
 * header (each a button that filters the table), and the text filter.
 * Changes are drawn once per animation frame, however many events came.
 *
 * @module
 */
import type { ServiceStatus } from "../types.ts";
import {
  countByState,
  formatBytes,
  formatCpu,
  formatDuration,
  formatHealthWord,
  isProblem,
  isUnhealthy,
  LIVE_STATES,
  liveUptime,
  matchesFilter,
  PROBLEM_STATES,
  problemRank,
  sortServices,
  type StateCounts,
  type StateFilter,
  SUMMARY_ORDER,
} from "../status_view.ts";
import { h, setText } from "./dom.ts";

/** A status and when it was received (for the uptime that moves with the clock). */
export interface Received {
  /** The status. */
  status: ServiceStatus;
  /** `Date.now()` when it arrived. */
  receivedAt: number;
}

interface Row {
  tr: HTMLTableRowElement;
  link: HTMLAnchorElement;
  sub: HTMLElement;
  state: HTMLElement;
  health: HTMLElement;
  pid: HTMLElement;
  uptime: HTMLElement;
  restarts: HTMLElement;
  cpu: HTMLElement;
  rss: HTMLElement;
  reason: HTMLElement;
}

/** The elements of the page the table draws into. */
export interface TableElements {
  /** Body of the table. */
  tbody: HTMLTableSectionElement;
  /** Where the count buttons go. */
  summary: HTMLElement;
  /** The text filter. */
  filter: HTMLInputElement;
  /** Says how many services are shown when a filter is on. */
  shown: HTMLElement;
}

/** `#name`: the address of a service's detail panel. */
function serviceHash(name: string): string {
  return `#${encodeURIComponent(name)}`;
}

/**
 * What the reason column says: the health check's message for a service
 * that is unhealthy but not in a problem state (its `reason` tells of its
 * last transition only), else its `reason`.
 */
function reasonText(status: Pick<ServiceStatus, "status" | "reason" | "health">): string {
  if (isUnhealthy(status) && !PROBLEM_STATES.includes(status.status)) {
    return `unhealthy: ${status.health.message}`;
  }
  return status.reason ?? "";
}

/** The badge class of a health word. */
export function healthClass(word: string): string {
  return word === "-" ? "badge h-none" : `badge h-${word}`;
}

/** The services table. */
export class ServiceTable {
  readonly #el: TableElements;
  readonly #services = new Map<string, Received & { row: Row; dirty: boolean }>();
  readonly #buttons = new Map<StateFilter | "total", HTMLButtonElement>();
  #order: string[] = [];
  #stateFilter: StateFilter | null = null;
  #selected: string | null = null;
  #frame: number | null = null;
  #orderDirty = true;
  #lastCounts = "";

  /** A table drawn into `elements`. */
  constructor(elements: TableElements) {
    this.#el = elements;
    for (const key of ["total", ...SUMMARY_ORDER] as const) {
      const button = h("button", {
        type: "button",
        class: `count c-${key}`,
        "aria-pressed": "false",
        hidden: true,
      });
      button.addEventListener("click", () => this.#toggleState(key));
      this.#buttons.set(key, button);
      elements.summary.append(button);
    }
    elements.filter.addEventListener("input", () => this.#schedule());
  }

  /** The status of `name` and when it arrived, if the service is known. */
  get(name: string): Received | undefined {
    return this.#services.get(name);
  }

  /** Replace every service with `statuses` (a snapshot), and draw now. */
  replaceAll(statuses: readonly ServiceStatus[]): void {
    const names = new Set(statuses.map((s) => s.name));
    for (const [name, entry] of this.#services) {
      if (!names.has(name)) {
        entry.row.tr.remove();
        this.#services.delete(name);
        this.#orderDirty = true;
      }
    }
    for (const status of statuses) this.update(status);
    this.render();
  }

  /** A newer status of one service: drawn at the next frame. */
  update(status: ServiceStatus): void {
    let entry = this.#services.get(status.name);
    if (entry === undefined) {
      entry = { status, receivedAt: Date.now(), row: this.#row(status.name), dirty: true };
      this.#services.set(status.name, entry);
      this.#orderDirty = true;
    } else if (problemRank(entry.status) !== problemRank(status)) {
      this.#orderDirty = true;
    }
    entry.status = status;
    entry.receivedAt = Date.now();
    entry.dirty = true;
    this.#schedule();
  }

  /** Mark the row of `name` as the one open in the detail panel (null: none). */
  select(name: string | null): void {
    for (const key of [this.#selected, name]) {
      const row = key === null ? undefined : this.#services.get(key)?.row;
      if (row === undefined) continue;
      row.tr.classList.toggle("selected", key === name);
      if (key === name) row.link.setAttribute("aria-current", "true");
      else row.link.removeAttribute("aria-current");
    }
    this.#selected = name;
  }

  /** Focus the link of `name`'s row. */
  focus(name: string): void {
    this.#services.get(name)?.row.link.focus();
  }

  /** Move the figures that follow the clock: the uptime of live services. */
  tick(): void {
    const now = Date.now();
    for (const { status, receivedAt, row } of this.#services.values()) {
      if (LIVE_STATES.has(status.status)) {
        setText(row.uptime, formatDuration(liveUptime(status, now - receivedAt)));
      }
    }
  }

  /** Draw what changed: rows, order, filter, counts. */
  render(): void {
    if (this.#frame !== null) cancelAnimationFrame(this.#frame);
    this.#frame = null;
    const now = Date.now();
    for (const entry of this.#services.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      this.#draw(entry.row, entry.status, now - entry.receivedAt);
    }
    const statuses = [...this.#services.values()].map((e) => e.status);
    if (this.#orderDirty) {
      this.#orderDirty = false;
      const order = sortServices(statuses).map((s) => s.name);
      if (order.join("\n") !== this.#order.join("\n")) {
        this.#order = order;
        // Moving a row takes the keyboard focus from it: given back after the moves.
        const focused = document.activeElement;
        this.#el.tbody.append(...order.map((name) => this.#services.get(name)!.row.tr));
        if (
          focused instanceof HTMLElement && focused !== document.activeElement &&
          this.#el.tbody.contains(focused)
        ) focused.focus({ preventScroll: true });
      }
    }
    const text = this.#el.filter.value;
    let shown = 0;
    for (const { status, row } of this.#services.values()) {
      const visible = matchesFilter(status, text, this.#stateFilter);
      if (row.tr.hidden === visible) row.tr.hidden = !visible;
      if (visible) shown++;
    }
    const filtered = text.trim() !== "" || this.#stateFilter !== null;
    setText(
      this.#el.shown,
      statuses.length === 0
        ? "No services."
        : filtered
        ? `${shown} of ${statuses.length} shown`
        : "",
    );
    this.#drawCounts(countByState(statuses));
  }

  #schedule(): void {
    this.#frame ??= requestAnimationFrame(() => {
      this.#frame = null;
      this.render();
    });
  }

  #toggleState(key: StateFilter | "total"): void {
    this.#stateFilter = key === "total" || this.#stateFilter === key ? null : key;
    this.#lastCounts = "";
    this.render();
  }

  #drawCounts(counts: StateCounts): void {
    const key = JSON.stringify([counts, this.#stateFilter]);
    if (key === this.#lastCounts) return;
    this.#lastCounts = key;
    for (const [state, button] of this.#buttons) {
      const count = counts[state];
      const pressed = state === "total" ? this.#stateFilter === null : this.#stateFilter === state;
      button.hidden = state !== "total" && count === 0 && !pressed;
      button.setAttribute("aria-pressed", String(pressed));
      button.classList.toggle("some", count > 0);
      const label = state === "total" ? "all" : state;
      if (button.dataset.count !== String(count)) {
        button.dataset.count = String(count);
        button.replaceChildren(h("span", { class: "n" }, String(count)), ` ${label}`);
      }
    }
  }

  #row(name: string): Row {
    const link = h("a", { href: serviceHash(name) });
    const sub = h("small");
    const cell = (cls: string, ...children: Node[]) => h("td", { class: cls }, ...children);
    const row: Row = {
      tr: h("tr", { "data-name": name }),
      link,
      sub,
      state: h("span"),
      health: h("span"),
      pid: cell("num c-pid"),
      uptime: cell("num c-up"),
      restarts: cell("num c-rs"),
      cpu: cell("num c-cpu"),
      rss: cell("num c-rss"),
      reason: cell("c-why"),
    };
    row.tr.append(
      h("th", { scope: "row", class: "name" }, link, sub),
      cell("c-st", row.state),
      cell("c-hl", row.health),
      row.pid,
      row.uptime,
      row.restarts,
      row.cpu,
      row.rss,
      row.reason,
    );
    row.tr.addEventListener("click", (event) => {
      if (!(event.target instanceof HTMLAnchorElement)) location.hash = serviceHash(name);
    });
    return row;
  }

  #draw(row: Row, st: ServiceStatus, elapsedMs: number): void {
    setText(row.link, st.display_name || st.name);
    setText(row.sub, st.display_name && st.display_name !== st.name ? st.name : "");
    setText(row.state, st.status);
    row.state.className = `badge s-${st.status}`;
    const health = formatHealthWord(st.health);
    setText(row.health, health);
    row.health.className = healthClass(health);
    row.tr.classList.toggle("problem", isProblem(st));
    setText(row.pid, st.pid === null ? "-" : String(st.pid));
    setText(row.uptime, formatDuration(liveUptime(st, elapsedMs)));
    setText(
      row.restarts,
      st.crash_count ? `${st.restarts} / ${st.crash_count}` : String(st.restarts),
    );
    setText(row.cpu, formatCpu(st.cpu_percent));
    setText(row.rss, formatBytes(st.memory_rss_bytes));
    const reason = reasonText(st);
    setText(row.reason, reason);
    if (row.reason.title !== reason) row.reason.title = reason;
  }
}
