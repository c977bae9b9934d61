/// <reference lib="dom" />
/**
 * The page's way to the API: requests that carry the API token as
 * `Authorization: Bearer <token>` once there is one (asked for with
 * {@linkcode TokenForm} when the API answers 401), and event streams.
 *
 * `EventSource` cannot send headers, so with a token the event streams are
 * read with `fetch` ({@linkcode FetchSource}); without one, `EventSource`
 * (which reconnects by itself).
 *
 * @module
 */
import type { ErrorBody } from "../api/wire.ts";
import { SseParser } from "../sse_parser.ts";
import { storedToken, type TokenForm, type TokenReason } from "./token_form.ts";

/** An event stream: named events with their data, connection errors, and whether it ended. */
export interface EventStream {
  /** Call `listener` with the data of each event named `type`. */
  on(type: string, listener: (data: string) => void): void;
  /** Call `listener` each time the stream (re)opens. */
  onOpen(listener: () => void): void;
  /** Call `listener` when the connection fails or ends. */
  onError(listener: () => void): void;
  /** True once the stream will not reconnect by itself. */
  readonly closed: boolean;
  /** End the stream. */
  close(): void;
}

/** A JSON answer of the API: the response and its body (an error body when it was not JSON). */
export interface JsonAnswer<T> {
  /** The HTTP response (body consumed). */
  response: Response;
  /** The parsed body. */
  body: T | ErrorBody;
}

/** Requests to the API with the token, and event streams. */
export class Api {
  readonly #form: TokenForm;
  #declined = false;

  /** An API client that asks for the token with `form`. */
  constructor(form: TokenForm) {
    this.#form = form;
  }

  /** Whether the user cancelled the last question for the token. */
  get declined(): boolean {
    return this.#declined;
  }

  /** Ask for the token now; true once one is stored. */
  async askToken(reason: TokenReason = "needed"): Promise<boolean> {
    const given = await this.#form.ask(reason);
    this.#declined = !given;
    return given;
  }

  /**
   * `fetch(path)` with the token. On 401 the token is asked for (again,
   * when the one sent was refused) and the request sent once more, until
   * the user cancels; with `quiet`, not after the user has cancelled once.
   */
  async request(
    path: string,
    options: { method?: string; quiet?: boolean } = {},
  ): Promise<Response> {
    while (true) {
      const token = storedToken();
      const headers: Record<string, string> = { accept: "application/json" };
      if (token) headers.authorization = `Bearer ${token}`;
      const response = await fetch(path, {
        method: options.method ?? "GET",
        headers,
        cache: "no-store",
      });
      if (response.status !== 401 || (options.quiet && this.#declined)) return response;
      if (!await this.askToken(token ? "refused" : "needed")) return response;
      await response.body?.cancel();
    }
  }

  /** {@linkcode Api.request} and its JSON body; a body that is not JSON reads as an error. */
  async json<T>(
    path: string,
    options: { method?: string; quiet?: boolean } = {},
  ): Promise<JsonAnswer<T>> {
    const response = await this.request(path, options);
    const text = await response.text();
    try {
      return { response, body: JSON.parse(text) };
    } catch {
      return { response, body: { ok: false, error: `HTTP ${response.status}` } };
    }
  }

  /** Open an event stream: `EventSource`, or {@linkcode FetchSource} when there is a token to send. */
  stream(path: string): EventStream {
    const token = storedToken();
    return token ? new FetchSource(path, token) : new NativeSource(path);
  }
}

/** `EventSource` behind {@linkcode EventStream}. */
class NativeSource implements EventStream {
  readonly #source: EventSource;

  constructor(path: string) {
    this.#source = new EventSource(path);
  }

  on(type: string, listener: (data: string) => void): void {
    this.#source.addEventListener(type, (event) => {
      // A connection error is an "error" event too, without data.
      if (event instanceof MessageEvent) listener(String(event.data));
    });
  }

  onOpen(listener: () => void): void {
    this.#source.addEventListener("open", () => listener());
  }

  onError(listener: () => void): void {
    this.#source.addEventListener("error", (event) => {
      if (!(event instanceof MessageEvent)) listener();
    });
  }

  get closed(): boolean {
    return this.#source.readyState === EventSource.CLOSED;
  }

  close(): void {
    this.#source.close();
  }
}

/** An event stream read with `fetch`, to send the token as a header. It does not reconnect. */
class FetchSource implements EventStream {
  readonly #abort = new AbortController();
  readonly #listeners = new Map<string, ((data: string) => void)[]>();
  readonly #opened: (() => void)[] = [];
  readonly #failed: (() => void)[] = [];
  #closed = false;

  /** Open `path` with `token`. */
  constructor(path: string, token: string) {
    this.#read(path, token).catch(() => {
      if (this.#closed) return;
      this.#closed = true;
      for (const listener of this.#failed) listener();
    });
  }

  async #read(path: string, token: string): Promise<void> {
    const response = await fetch(path, {
      headers: { accept: "text/event-stream", authorization: `Bearer ${token}` },
      cache: "no-store",
      signal: this.#abort.signal,
    });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    for (const listener of this.#opened) listener();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    while (true) {
      const { done, value } = await reader.read();
      if (done) throw new Error("The stream ended");
      for (const { event, data } of parser.feed(value)) {
        for (const listener of this.#listeners.get(event) ?? []) listener(data);
      }
    }
  }

  on(type: string, listener: (data: string) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  onOpen(listener: () => void): void {
    this.#opened.push(listener);
  }

  onError(listener: () => void): void {
    this.#failed.push(listener);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
  }
}
