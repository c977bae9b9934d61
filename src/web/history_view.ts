/// <reference lib="dom" />
/**
 * The history section of the detail panel: a chart of CPU and one of RSS
 * over the last hour (with axes, units and a mark at each exit), and the
 * timeline of the last events, newest first. Read from
 * `GET /api/services/history/{name}`; an orchestrator without that
 * endpoint leaves the section hidden.
 *
 * @module
 */
import { pathOf } from "../api/paths.ts";
import type { HistoryBody } from "../api/wire.ts";
import type { HistoryEvent } from "../types.ts";
import { formatBytes, formatCpu } from "../status_view.ts";
import type { Api } from "./api.ts";
import {
  byteTicks,
  CHART_WINDOW_MS,
  niceTicks,
  type PlotBox,
  seriesRuns,
  timeTicks,
  timeX,
} from "./chart.ts";
import { formatClock, formatHourMinute, parseTime } from "./clock.ts";
import { h, svg } from "./dom.ts";
import { describeEvent } from "./history.ts";

/** Seconds between two loads while the section is shown: one point of the series. */
const REFRESH_MS = 10_000;

/** Height of a chart in CSS pixels. */
const CHART_HEIGHT = 128;

/** One chart to draw. */
interface ChartSpec {
  /** What the line is, for people: `CPU` or `RSS`. */
  label: string;
  /** The points, oldest first; null where there was no sample. */
  values: readonly (number | null)[];
  /** Seconds between two points. */
  stepSeconds: number;
  /** End of the last point, ms since the epoch. */
  endMs: number;
  /** Axis ticks for the highest value. */
  ticks: (max: number) => number[];
  /** A value as text, in the summary. */
  format: (value: number) => string;
  /** A tick of the axis as text. */
  axis: (tick: number) => string;
  /** Times of the exits of the service (ms), marked on the chart. */
  exits: readonly { ms: number; text: string }[];
  /** CSS class of the line: `cpu` or `rss`. */
  kind: string;
}

/** An SVG chart of `spec`, `width` pixels wide. */
function drawChart(spec: ChartSpec, width: number): SVGSVGElement {
  const box: PlotBox = { left: 56, top: 8, width: width - 56 - 12, height: CHART_HEIGHT - 8 - 22 };
  const present = spec.values.filter((v): v is number => v !== null);
  const ticks = spec.ticks(Math.max(0, ...present));
  const yMax = ticks.at(-1)!;
  const last = present.at(-1);
  const peak = present.length ? Math.max(...present) : undefined;
  const summary = last === undefined
    ? `${spec.label} over the last hour: no samples`
    : `${spec.label} over the last hour: now ${spec.format(last)}, highest ${spec.format(peak!)}`;
  const chart = svg("svg", {
    class: `chart ${spec.kind}`,
    width,
    height: CHART_HEIGHT,
    viewBox: `0 0 ${width} ${CHART_HEIGHT}`,
    role: "img",
    "aria-label": summary,
  });
  const bottom = box.top + box.height;
  for (const tick of ticks) {
    const y = box.top + box.height * (1 - tick / yMax);
    chart.append(
      svg("line", { class: "grid", x1: box.left, x2: box.left + box.width, y1: y, y2: y }),
      svg(
        "text",
        { class: "axis", x: box.left - 6, y: y + 4, "text-anchor": "end" },
        spec.axis(tick),
      ),
    );
  }
  for (const t of timeTicks(spec.endMs)) {
    const x = timeX(t, spec.endMs, box)!;
    const anchor = x > box.left + box.width - 20 ? "end" : "middle";
    chart.append(
      svg("line", { class: "grid", x1: x, x2: x, y1: box.top, y2: bottom }),
      svg("text", { class: "axis", x, y: bottom + 16, "text-anchor": anchor }, formatHourMinute(t)),
    );
  }
  for (const exit of spec.exits) {
    const x = timeX(exit.ms, spec.endMs, box);
    if (x === null) continue;
    chart.append(
      svg(
        "line",
        { class: "exit", x1: x, x2: x, y1: box.top, y2: bottom },
        svg("title", {}, `${formatClock(exit.ms)} ${exit.text}`),
      ),
    );
  }
  const runs = seriesRuns(spec.values, {
    stepMs: spec.stepSeconds * 1000,
    yMax,
    box,
  });
  for (const run of runs) {
    const line = run.map(([x, y], i) => `${i ? "L" : "M"}${x} ${y}`).join(" ");
    const first = run[0]!;
    const end = run.at(-1)!;
    chart.append(
      svg("path", { class: "area", d: `${line} L${end[0]} ${bottom} L${first[0]} ${bottom} Z` }),
      run.length === 1
        ? svg("circle", { class: "dot", cx: first[0], cy: first[1], r: 2 })
        : svg("path", { class: "line", d: line }),
    );
  }
  chart.append(
    svg("line", { class: "axisline", x1: box.left, x2: box.left, y1: box.top, y2: bottom }),
    svg("line", {
      class: "axisline",
      x1: box.left,
      x2: box.left + box.width,
      y1: bottom,
      y2: bottom,
    }),
  );
  return chart;
}

