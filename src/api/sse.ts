/**
 * Server-Sent Events of the API: the live service events
 * (`GET /api/services/events`) and log following
 * (`GET /api/services/logs/:name?follow=1`).
 *
 * Every stream starts with a `retry` hint, sends a heartbeat comment while
 * idle, and ends when the client goes away, when its buffer grows past a
 * bound (a client that does not read; it reconnects and gets a fresh
 * snapshot), or when the app is closing.
 *
 * @module
 */

import type { LogStream, ServiceControl, ServiceStatus, SupervisorEvent } from "../types.ts";
import { NotImplementedError } from "../errors.ts";
import { errorAnswer } from "./error_status.ts";

/** Options of {@linkcode liveAnswers}. */
export interface LiveOptions {
  /**
   * Milliseconds between heartbeat comments on an idle stream.
   * @default {15_000}
   */
  heartbeatMs?: number;
  /**
   * Bytes a stream may hold for a client that does not read before it is closed.
   * @default {1_048_576}
   */
  maxBufferedBytes?: number;
  /** Aborted when the server shuts down: every open stream ends. */
  signal?: AbortSignal;
  /**
   * Milliseconds between two looks at every status, while event streams are
   * open, for the `health` and `metrics` events of changes the event bus does not carry.
   * @default {1000}
   */
  statusPollMs?: number;
}

/** Milliseconds a browser waits before reconnecting, sent as `retry:`. */
const RETRY_MS = 1000;

const encoder = new TextEncoder();

/** Headers of every event stream. */
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** The answer to HEAD: the headers of a stream, and no stream to leave open. */
const head = () => new Response(null, { headers: SSE_HEADERS });

/** One open event stream: a response body fed with events and heartbeats. */
export class SseChannel {
  readonly #controller: ReadableStreamDefaultController<Uint8Array>;
  readonly #abort = new AbortController();
  readonly #maxBuffered: number;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #pulled: (() => void) | undefined;
  #nextId = 1;
  /** The response to return to the client. */
  readonly response: Response;

