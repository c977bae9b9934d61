/**
 * Reading a `text/event-stream` as the API serves it (the event stream,
 * log following): `SseParser` (of `src/sse_parser.ts`) turns the text into
 * events, and {@linkcode eventStream} opens one stream and gives its events until it
 * ends, fails, or stays silent too long. Reconnecting is the caller's.
 *
 * @module
 */
import { ApiError } from "./client.ts";
import { type SseMessage, SseParser } from "../sse_parser.ts";

export type { SseMessage };

/** Options of {@linkcode eventStream}. */
export interface EventStreamOptions {
  /** Headers of the request (`accept: text/event-stream` is added). */
  headers?: Record<string, string>;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /**
   * Milliseconds without a byte (the server sends a heartbeat every 15 s)
   * after which the stream counts as lost.
   * @default {45_000}
   */
  idleMs?: number;
  /** Called with the milliseconds of each `retry:` field the server sends. */
  onRetry?: (ms: number) => void;
}

/**
 * The events of the stream at `url`, until the server ends it. Throws
 * `ApiError` when the server answers with an error status, and an `Error`
 * when the stream stays silent for `idleMs` (`no data for 45s`) or the
 * connection fails; ends quietly when `signal` is aborted.
 *
 * @example
 * ```ts ignore
 * for await (const { event, data } of eventStream("http://127.0.0.1:8080/api/services/events")) {
 *   console.log(event, data);
 * }
 * ```
 */
export async function* eventStream(
  url: string,
  options: EventStreamOptions = {},
): AsyncGenerator<SseMessage> {
  const idleMs = options.idleMs ?? 45_000;
  const idle = new AbortController();
  const signal = options.signal === undefined
    ? idle.signal
    : AbortSignal.any([options.signal, idle.signal]);
  let timer = setTimeout(() => idle.abort(), idleMs);
  try {
    const response = await fetch(url, {
      headers: { accept: "text/event-stream", ...options.headers },
      signal,
    });
    if (!response.ok || response.body === null) {
      const body = await response.json().catch(() => ({}));
      throw new ApiError(
        response.status,
        typeof body?.error === "string" ? body.error : `HTTP ${response.status}`,
      );
    }
    const parser = new SseParser();
    for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), idleMs);
      const retryMs = parser.retryMs;
      const messages = parser.feed(text);
      if (parser.retryMs !== retryMs) options.onRetry?.(parser.retryMs!);
      yield* messages;
    }
  } catch (error) {
    if (options.signal?.aborted) return;
    if (idle.signal.aborted) throw new Error(`no data for ${idleMs / 1000}s`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
