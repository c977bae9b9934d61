/// <reference lib="dom" />
/**
 * The `/services` page as a whole: the event stream (a snapshot, then live
 * events; reconnects by itself, with a "disconnected" banner meanwhile),
 * the table, and the detail panel of the service named in the address
 * (`/services#NAME`, so that a reload keeps it open).
 *
 * @module
 */
import { pathOf } from "../api/paths.ts";
import type { ServiceStatus } from "../types.ts";
import { Api, type EventStream } from "./api.ts";
import { byId } from "./dom.ts";
import { DetailPanel } from "./detail.ts";
import { ServiceTable } from "./table.ts";
import { TokenForm } from "./token_form.ts";

/** Milliseconds before a closed event stream is opened again. */
const RECONNECT_MS = 2000;

/** An event of `GET /api/services/events`: the bus event, with the service's status after it. */
interface LiveEvent {
  type?: string;
  service?: string;
  status?: ServiceStatus;
}

/** The page: call {@linkcode ServicesPage.start} once the HTML is there. */
export class ServicesPage {
  readonly #api = new Api(new TokenForm());
  readonly #table = new ServiceTable({
    tbody: byId("rows", HTMLTableSectionElement),
    summary: byId("summary", HTMLElement),
    filter: byId("filter", HTMLInputElement),
    shown: byId("shown", HTMLElement),
  });
  readonly #detail = new DetailPanel(
    byId("detail", HTMLElement),
    this.#api,
    () => this.#closeDetail(),
  );
  readonly #conn = byId("conn", HTMLElement);
  readonly #banner = byId("banner", HTMLElement);
  readonly #bannerText = byId("banner-text", HTMLElement);
  readonly #bannerToken = byId("banner-token", HTMLButtonElement);
  #events: EventStream | null = null;
  #ready = false;

  /** Connect, and keep the page up to date from then on. */
  start(): void {
    this.#connected(false, "connecting…");
    this.#banner.hidden = true;
    addEventListener("hashchange", () => this.#followHash());
    this.#bannerToken.addEventListener("click", async () => {
      if (await this.#api.askToken()) this.#connect();
    });
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
        target instanceof HTMLTextAreaElement;
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        byId("filter", HTMLInputElement).focus();
      }
    });
    setInterval(() => {
      this.#table.tick();
      this.#detail.tick();
    }, 1000);
    this.#connect();
  }

  #connected(ok: boolean, text: string): void {
    this.#conn.textContent = text;
    this.#conn.className = ok ? "live" : "";
    document.body.dataset.connected = ok ? "1" : "0";
  }

  #connect(): void {
    this.#events?.close();
    const source = this.#events = this.#api.stream(pathOf("events"));
    source.onOpen(() => this.#online());
    source.on("snapshot", (data) => {
      this.#online();
      this.#snapshot((JSON.parse(data) as { services: ServiceStatus[] }).services);
    });
    const onEvent = (data: string) => this.#event(JSON.parse(data) as LiveEvent);
    for (const type of ["state", "health", "metrics", "message"]) source.on(type, onEvent);
    source.onError(() => {
      if (this.#events !== source) return;
      this.#connected(false, "disconnected");
      this.#bannerText.textContent = "Disconnected from the orchestrator; reconnecting…";
      this.#banner.hidden = false;
      // A closed stream (an error status) is not retried by the browser: start over, after
      // asking for the token if that is what is missing.
      if (!source.closed) return;
      const retry = () => {
        if (this.#events !== source) return;
        if (this.#api.declined) {
          this.#bannerText.textContent = "The orchestrator needs its API token.";
          this.#bannerToken.hidden = false;
          return;
        }
        setTimeout(() => this.#events === source && this.#connect(), RECONNECT_MS);
      };
      this.#api.request(pathOf("orchestrator"), { quiet: true }).then(retry, retry);
    });
  }

  #online(): void {
    this.#connected(true, "live");
    this.#banner.hidden = true;
    this.#bannerToken.hidden = true;
  }

  #snapshot(statuses: ServiceStatus[]): void {
    this.#table.replaceAll(statuses);
    const shown = this.#detail.name;
    if (shown !== null) {
      const received = this.#table.get(shown);
      if (received === undefined) {
        this.#closeDetail(); // The service is gone.
      } else {
        this.#detail.update(received);
        this.#detail.changed("state");
      }
    }
    if (!this.#ready) {
      this.#ready = true;
      performance.mark("edgevisor-first-snapshot");
      document.body.dataset.ready = "1";
      this.#followHash();
    }
  }

  #event(event: LiveEvent): void {
    const status = event.status;
    if (status === undefined) return;
    this.#table.update(status);
    if (status.name === this.#detail.name) {
      this.#detail.update(this.#table.get(status.name)!);
      if (event.type === "state" || event.type === "health") this.#detail.changed(event.type);
    }
  }

  /** Open the panel of the service the address names, or close it. */
  #followHash(): void {
    const name = decodeURIComponent(location.hash.slice(1));
    if (name === "" || this.#table.get(name) === undefined) {
      if (this.#detail.name !== null) this.#closeDetail();
      return;
    }
    this.#table.select(name);
    this.#detail.open(name, this.#table.get(name));
  }

  #closeDetail(): void {
    const name = this.#detail.name;
    this.#detail.close();
    this.#table.select(null);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    if (name !== null) this.#table.focus(name);
  }
}
