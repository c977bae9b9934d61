/// <reference lib="dom" />
/**
 * The logs section of the detail panel: the asked streams in time order,
 * each line with its time and stream, and a marker at each start and exit
 * of the service; it follows new lines (the log follow stream), searches
 * the loaded lines, and pauses when scrolled up.
 *
 * Following, the lines come from the follow stream (its backlog first) and
 * are placed by their time; the markers come from the logs API's `merged`,
 * asked again when the service changes state.
 *
 * @module
 */
import { pathOf } from "../api/paths.ts";
import type { LogsBody } from "../api/wire.ts";
import type { LogLines, LogStream } from "../types.ts";
import type { Api, EventStream } from "./api.ts";
import { formatClock } from "./clock.ts";
import { h } from "./dom.ts";
import {
  entriesOfAnswer,
  entriesOfLinesEvent,
  insertionIndex,
  type LogEntry,
  markerKey,
  markersOfAnswer,
} from "./logs.ts";

/** Lines asked for when the view opens (per stream). */
const BACKLOG = 500;

/** Lines kept in the view; older ones are dropped. */
const MAX_ENTRIES = 5000;

/** The logs section of the detail panel. */
export class LogView {
  /** The section, to put in the panel. */
  readonly root: HTMLElement;
  readonly #api: Api;
  readonly #stream = h(
    "select",
    { id: "log-stream" },
    h("option", { value: "both" }, "both"),
    h("option", { value: "stdout" }, "stdout"),
    h("option", { value: "stderr" }, "stderr"),
  );
  readonly #follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  readonly #search = h("input", {
    type: "search",
    id: "log-search",
    placeholder: "Search loaded lines",
    "aria-label": "Search loaded lines",
  });
  readonly #info = h("span", { id: "log-info", role: "status" });
  readonly #resume = h("button", { type: "button", id: "log-resume" });
  readonly #paused = h("div", { id: "log-paused", hidden: true }, this.#resume);
  readonly #lines = h("div", {
    id: "log-lines",
    tabindex: 0,
    role: "log",
    "aria-label": "Log lines",
  });
  #entries: { entry: LogEntry; node: HTMLElement }[] = [];
  #markers = new Set<string>();
  #name: string | null = null;
  #source: EventStream | null = null;
  #generation = 0;
  #openedAt = 0;
  #timed = false;
  #unseen = 0;
  #atBottom = true;
  #soon: ReturnType<typeof setTimeout> | undefined;

  /** An empty view; {@linkcode LogView.show} fills it. */
  constructor(api: Api) {
    this.#api = api;
    this.root = h(
      "section",
      { class: "logs", "aria-labelledby": "logs-title" },
      h(
        "div",
        { class: "logbar" },
        h("h3", { id: "logs-title" }, "Logs"),
        h("label", {}, "Stream ", this.#stream),
        h("label", {}, this.#follow, " Follow"),
        this.#search,
        this.#info,
      ),
      this.#paused,
      this.#lines,
    );
    this.#lines.addEventListener("scroll", () => {
      const lines = this.#lines;
      this.#atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
      if (this.#atBottom) this.#setUnseen(0);
    });
    this.#resume.addEventListener("click", () => {
      this.#toEnd();
      this.#lines.focus();
    });
    this.#stream.addEventListener("change", () => this.#load());
    this.#follow.addEventListener("change", () => this.#load());
    this.#search.addEventListener("input", () => {
      for (const { entry, node } of this.#entries) {
        node.classList.toggle("nomatch", !this.#matches(entry));
      }
      this.#count();
    });
  }

  /** Show the logs of `name` (null: stop and empty the view). */
  show(name: string | null): void {
    this.#name = name;
    this.#load();
  }

  /**
   * The service changed state: while following lines that carry their
   * times (markers need them), ask for new start and exit markers.
   */
  changed(): void {
    if (this.#source === null || !this.#timed) return;
    clearTimeout(this.#soon);
    this.#soon = setTimeout(() => void this.#loadMarkers(this.#generation, true), 300);
  }

  #load(): void {
    const generation = ++this.#generation;
    this.#timed = false;
    this.#source?.close();
    this.#source = null;
    clearTimeout(this.#soon);
    this.#clear();
    const name = this.#name;
    if (name === null) return;
    const stream = this.#stream.value as LogStream;
    if (!this.#follow.checked) {
      this.#info.textContent = "loading…";
      void this.#loadOnce(name, stream, generation);
      return;
    }
    this.#info.textContent = "connecting…";
    const source = this.#source = this.#api.stream(
      pathOf("logs", { name }, { stream, lines: BACKLOG, follow: 1 }),
    );
    source.onOpen(() => {
      // The backlog comes again after a reconnect: start over.
      this.#clear();
      this.#openedAt = Date.now();
      void this.#loadMarkers(generation, false);
    });
    source.on("lines", (data) => {
      const event = JSON.parse(data) as LogLines;
      if (event.at) this.#timed = true;
      this.#add(entriesOfLinesEvent(event));
    });
    source.on("ready", () => this.#count());
    source.on("error", (data) => {
      this.#info.textContent = (JSON.parse(data) as { error?: string }).error ?? "error";
    });
    source.onError(() => {
      if (generation !== this.#generation) return;
      this.#info.textContent = "disconnected, retrying…";
      // EventSource retries by itself; a closed stream does not.
      if (source.closed) {
        setTimeout(() => generation === this.#generation && this.#load(), 2000);
      }
    });
  }

  async #loadOnce(name: string, stream: LogStream, generation: number): Promise<void> {
    try {
      const { body } = await this.#api.json<LogsBody>(
        pathOf("logs", { name }, { stream, lines: BACKLOG }),
      );
      if (generation !== this.#generation) return;
      if (!body.ok) {
        this.#info.textContent = body.error;
        return;
      }
      this.#add(entriesOfAnswer(body));
    } catch (err) {
      if (generation === this.#generation) this.#info.textContent = (err as Error).message;
    }
  }

  /** The start and exit markers (since the view opened, with `recent`) of the logs API. */
  async #loadMarkers(generation: number, recent: boolean): Promise<void> {
    const name = this.#name;
    if (name === null) return;
    const since = recent ? new Date(this.#openedAt).toISOString() : undefined;
    try {
      const { body } = await this.#api.json<LogsBody>(
        // The first time, the markers of the lines shown; then only the new markers (no line read).
        pathOf("logs", { name }, {
          stream: this.#stream.value,
          lines: recent ? 0 : BACKLOG,
          since,
        }),
        { quiet: true },
      );
      if (generation === this.#generation && body.ok) this.#add(markersOfAnswer(body));
    } catch {
      // Not reachable now: the markers come with the next change.
    }
  }

  #clear(): void {
    this.#entries = [];
    this.#markers.clear();
    this.#lines.textContent = "";
    this.#atBottom = true;
    this.#setUnseen(0);
  }

  #matches(entry: LogEntry): boolean {
    const needle = this.#search.value.toLowerCase();
    return entry.kind === "marker" || needle === "" || entry.text.toLowerCase().includes(needle);
  }

  #node(entry: LogEntry): HTMLElement {
    const time = entry.time === null ? h("span", { class: "t" }) : h(
      "time",
      { class: "t", datetime: new Date(entry.time).toISOString() },
      formatClock(entry.time, true),
    );
    if (entry.kind === "marker") {
      return h(
        "div",
        { class: `m m-${entry.marker}` },
        time,
        h("span", { class: "x" }, entry.text),
      );
    }
    const node = h(
      "div",
      { class: entry.stream === "stderr" ? "l err" : "l" },
      time,
      h("span", { class: "s" }, entry.stream === "stderr" ? "err" : "out"),
      h("span", { class: "x" }, entry.text),
    );
    if (!this.#matches(entry)) node.classList.add("nomatch");
    return node;
  }

  /** Put `entries` in their place by time; markers already shown are left out. */
  #add(entries: LogEntry[]): void {
    let added = 0;
    let tail = document.createDocumentFragment();
    let tailEntries: { entry: LogEntry; node: HTMLElement }[] = [];
    const flush = () => {
      this.#lines.append(tail);
      this.#entries.push(...tailEntries);
      tail = document.createDocumentFragment();
      tailEntries = [];
    };
    for (const entry of entries) {
      if (entry.kind === "marker") {
        const key = markerKey(entry);
        if (this.#markers.has(key)) continue;
        this.#markers.add(key);
      }
      const node = this.#node(entry);
      const last = tailEntries.at(-1)?.entry ?? this.#entries.at(-1)?.entry;
      if (
        entry.time === null || last === undefined || last.time === null || last.time <= entry.time
      ) {
        tail.append(node);
        tailEntries.push({ entry, node });
      } else {
        flush();
        const index = insertionIndex(this.#entries.map((e) => e.entry), entry.time);
        this.#lines.insertBefore(node, this.#entries[index]?.node ?? null);
        this.#entries.splice(index, 0, { entry, node });
      }
      if (entry.kind === "line") added++;
    }
    flush();
    const excess = this.#entries.length - MAX_ENTRIES;
    if (excess > 0) {
      for (const { node } of this.#entries.splice(0, excess)) node.remove();
    }
    if (this.#atBottom) this.#lines.scrollTop = this.#lines.scrollHeight;
    else this.#setUnseen(this.#unseen + added);
    this.#count();
  }

  #setUnseen(count: number): void {
    this.#unseen = count;
    this.#paused.hidden = count === 0;
    this.#resume.textContent = `Paused: ${count} new line${
      count === 1 ? "" : "s"
    } — jump to the end`;
  }

  #toEnd(): void {
    this.#lines.scrollTop = this.#lines.scrollHeight;
    this.#atBottom = true;
    this.#setUnseen(0);
  }

  #count(): void {
    const state = this.#source ? "following" : "not following";
    const lines = this.#entries.filter((e) => e.entry.kind === "line");
    if (this.#search.value) {
      const shown = lines.filter((e) => !e.node.classList.contains("nomatch")).length;
      this.#info.textContent = `${state} · ${shown} of ${lines.length} lines match`;
    } else {
      this.#info.textContent = `${state} · ${lines.length} lines`;
    }
  }
}