/** The timeline entry of one event. */
function timelineItem(event: HistoryEvent): HTMLLIElement {
  const wording = describeEvent(event);
  const ms = parseTime(event.at);
  return h(
    "li",
    { class: `t-${wording.tone}` },
    h(
      "time",
      { datetime: event.at, title: ms === null ? event.at : new Date(ms).toString() },
      ms === null ? event.at : formatClock(ms),
    ),
    h("span", { class: "tag" }, wording.label),
    h("span", { class: "what" }, wording.text),
  );
}

/** The history section of the detail panel. */
export class HistoryView {
  /** Set once the orchestrator answered 501: it keeps no history; not asked again. */
  static #missing = false;
  /** The section, to put in the panel. */
  readonly root: HTMLElement;
  readonly #api: Api;
  readonly #charts = h("div", { class: "charts" });
  readonly #timeline = h("ol", {
    class: "timeline",
    "aria-label": "Events, newest first",
    tabindex: 0,
  });
  readonly #note = h("p", { class: "note" });
  #name: string | null = null;
  #body: HistoryBody | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;
  #width = 0;

  /** A hidden section; {@linkcode HistoryView.show} fills it. */
  constructor(api: Api) {
    this.#api = api;
    this.root = h(
      "section",
      { class: "history", "aria-labelledby": "history-title", hidden: true },
      h("h3", { id: "history-title" }, "History"),
      this.#charts,
      h("h4", {}, "Events"),
      this.#note,
      this.#timeline,
    );
    new ResizeObserver(() => {
      const width = Math.floor(this.#charts.clientWidth);
      if (width !== this.#width) this.#draw();
    }).observe(this.#charts);
  }

  /** Show the history of `name` (null: none), loaded now and every 10 s. */
  show(name: string | null): void {
    this.#name = name;
    this.#body = null;
    this.#generation++;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    this.root.hidden = true;
    // Nothing of the service shown before stays, not even hidden.
    this.#charts.replaceChildren();
    this.#timeline.replaceChildren();
    if (name === null || HistoryView.#missing) return;
    void this.#load();
    this.#timer = setInterval(() => void this.#load(), REFRESH_MS);
  }

  /** Something happened to the service: load again shortly (many events make one load). */
  changed(): void {
    if (this.#name === null || HistoryView.#missing) return;
    clearTimeout(this.#soon);
    this.#soon = setTimeout(() => void this.#load(), 300);
  }

  async #load(): Promise<void> {
    const name = this.#name;
    const generation = this.#generation;
    if (name === null) return;
    let answer;
    try {
      answer = await this.#api.json<HistoryBody>(pathOf("history", { name }), { quiet: true });
    } catch {
      return; // Not reachable: the connection banner says so; the last history stays.
    }
    if (generation !== this.#generation) return;
    if (!answer.body.ok) {
      // An orchestrator without history (501) has nothing to show, now or later.
      if (answer.response.status === 501) {
        HistoryView.#missing = true;
        clearInterval(this.#timer);
      }
      this.#body = null;
      this.root.hidden = true;
      return;
    }
    this.#body = answer.body;
    this.root.hidden = false;
    this.#draw();
  }

  #draw(): void {
    const body = this.#body;
    this.#width = Math.floor(this.#charts.clientWidth);
    if (body === null || this.#width === 0) return;
    const endMs = parseTime(body.series.end) ?? Date.now();
    const exits = body.events.flatMap((event) => {
      const ms = parseTime(event.at);
      return event.type === "exit" && ms !== null ? [{ ms, text: describeEvent(event).text }] : [];
    });
    const common = { stepSeconds: body.series.step, endMs, exits };
    const width = Math.max(240, this.#width);
    this.#charts.replaceChildren(
      h("h4", {}, "CPU, % of one core"),
      drawChart({
        ...common,
        label: "CPU",
        kind: "cpu",
        values: body.series.cpu_percent,
        ticks: (max) => niceTicks(max),
        format: formatCpu,
        axis: (tick) => `${tick}%`,
      }, width),
      h("h4", {}, "Memory (RSS)"),
      drawChart({
        ...common,
        label: "RSS",
        kind: "rss",
        values: body.series.memory_rss_bytes,
        ticks: (max) => byteTicks(max),
        format: formatBytes,
        axis: (tick) => formatBytes(tick).replace(/\.0(?=[KMGT])/, ""),
      }, width),
      h(
        "p",
        { class: "legend" },
        `The last ${CHART_WINDOW_MS / 60_000} minutes; a red mark is an exit.`,
      ),
    );
    this.#note.textContent = body.events.length === 0 ? "No events yet." : "";
    this.#note.hidden = body.events.length > 0;
    this.#timeline.replaceChildren(...body.events.toReversed().map(timelineItem));
  }
}