  /** Open a stream; it ends when any of `signals` is aborted or the client goes away. */
  constructor(options: { heartbeatMs: number; maxBufferedBytes: number; signals: AbortSignal[] }) {
    this.#maxBuffered = options.maxBufferedBytes;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      pull: () => {
        this.#pulled?.();
        this.#pulled = undefined;
      },
      cancel: () => this.close(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 65_536 }));
    this.#controller = controller;
    this.response = new Response(body, { headers: SSE_HEADERS });
    for (const signal of options.signals) {
      if (signal.aborted) this.close();
      else signal.addEventListener("abort", () => this.close(), { once: true });
    }
    this.#write(`retry: ${RETRY_MS}\n\n`);
    this.#heartbeat = setInterval(() => this.#write(": heartbeat\n\n"), options.heartbeatMs);
  }

  /** Aborted once the stream has ended. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Send one event with JSON data; false once the stream has ended. */
  send(event: string, data: unknown): boolean {
    return this.#write(`id: ${this.#nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /**
   * Send one event whose `data` object many streams send unchanged (a batch
   * of a shared log reader): its text is encoded once, on its first send,
   * and the bytes are shared. `data` must not change afterwards.
   */
  sendShared(event: string, data: object): boolean {
    let byEvent = SseChannel.#encoded.get(data);
    if (byEvent === undefined) SseChannel.#encoded.set(data, byEvent = new Map());
    let bytes = byEvent.get(event);
    if (bytes === undefined) {
      byEvent.set(
        event,
        bytes = encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      );
    }
    return this.#write(`id: ${this.#nextId++}\n`) && this.#enqueue(bytes);
  }

  /** The encoded events of {@linkcode SseChannel.sendShared}, while their data lives. */
  static readonly #encoded = new WeakMap<object, Map<string, Uint8Array>>();

  /** Resolves once the client has room for more, or the stream has ended. */
  ready(): Promise<void> {
    const size = this.#controller.desiredSize;
    if (this.#abort.signal.aborted || size === null || size > 0) return Promise.resolve();
    // Resolved by the next pull, or by close().
    return new Promise((resolve) => (this.#pulled = resolve));
  }

  /** End the stream. Safe to call more than once. */
  close(): void {
    this.#end(() => this.#controller.close());
  }

  /**
   * End the stream at once, dropping what the client has not taken: the
   * HTTP server closes the connection and logs `reason` (a client that does
   * not read). Safe to call more than once.
   */
  abort(reason: string): void {
    this.#end(() => this.#controller.error(reason));
  }

  #end(finish: () => void): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    clearInterval(this.#heartbeat);
    this.#pulled?.();
    try {
      finish();
    } catch {
      // Already cancelled by the client.
    }
  }

  #write(text: string): boolean {
    return this.#enqueue(encoder.encode(text));
  }

  #enqueue(bytes: Uint8Array): boolean {
    if (this.#abort.signal.aborted) return false;
    try {
      this.#controller.enqueue(bytes);
    } catch {
      this.close();
      return false;
    }
    const size = this.#controller.desiredSize;
    if (size !== null && size < -this.#maxBuffered) {
      this.close();
      return false;
    }
    return true;
  }
}

/** What a log follow asks for: the request's parameters. */
export interface FollowRequest {
  /** Service name (checked). */
  name: string;
  /** Last lines of each stream to give first. */
  lines: number;
  /** Stream(s) to follow. */
  stream: LogStream;
  /** Only lines that arrived at or after this time, ms since the epoch. */
  sinceMs?: number;
  /** `HEAD`: answer with the headers of a stream and open none. */
  head: boolean;
}

/** The answers of the routes that stream: the event stream and log following. */
export interface LiveAnswers {
  /**
   * `GET /api/services/events`: `snapshot` (`{services: [...]}`), then one
   * event per bus event, named by its `type`, whose data is the event plus
   * `status`, the service's status right after it.
   */
  events(head: boolean): Response;
  /**
   * `GET /api/services/logs/{name}?follow=1`: `lines` events
   * (`{stream, lines, at}`), with a `ready` event after the last lines; a
   * `lines` event with `skipped` marks output rotated away before it was
   * read (see `skipMarker` in `src/logs/follow.ts`). An unknown name throws
   * and a follower past the cap throws `UnavailableError` before any stream
   * is opened; one whose client leaves more than 1 MiB unread is cut off.
   */
  followLogs(request: FollowRequest): Response;
}

/**
 * The answers of the streaming routes over `control`; `log` takes the
 * unexpected errors that end a stream.
 */
export function liveAnswers(
  control: ServiceControl,
  options: LiveOptions = {},
  log: (line: string) => void = (line) => console.error(line),
): LiveAnswers {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1_048_576;
  // A client that goes away cancels the body (`request.signal` is not used: Deno.serve aborts it
  // on successful responses too).
  const open = () =>
    new SseChannel({
      heartbeatMs,
      maxBufferedBytes,
      signals: options.signal ? [options.signal] : [],
    });

  const poller = new StatusPoller(control, options.statusPollMs ?? 1000);

  const events = (isHead: boolean) => {
    if (isHead) return head();
    let channel: SseChannel | undefined = undefined;
    // Subscribed first: a failure leaves nothing open. No event can come before `channel` is set.
    const watch = control.watch((event: SupervisorEvent) => {
      poller.seen(event.type);
      let status: unknown = undefined;
      if ("service" in event && typeof event.service === "string") {
        try {
          status = control.status(event.service);
        } catch {
          // A service that is gone: the event alone.
        }
      }
      channel?.send(event.type, status === undefined ? event : { ...event, status });
    });
    channel = open();
    const polled = poller.subscribe((event) => channel?.send(event.type, event));
    channel.signal.addEventListener("abort", () => {
      watch.unsubscribe();
      polled();
    }, { once: true });
    channel.send("snapshot", { services: watch.snapshot });
    return channel.response;
  };

  const followLogs = ({ name, lines, stream, sinceMs, head: isHead }: FollowRequest) => {
    if (isHead) {
      control.status(name); // 404 for an unknown name, as GET
      return head();
    }
    const stop = new AbortController();
    let drop = (_reason: string) => {};
    // Asked first: an unknown name answers 404, one follower too many 503, before any stream is opened.
    const iterable = control.followLogs(name, {
      lines,
      stream,
      signal: stop.signal,
      onDropped: (reason) => drop(reason),
      ...(sinceMs === undefined ? {} : { sinceMs }),
    });
    const channel = open();
    // Too many lines waited for a client that does not read: cut it off, dropping what it holds.
    drop = (reason) => channel.abort(`log stream of "${name}" dropped: ${reason}`);
    if (control.logTimes) followMarkers(control, name, stream, channel);
    channel.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const backlog = stream === "both" ? 2 : 1;
    (async () => {
      let batches = 0;
      try {
        for await (const batch of iterable) {
          // The same batch object goes to every follower of the stream: encoded once.
          if (!channel.sendShared("lines", batch)) break;
          if (++batches === backlog) channel.send("ready", { name, stream });
          await channel.ready();
        }
      } catch (err) {
        channel.send("error", errorAnswer(err, log, `api: log stream of "${name}"`).body);
      } finally {
        channel.close();
      }
    })();
    return channel.response;
  };

  return { events, followLogs };
}

/**
 * The starts and exits of service `name` from now on, as `marker` events
 * (`{at, marker, text}`, as in `merged`) on `channel`: after each of its
 * transitions, the markers of its history since the last one sent. A log
 * kept without times has none.
 */
function followMarkers(
  control: ServiceControl,
  name: string,
  stream: LogStream,
  channel: SseChannel,
): void {
  let fromMs = Date.now();
  let sentAtFrom = new Set<string>(); // markers sent at `fromMs`, the newest time sent
  let timer: ReturnType<typeof setTimeout> | undefined;
  const look = async () => {
    timer = undefined;
    let merged;
    try {
      merged = (await control.logs(name, 0, stream, { sinceMs: fromMs })).merged ?? [];
    } catch (error) {
      // A log without times has no markers, now or later: stop looking.
      if (error instanceof NotImplementedError) watch.unsubscribe();
      return; // or removed: nothing to mark
    }
    for (const entry of merged) {
      if (!("marker" in entry) || entry.at === null || channel.signal.aborted) continue;
      const ms = Date.parse(entry.at);
      const key = `${entry.marker}\0${entry.text}`;
      if (ms < fromMs || (ms === fromMs && sentAtFrom.has(key))) continue;
      if (ms > fromMs) [fromMs, sentAtFrom] = [ms, new Set()];
      sentAtFrom.add(key);
      channel.send("marker", entry);
    }
  };
  const watch = control.watch((event) => {
    if (event.type !== "state" || event.service !== name) return;
    clearTimeout(timer);
    timer = setTimeout(look, 100); // many transitions, one look
  });
  channel.signal.addEventListener("abort", () => {
    watch.unsubscribe();
    clearTimeout(timer);
  }, { once: true });
}

/** An event made by {@linkcode StatusPoller}: a change of health or of the figures of one service. */
export interface PolledEvent {
  /** `health` or `metrics`. */
  type: "health" | "metrics";
  /** Service name. */
  service: string;
  /** When the change was seen, ISO 8601. */
  at: string;
  /** The status with the change. */
  status: ServiceStatus;
}

/**
 * Looks at every status while somebody listens, and reports changes of
 * `health` (`healthy`, `state`, `message`) and of `cpu_percent` /
 * `memory_rss_bytes` as `health` and `metrics` events, one per service.
 * Once the event bus itself carries events of one of these types, the poller
 * stops making its own, so that nothing comes twice.
 */
export class StatusPoller {
  readonly #control: ServiceControl;
  readonly #intervalMs: number;
  readonly #listeners = new Set<(event: PolledEvent) => void>();
  readonly #last = new Map<string, { health: string; metrics: string }>();
  readonly #fromBus = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Create an idle poller; it runs only while it has subscribers. */
  constructor(control: ServiceControl, intervalMs: number) {
    this.#control = control;
    this.#intervalMs = intervalMs;
  }

  /** The event bus delivered an event of `type`. */
  seen(type: string): void {
    this.#fromBus.add(type);
  }

  /** Receive the changes; returns the unsubscribe function. */
  subscribe(listener: (event: PolledEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#poll(false);
      this.#timer = setInterval(() => this.#poll(true), this.#intervalMs);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        this.#last.clear();
      }
    };
  }

  #poll(report: boolean): void {
    let statuses: ServiceStatus[];
    try {
      statuses = this.#control.list();
    } catch {
      return;
    }
    const at = new Date().toISOString();
    for (const status of statuses) {
      const h = status.health as { healthy?: unknown; state?: unknown; message?: unknown };
      const now = {
        health: JSON.stringify([h.healthy, h.state, h.message]),
        metrics: JSON.stringify([status.cpu_percent ?? null, status.memory_rss_bytes ?? null]),
      };
      const before = this.#last.get(status.name);
      this.#last.set(status.name, now);
      if (!report || before === undefined) continue;
      for (const type of ["health", "metrics"] as const) {
        if (before[type] === now[type] || this.#fromBus.has(type)) continue;
        const event: PolledEvent = { type, service: status.name, at, status };
        for (const listener of this.#listeners) listener(event);
      }
    }
  }
}
