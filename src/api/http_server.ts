/**
 * A bounded HTTP/1.1 server over `Deno.listen` (plain TCP) that feeds a fetch
 * handler such as Hono's `app.fetch`, like `Deno.serve`, with the bounds
 * `Deno.serve` lacks:
 *
 * - **A cap on open connections**, a quarter of the soft descriptor limit by
 *   default, so that sockets never take the descriptors that services' pipes
 *   and log files need. A connection past the cap is answered
 *   `503 Service Unavailable` (`Retry-After: 1`) and closed.
 * - **Deadlines**: the request head must arrive within `headerTimeoutMs` (of
 *   the accept, or of its first byte on a kept-alive connection), a
 *   kept-alive connection may wait `idleTimeoutMs` for its next request, the
 *   body must arrive within `bodyTimeoutMs`, and every write to the socket
 *   must complete within `writeTimeoutMs`.
 * - **Size limits**: a head over `maxHeaderBytes` answers 431, a body over
 *   `maxBodyBytes` answers 413 (by its `Content-Length`, before it is read,
 *   or as soon as a chunked body grows past it).
 * - **An accept loop that survives** running out of descriptors: it logs (at
 *   most once a minute), backs off from 10 ms to 1 s, and goes on. Every
 *   error of a connection ends that connection only.
 *
 * Responses whose `Content-Type` is `text/event-stream` are streamed
 * (chunked on HTTP/1.1, delimited by the close on HTTP/1.0), one chunk at a
 * time as the socket takes them; the body is cancelled within moments of the
 * client going away. Every other body is read whole and sent with
 * `Content-Length`. Requests may be pipelined; answers keep their order.
 *
 * @module
 */
import {
  ChunkedDecoder,
  findHeadEnd,
  HttpError,
  latin1,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
  tooLarge,
} from "./http_parser.ts";
import type { ErrorBody } from "./wire.ts";

/** A fetch handler: Hono's `app.fetch`, or the handler of `Deno.serve` without its second argument. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Options of {@linkcode serveHttp}. */
export interface HttpServerOptions {
  /**
   * Address to listen on (an IPv6 address without brackets).
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /** TCP port; 0 picks a free one (see {@linkcode HttpServer.addr}). */
  port: number;
  /** Answers each request. A throw, or anything but a `Response`, answers 500. */
  handler: FetchHandler;
  /**
   * Most connections open at once; more are answered 503 and closed. Capped
   * by a quarter of the soft `RLIMIT_NOFILE`, and at least
   * {@linkcode MIN_CONNECTIONS} (see {@linkcode connectionCap}).
   * @default {a quarter of the soft descriptor limit}
   */
  maxConnections?: number;
  /**
   * Milliseconds within which a request head must arrive whole: from the
   * accept for the first request, from its first byte (or the end of the
   * previous answer, for a pipelined request) for later ones. Then the
   * connection is closed (after a 408 when part of the head came).
   * @default {10_000}
   */
  headerTimeoutMs?: number;
  /**
   * Milliseconds a kept-alive connection may wait for its next request
   * before it is closed.
   * @default {30_000}
   */
  idleTimeoutMs?: number;
  /**
   * Milliseconds within which a request body must arrive whole, from the end
   * of its head; then 408 and close.
   * @default {30_000}
   */
  bodyTimeoutMs?: number;
  /**
   * Milliseconds one write to the socket may take (a client that does not
   * read); then the connection is closed.
   * @default {30_000}
   */
  writeTimeoutMs?: number;
  /**
   * Largest request head (request line and header fields); more answers 431.
   * @default {16_384}
   */
  maxHeaderBytes?: number;
  /**
   * Largest request body; more answers 413 and closes.
   * @default {1_048_576}
   */
  maxBodyBytes?: number;
  /**
   * Milliseconds `shutdown()` lets requests in flight finish before it
   * closes their connections.
   * @default {5_000}
   */
  shutdownTimeoutMs?: number;
  /**
   * Where failures are logged, one line each: handler errors (answered 500,
   * `api: GET /path failed: ...`), streamed bodies that fail, and accept
   * errors (at most one line a minute, with the count since the last one).
   * Clients that go away, time out or send malformed requests are not logged.
   * @default {console.error}
   */
  log?: (line: string) => void;
  /** Shuts the server down when aborted, as {@linkcode HttpServer.shutdown} does. */
  signal?: AbortSignal;
}

/** The smallest connection cap, whatever the descriptor limit or the option. */
export const MIN_CONNECTIONS = 8;

/** Descriptor limit assumed when `/proc/self/limits` cannot be read (the usual soft default). */
const ASSUMED_FD_LIMIT = 1024;

const DEFAULTS = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
  maxHeaderBytes: 16_384,
  maxBodyBytes: 1_048_576,
  shutdownTimeoutMs: 5_000,
} as const;

/** First and longest pause of the accept loop after an accept error. */
const ACCEPT_BACKOFF_MS = { min: 10, max: 1000 } as const;
/** At most one log line about accept errors per this many milliseconds. */
const ACCEPT_LOG_INTERVAL_MS = 60_000;
/**
 * After an error answer, the request bytes still coming are read and dropped
 * for up to this long (and {@linkcode LINGER_BYTES}) before the close, so that
 * the client reads the answer instead of a reset.
 */
const LINGER_MS = 1000;
const LINGER_BYTES = 65_536;
/** Connections past the cap that may linger at once; others are closed right after the 503. */
const LINGER_SLOTS = 8;
/**
 * Deadlines are checked by one timer per server, every tenth of the
 * shortest timeout within these bounds, while connections are open: a timer
 * per read or write would cost far more (V8 keeps each one until it was due).
 */
const SWEEP_MS = { min: 10, max: 1000 } as const;
/** First size of a connection's read buffer; it grows up to the head limit or 64 KiB. */
const INITIAL_BUFFER_BYTES = 4096;

/**
 * The soft limit of open files of this process (`Max open files` in
 * `/proc/self/limits`); undefined when it cannot be read or is unlimited.
 */
export function softOpenFileLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const soft = Number(/^Max open files\s+(\d+)/m.exec(text)?.[1]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection cap for a requested value and a descriptor limit: a quarter
 * of the limit (1024 when unknown), or the requested value when smaller, and
 * never below {@linkcode MIN_CONNECTIONS}.
 *
 * @example
 * ```ts
 * connectionCap(undefined, 1024); // 256
 * connectionCap(1000, 1024); // 256
 * connectionCap(50, 1024); // 50
 * connectionCap(2, 1024); // 8
 * ```
 */
export function connectionCap(requested: number | undefined, fdLimit: number | undefined): number {
  const quarter = Math.floor((fdLimit ?? ASSUMED_FD_LIMIT) / 4);
  return Math.max(MIN_CONNECTIONS, Math.min(requested ?? quarter, quarter));
}

/**
 * Parse `--max-connections`: a decimal integer from {@linkcode MIN_CONNECTIONS}
 * to 1000000. Throws `RangeError` otherwise.
 */
export function parseMaxConnections(value: string): number {
  const n = /^[0-9]{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= MIN_CONNECTIONS && n <= 1_000_000)) {
    throw new RangeError(
      `Invalid --max-connections ${
        JSON.stringify(value)
      }: expected an integer from ${MIN_CONNECTIONS} to 1000000`,
    );
  }
  return n;
}

/**
 * Listen on `hostname:port` and answer every request with `handler`.
 * Listen errors throw from the call, as `Deno.serve` does
 * (`Deno.errors.AddrInUse`, a host name that does not resolve).
 *
 * @example
 * ```ts
 * const server = serveHttp({ hostname: "127.0.0.1", port: 8080, handler: app.fetch, log });
 * // ...
 * await server.shutdown();
 * ```
 */
export function serveHttp(options: HttpServerOptions): HttpServer {
  return new HttpServer(options);
}

/** What every connection of one server needs. */
interface ConnectionConfig {
  handler: FetchHandler;
  log: (line: string) => void;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  bodyTimeoutMs: number;
  writeTimeoutMs: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  /** `host:port` of the listener, for the URL of requests without a usable `Host`. */
  authority: string;
  /** Buffers for whole answers. */
  pool: BufferPool;
}

/** A listening server, made by {@linkcode serveHttp}. */
export class HttpServer {
  /** The address it listens on (with the port picked for port 0). */
  readonly addr: Deno.NetAddr;
  /** The connection cap in force. */
  readonly maxConnections: number;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;

  readonly #listener: Deno.TcpListener;
  readonly #config: ConnectionConfig;
  readonly #shutdownTimeoutMs: number;
  /** Open connections, each with the end of its `serve()`. */
  readonly #served = new Map<Connection, Promise<void>>();
  /** Connections past the cap being answered 503, each with the end of its `refuse()`. */
  readonly #refused = new Map<Connection, Promise<void>>();
  readonly #sweepMs: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly #accepting: Promise<void>;
  readonly #finished = Promise.withResolvers<void>();
  #closing = false;
  #stopping: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #acceptFailures = 0;
  #lastAcceptLog = -Infinity;

  /** Listen and start accepting; prefer {@linkcode serveHttp}. Throws what `Deno.listen` throws. */
  constructor(options: HttpServerOptions) {
    const number = (name: keyof typeof DEFAULTS) => {
      const value = options[name] ?? DEFAULTS[name];
      if (!(Number.isFinite(value) && value > 0)) {
        throw new RangeError(
          `Invalid ${name} ${JSON.stringify(value)}: expected a positive number`,
        );
      }
      return value;
    };
    if (
      options.maxConnections !== undefined &&
      !(Number.isInteger(options.maxConnections) && options.maxConnections > 0)
    ) {
      throw new RangeError(
        `Invalid maxConnections ${
          JSON.stringify(options.maxConnections)
        }: expected a positive integer`,
      );
    }
    const log = options.log ?? ((line: string) => console.error(line));
    this.#shutdownTimeoutMs = number("shutdownTimeoutMs");
    const config = {
      handler: options.handler,
      log,
      headerTimeoutMs: number("headerTimeoutMs"),
      idleTimeoutMs: number("idleTimeoutMs"),
      bodyTimeoutMs: number("bodyTimeoutMs"),
      writeTimeoutMs: number("writeTimeoutMs"),
      maxHeaderBytes: number("maxHeaderBytes"),
      maxBodyBytes: number("maxBodyBytes"),
    };
    this.maxConnections = connectionCap(options.maxConnections, softOpenFileLimit());
    const shortest = Math.min(
      config.headerTimeoutMs,
      config.idleTimeoutMs,
      config.bodyTimeoutMs,
      config.writeTimeoutMs,
    );
    this.#sweepMs = Math.min(SWEEP_MS.max, Math.max(SWEEP_MS.min, shortest / 10));

    this.#listener = Deno.listen({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    const { hostname, port } = this.addr;
    this.#config = {
      ...config,
      authority: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
      pool: new BufferPool(),
    };
    this.finished = this.#finished.promise;
    this.#accepting = this.#acceptLoop();
    if (options.signal?.aborted) void this.shutdown();
    else options.signal?.addEventListener("abort", () => void this.shutdown(), { once: true });
  }

  /** Connections open now (those answered 503 past the cap not included). */
  get connections(): number {
    return this.#served.size;
  }

  /**
   * Stop accepting, close idle connections at once, let requests in flight
   * finish, close what is left after `shutdownTimeoutMs`; resolves once
   * every connection is closed. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as {@linkcode shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    this.#wake?.();
    await this.#accepting;
    for (const connection of this.#refused.keys()) connection.destroy();
    for (const connection of this.#served.keys()) connection.drain();
    const all = Promise.all([...this.#served.values(), ...this.#refused.values()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.#shutdownTimeoutMs);
    });
    if (await Promise.race([all, late]) === "late") {
      for (const connection of this.#served.keys()) connection.destroy();
      await all;
    }
    clearTimeout(timer);
    this.#finished.resolve();
  }

  async #acceptLoop(): Promise<void> {
    let delayMs = 0;
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) return;
        this.#acceptFailed(error);
        delayMs = Math.min(ACCEPT_BACKOFF_MS.max, Math.max(ACCEPT_BACKOFF_MS.min, delayMs * 2));
        await this.#pause(delayMs);
        continue;
      }
      delayMs = 0;
      try {
        conn.setNoDelay(true);
      } catch {
        // the client is already gone; the connection finds out by itself
      }
      const connection = new Connection(conn, this.#config);
      if (this.#served.size < this.maxConnections) {
        this.#track(this.#served, connection, connection.serve());
        continue;
      }
      const message = `Too many connections (${this.#served.size} open); try again in a moment`;
      const linger = this.#refused.size < LINGER_SLOTS;
      const refused = this.#track(
        this.#refused,
        connection,
        connection.refuse(503, message, { "retry-after": "1" }, linger),
      );
      if (!linger) await refused; // one at a time past the slots: never more descriptors
    }
  }

  /** Keep `connection` in `set` until `done`, and sweep its deadlines meanwhile. */
  #track(
    set: Map<Connection, Promise<void>>,
    connection: Connection,
    done: Promise<void>,
  ): Promise<void> {
    const tracked = done.finally(() => {
      set.delete(connection);
      if (this.#served.size + this.#refused.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
        this.#config.pool.clear();
      }
    });
    set.set(connection, tracked);
    this.#sweeper ??= setInterval(() => {
      const now = performance.now();
      for (const c of this.#served.keys()) c.sweep(now);
      for (const c of this.#refused.keys()) c.sweep(now);
      this.#config.pool.trim(now);
    }, this.#sweepMs);
    return tracked;
  }

  #acceptFailed(error: unknown): void {
    this.#acceptFailures++;
    const now = performance.now();
    if (now - this.#lastAcceptLog < ACCEPT_LOG_INTERVAL_MS) return;
    const count = this.#acceptFailures > 1
      ? ` (${this.#acceptFailures} failures since the last report)`
      : "";
    this.#config.log(
      `api: cannot accept a connection: ${
        error instanceof Error ? error.message : String(error)
      }${count}; retrying`,
    );
    this.#lastAcceptLog = now;
    this.#acceptFailures = 0;
  }

  /** Wait `ms`, or less when the server shuts down. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

// ---------------------------------------------------------------------------
// One connection

const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const LAST_CHUNK = new TextEncoder().encode("0\r\n\r\n");
const encoder = new TextEncoder();

/** Sends a prepared answer; whether the connection stays open. */
type Send = () => Promise<boolean>;

/** What a timed wait gives when its deadline passed. */
const TIMEOUT: unique symbol = Symbol("timeout");

/** Result of waiting for more bytes from the client. */
type Fill = "data" | "eof" | "timeout";

/**
 * One accepted connection: reads requests one after the other (a pipelined
 * one waits in the buffer), answers each through the handler, and closes on
 * a protocol error, a timeout, the client's close, or `Connection: close`.
 */
class Connection {
  readonly #conn: Deno.TcpConn;
  readonly #config: ConnectionConfig;
  readonly #acceptedAt = performance.now();
  /** Bytes received and not used yet are `#buf[#start, #end)`. */
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  #reading: Promise<number | null> | undefined;
  /** A request is in progress: part of its head has come, or its answer is not sent yet. */
  #busy = false;
  /** Close once the answer in progress is sent (shutdown). */
  #draining = false;
  #closed = false;
  /**
   * Ends the wait for the handler when the connection is closed. (A resolver,
   * not a closure: a closure would keep the whole context of the request
   * alive, a large answer included, through many young-generation GCs.)
   */
  #interrupt: ((outcome: undefined) => void) | undefined;
  /** The body of a streamed answer, cancelled when the connection is closed. */
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** When the timed wait in progress ends (`performance.now()` time). */
  #deadline = Infinity;
  /** Ends the timed wait in progress (a resolver, as `#interrupt`). */
  #expire: ((timeout: typeof TIMEOUT) => void) | undefined;

  constructor(conn: Deno.TcpConn, config: ConnectionConfig) {
    this.#conn = conn;
    this.#config = config;
  }

  /** Answer requests until the connection ends; never rejects. */
  async serve(): Promise<void> {
    try {
      let first = true;
      while (!this.#closed) {
        const head = await this.#readHead(first);
        first = false;
        if (head === undefined || !await this.#exchange(head)) break;
      }
    } catch (error) {
      if (error instanceof HttpError) await this.#answerAndClose(error.status, error.message);
      else this.#config.log(`api: connection failed: ${describe(error)}`);
    } finally {
      this.#close();
    }
  }

  /** Send an error answer, let the client read it (unless `linger` is false), close. Never rejects. */
  async refuse(
    status: number,
    message: string,
    headers: Record<string, string>,
    linger: boolean,
  ): Promise<void> {
    await this.#answerAndClose(status, message, headers, linger);
    this.#close();
  }

  /** Close now if idle, else after the answer in progress. */
  drain(): void {
    this.#draining = true;
    if (!this.#busy) this.#close();
  }

  /** Close now, whatever is in progress. */
  destroy(): void {
    this.#close();
  }

  /** End the timed wait in progress if its deadline has passed (called by the server's timer). */
  sweep(now: number): void {
    if (now >= this.#deadline) this.#expire?.(TIMEOUT);
  }

  /** `promise`'s value, or `TIMEOUT` once `deadline` passes (one timed wait at a time). */
  async #within<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMEOUT> {
    if (performance.now() >= deadline) return TIMEOUT;
    // One promise settled by whichever comes first: `Promise.race` with a promise that may never
    // settle would keep what it holds alive long after.
    const { promise: first, resolve } = Promise.withResolvers<T | typeof TIMEOUT>();
    promise.then(resolve);
    this.#expire = resolve;
    this.#deadline = deadline;
    try {
      return await first;
    } finally {
      this.#deadline = Infinity;
      this.#expire = undefined;
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#reader?.cancel().catch(() => {});
    this.#interrupt?.(undefined);
  }

  // -- reading

  /**
   * Wait for the next request head; undefined when the client closes or
   * stays silent (idle) too long, or the server is draining.
   */
  async #readHead(first: boolean): Promise<RequestHead | undefined> {
    const { headerTimeoutMs, idleTimeoutMs, maxHeaderBytes } = this.#config;
    this.#start = skipEmptyLines(this.#buf, this.#start, this.#end);
    let deadline: number;
    if (this.#start === this.#end) {
      this.#busy = false;
      if (this.#draining) return undefined;
      const silence = first
        ? this.#acceptedAt + headerTimeoutMs
        : performance.now() + idleTimeoutMs;
      if (await this.#fill(silence) !== "data") return undefined;
      deadline = first ? silence : performance.now() + headerTimeoutMs;
    } else {
      deadline = performance.now() + headerTimeoutMs;
    }
    this.#busy = true;
    let from = this.#start;
    while (true) {
      this.#start = skipEmptyLines(this.#buf, this.#start, this.#end);
      const end = findHeadEnd(this.#buf, this.#start, this.#end, from);
      const size = (end < 0 ? this.#end : end - 4) - this.#start;
      if (size > maxHeaderBytes) {
        throw new HttpError(431, `Request head too large: the limit is ${maxHeaderBytes} bytes`);
      }
      if (end >= 0) {
        const text = latin1(this.#buf.subarray(this.#start, end - 4));
        this.#start = end;
        return parseRequestHead(text);
      }
      from = Math.max(this.#start, this.#end - 3);
      const filled = await this.#fill(deadline);
      if (filled === "timeout") throw new HttpError(408, "Request head not received in time");
      if (filled === "eof") return undefined;
    }
  }

  /** The whole body of the request; undefined when the client went away. */
  async #readBody(head: RequestHead): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const { maxBodyBytes, bodyTimeoutMs, maxHeaderBytes } = this.#config;
    const framing = head.body;
    if (framing.type === "none") return EMPTY;
    if (framing.type === "length" && framing.length > maxBodyBytes) {
      throw new HttpError(413, tooLarge(maxBodyBytes));
    }
    if (head.expectContinue && this.#start === this.#end && !await this.#write(CONTINUE)) {
      return undefined;
    }
    const deadline = performance.now() + bodyTimeoutMs;
    const timedOut = () => new HttpError(408, "Request body not received in time");
    if (framing.type === "length") {
      const body = new Uint8Array(framing.length);
      let received = 0;
      while (true) {
        const n = Math.min(framing.length - received, this.#end - this.#start);
        body.set(this.#buf.subarray(this.#start, this.#start + n), received);
        this.#start += n;
        received += n;
        if (received === framing.length) return body;
        const filled = await this.#fill(deadline, framing.length - received);
        if (filled === "timeout") throw timedOut();
        if (filled === "eof") return undefined;
      }
    }
    const decoder = new ChunkedDecoder({ maxBodyBytes, maxLineBytes: maxHeaderBytes });
    while (true) {
      this.#start += decoder.decode(this.#buf.subarray(this.#start, this.#end));
      if (decoder.done) return decoder.body();
      const filled = await this.#fill(deadline);
      if (filled === "timeout") throw timedOut();
      if (filled === "eof") return undefined;
    }
  }

  /** Wait for more bytes until `deadline` (a `performance.now()` time; none when undefined). */
  async #fill(deadline?: number, want = 1): Promise<Fill> {
    const read = this.#read(want);
    const n = deadline === undefined ? await read : await this.#within(read, deadline);
    return n === TIMEOUT ? "timeout" : n === null ? "eof" : "data";
  }

  /**
   * Read once into the buffer; the number of bytes, or null at the end of the
   * stream or on an error. One read at a time: a caller while one is pending
   * shares it.
   */
  #read(want = 1): Promise<number | null> {
    this.#reading ??= this.#readOnce(want).finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #readOnce(want: number): Promise<number | null> {
    if (this.#closed || !this.#makeRoom(want)) return null;
    try {
      const n = await this.#conn.read(this.#buf.subarray(this.#end));
      if (n === null) return null;
      this.#end += n;
      return n;
    } catch {
      return null;
    }
  }

  /** Make room for `want` more bytes (or as many as fit); false when the buffer is full. */
  #makeRoom(want: number): boolean {
    const limit = Math.max(this.#config.maxHeaderBytes + 4, 65_536);
    if (this.#start === this.#end) this.#start = this.#end = 0;
    const used = this.#end - this.#start;
    const size = Math.min(limit, Math.max(INITIAL_BUFFER_BYTES, used + want, this.#buf.length));
    if (size > this.#buf.length) {
      let grown = Math.max(INITIAL_BUFFER_BYTES, this.#buf.length);
      while (grown < size) grown *= 2;
      const buf = new Uint8Array(Math.min(grown, limit));
      buf.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = buf;
      this.#start = 0;
      this.#end = used;
    } else if (this.#start > 0 && this.#buf.length - this.#end < Math.max(want, 1024)) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = used;
    }
    return this.#end < this.#buf.length;
  }

  // -- one request and its answer

  /** Read the body, call the handler, send the answer; whether the connection stays open. */
  async #exchange(head: RequestHead): Promise<boolean> {
    const body = await this.#readBody(head);
    if (body === undefined) return false;
    const send = await this.#answer(head, this.#request(head, body));
    return send !== undefined && await send();
  }

  /**
   * The handler's answer, ready to send (undefined when the connection closed
   * meanwhile). The function returned holds the bytes to send but not the
   * `Response`, so that a large body is garbage as soon as it is encoded.
   */
  async #answer(head: RequestHead, request: Request): Promise<Send | undefined> {
    const response = await this.#handle(request, head);
    return response && await this.#prepare(head, response);
  }

  #request(head: RequestHead, body: Uint8Array<ArrayBuffer>): Request {
    const init: RequestInit = {
      method: head.method,
      headers: head.headers,
      body: body.length > 0 && head.method !== "GET" && head.method !== "HEAD" ? body : null,
    };
    const authority = this.#config.authority;
    // A `Host` that does not make a valid URL falls back to the listen address; an error then
    // is the method's, the target's or a header field's (that `Headers` refuses).
    if (head.host !== undefined) {
      try {
        return new Request(`http://${head.host}${head.target}`, init);
      } catch {
        // the same with the listen address
      }
    }
    try {
      return new Request(`http://${authority}${head.target}`, init);
    } catch (error) {
      throw new HttpError(400, `Invalid request: ${(error as Error).message}`);
    }
  }

  /** The handler's answer (500 when it fails); undefined when the connection closed meanwhile. */
  async #handle(request: Request, head: RequestHead): Promise<Response | undefined> {
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(this.#config.handler(request));
    } catch (error) {
      answer = Promise.reject(error);
    }
    // Settled by the handler or by the close, whichever comes first (see `#within`).
    const { promise: first, resolve } = Promise.withResolvers<
      { value: unknown } | { error: unknown } | undefined
    >();
    answer.then((value) => resolve({ value }), (error) => resolve({ error }));
    this.#interrupt = resolve;
    let outcome: { value: unknown } | { error: unknown } | undefined;
    try {
      outcome = await first;
    } finally {
      this.#interrupt = undefined;
    }
    if (outcome === undefined) {
      answer.then((value) => {
        if (value instanceof Response) value.body?.cancel().catch(() => {});
      }, () => {});
      return undefined;
    }
    if ("value" in outcome && outcome.value instanceof Response) return outcome.value;
    const error = "error" in outcome
      ? outcome.error
      : new TypeError(`The handler returned ${describe(outcome.value)}, not a Response`);
    this.#logFailure(head, error);
    return internalError();
  }

  #logFailure(head: RequestHead, error: unknown): void {
    const path = head.target.split("?", 1)[0];
    this.#config.log(`api: ${head.method} ${path} failed: ${describe(error)}`);
  }

  /** Make `response` ready to send. */
  async #prepare(head: RequestHead, response: Response): Promise<Send> {
    const { status, headers } = response;
    const bodiless = head.method === "HEAD" || status < 200 || status === 204 || status === 304;
    // `response.body` only when needed: once made, that stream is the slow way to read the body.
    const streamed = !bodiless && EVENT_STREAM.test(headers.get("content-type") ?? "") &&
      response.body !== null;
    const chunked = streamed && head.version === "HTTP/1.1";
    const keepAlive = head.keepAlive && !this.#draining && !(streamed && !chunked) &&
      !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.get("connection") ?? "");
    const keepLength = head.method === "HEAD" || status === 304;

    let text = `HTTP/1.1 ${status} ${response.statusText || REASONS[status] || "Unknown"}\r\n`;
    for (const [name, value] of headers) {
      if (HOP_BY_HOP.has(name) || (name === "content-length" && !keepLength)) continue;
      text += `${name}: ${value}\r\n`;
    }
    if (!headers.has("date")) text += `date: ${httpDate()}\r\n`;
    if (!keepAlive) text += "connection: close\r\n";
    else if (head.version === "HTTP/1.0") text += "connection: keep-alive\r\n";

    if (bodiless) {
      response.body?.cancel().catch(() => {});
      const bytes = encodeHead(text + "\r\n");
      return async () => await this.#write(bytes) && keepAlive;
    }
    if (streamed) {
      if (chunked) text += "transfer-encoding: chunked\r\n";
      const bytes = encodeHead(text + "\r\n");
      const body = response.body;
      return async () => await this.#stream(bytes, body, chunked) && keepAlive;
    }
    let message: { bytes: Uint8Array; buffer: Uint8Array };
    try {
      message = await wholeAnswer(this.#config.pool, text, response);
    } catch (error) {
      this.#logFailure(head, error);
      return await this.#prepare(head, internalError());
    }
    return async () => {
      const sent = await this.#write(message.bytes);
      if (sent) this.#config.pool.give(message.buffer); // a write that failed may still hold it
      return sent && keepAlive;
    };
  }

  /**
   * Send a streamed body, reading each chunk only once the previous one is
   * written; whether it was sent whole. While it runs the socket is read too,
   * so that a client that goes away cancels the body at once, even when the
   * stream is silent.
   */
  async #stream(
    head: Uint8Array,
    body: ReadableStream<Uint8Array>,
    chunked: boolean,
  ): Promise<boolean> {
    const reader = body.getReader();
    this.#reader = reader;
    let whole = false;
    let watching = true;
    const clientGone = () => {
      watching = false;
      reader.cancel().catch(() => {});
    };
    try {
      if (!await this.#write(head)) return false;
      void this.#watchForClose(() => watching, clientGone);
      while (watching) {
        const { value, done } = await reader.read();
        if (done) {
          whole = watching;
          break;
        }
        if (!(value instanceof Uint8Array)) {
          throw new TypeError(`A chunk of a streamed body is ${describe(value)}, not a Uint8Array`);
        }
        if (value.length > 0 && !await this.#write(chunked ? frame(value) : value)) break;
      }
    } catch (error) {
      this.#config.log(`api: a streamed answer failed: ${describe(error)}`);
    } finally {
      this.#reader = undefined;
      if (!whole) reader.cancel().catch(() => {});
      watching = false;
    }
    return whole && chunked && await this.#write(LAST_CHUNK);
  }

  /**
   * Read the socket while `watching()` holds, keeping what comes (a
   * pipelined request) in the buffer, and call `gone` when the client closes.
   * Stops reading when the buffer holds a head's worth; a write error tells then.
   */
  async #watchForClose(watching: () => boolean, gone: () => void): Promise<void> {
    while (watching() && this.#end - this.#start < this.#config.maxHeaderBytes) {
      if (await this.#read() === null) {
        if (watching()) gone();
        return;
      }
    }
  }

  /** Write all of `bytes` within the write timeout; on failure close, and return false. */
  async #write(bytes: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    const deadline = performance.now() + this.#config.writeTimeoutMs;
    const written = await this.#within(writeAll(this.#conn, bytes), deadline);
    if (written === true) return true;
    this.#close();
    return false;
  }

  /**
   * Send an error answer with `Connection: close`, then (with `linger`) read
   * and drop what the client still sends for a moment, so that it reads the
   * answer rather than a reset; the caller closes.
   */
  async #answerAndClose(
    status: number,
    message: string,
    headers: Record<string, string> = {},
    linger = true,
  ): Promise<void> {
    if (!await this.#write(errorAnswer(status, message, headers)) || !linger) return;
    try {
      await this.#conn.closeWrite();
    } catch {
      return;
    }
    const deadline = performance.now() + LINGER_MS;
    let dropped = 0;
    while (dropped < LINGER_BYTES) {
      dropped += this.#end - this.#start;
      this.#start = this.#end;
      if (await this.#fill(deadline) !== "data") return;
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers

/** Write all of `bytes`; false when the socket fails. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    return true;
  } catch {
    return false;
  }
}

/**
 * Content types whose body is UTF-8 text: JSON, and any type with
 * `charset=utf-8` (as Hono's `c.json`, `c.text` and `c.html` send).
 */
const UTF8_TYPE =
  /^\s*application\/(?:[\w.-]+\+)?json\s*(?:;|$)|;\s*charset\s*=\s*"?utf-8"?\s*(?:;|$)/i;

/**
 * A whole answer: `head` (the status line and header fields but
 * `Content-Length`), then the body, in one buffer taken from `pool`. A text
 * body that is not compressed is read as text (a body made from a string then never becomes a
 * stream, the slow way to read it) and encoded straight into the buffer.
 */
async function wholeAnswer(
  pool: BufferPool,
  head: string,
  response: Response,
): Promise<{ bytes: Uint8Array; buffer: Uint8Array }> {
  const reserve = head.length + 48; // the head is one byte per character, plus Content-Length
  let buffer: Uint8Array;
  let length: number;
  const text = !response.headers.has("content-encoding") &&
    UTF8_TYPE.test(response.headers.get("content-type") ?? "");
  if (text) {
    const body = await response.text();
    buffer = pool.take(reserve + 3 * body.length); // at most 3 bytes per UTF-16 unit
    length = encoder.encodeInto(body, buffer.subarray(reserve)).written;
  } else {
    const body = await response.bytes();
    buffer = pool.take(reserve + body.length);
    buffer.set(body, reserve);
    length = body.length;
  }
  const headBytes = encodeHead(`${head}content-length: ${length}\r\n\r\n`);
  buffer.set(headBytes, reserve - headBytes.length);
  return { bytes: buffer.subarray(reserve - headBytes.length, reserve + length), buffer };
}

/**
 * Buffers of whole answers, used again. With the small young generation
 * edgevisor runs V8 with, a fresh buffer for each large answer (a list of
 * 200 services is about 100 KB) fills the old generation and brings on full
 * collections: the API then answers several times slower. The pool keeps no
 * more buffers than the last second took, none when no connection is open,
 * and none over 1 MiB or 16 MiB in all.
 */
class BufferPool {
  #free: Uint8Array[] = [];
  #freeBytes = 0;
  #taken = 0;
  #trimmedAt = 0;

  /** A buffer of at least `size` bytes. */
  take(size: number): Uint8Array {
    this.#taken++;
    const at = this.#free.findIndex((b) => b.byteLength >= size);
    if (at < 0) return new Uint8Array(2 ** Math.ceil(Math.log2(Math.max(size, 4096))));
    const [buffer] = this.#free.splice(at, 1);
    this.#freeBytes -= buffer!.byteLength;
    return buffer!;
  }

  /** Give back a buffer that is no longer used. */
  give(buffer: Uint8Array): void {
    if (buffer.byteLength > 1_048_576 || this.#freeBytes + buffer.byteLength > 16_777_216) return;
    this.#free.push(buffer);
    this.#freeBytes += buffer.byteLength;
  }

  /** At most once a second: keep no more buffers than were taken since the last time. */
  trim(now: number): void {
    if (now - this.#trimmedAt < 1000) return;
    this.#trimmedAt = now;
    while (this.#free.length > this.#taken) this.#freeBytes -= this.#free.shift()!.byteLength;
    this.#taken = 0;
  }

  /** Keep nothing. */
  clear(): void {
    this.#free = [];
    this.#freeBytes = 0;
  }
}

/** One chunk of a chunked body. */
function frame(data: Uint8Array): Uint8Array {
  const size = encoder.encode(`${data.length.toString(16)}\r\n`);
  const chunk = new Uint8Array(size.length + data.length + 2);
  chunk.set(size);
  chunk.set(data, size.length);
  chunk[chunk.length - 2] = 13;
  chunk[chunk.length - 1] = 10;
  return chunk;
}

/** A response head as bytes: header values are `ByteString`s, one byte per character. */
function encodeHead(text: string): Uint8Array {
  if (!/[\u0080-\uffff]/.test(text)) return encoder.encode(text);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A whole error answer with a JSON body and `Connection: close`. */
function errorAnswer(status: number, message: string, headers: Record<string, string>): Uint8Array {
  const body = JSON.stringify({ ok: false, error: message } satisfies ErrorBody);
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n` +
    `content-type: application/json\r\ncontent-length: ${encoder.encode(body).length}\r\n` +
    `date: ${httpDate()}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return encoder.encode(`${text}\r\n${body}`);
}

function internalError(): Response {
  return Response.json({ ok: false, error: "Internal error" } satisfies ErrorBody, { status: 500 });
}

/** One line about an error (or any value), with the first frame of its stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === "string" ? error : String(error);
  const frame = error.stack?.split("\n").find((line) => line.trimStart().startsWith("at "));
  return `${error.name}: ${error.message}${frame ? ` (${frame.trim()})` : ""}`;
}

let dateSecond = -1;
let dateText = "";

/** The `Date` header value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const EVENT_STREAM = /^\s*text\/event-stream\s*(?:;|$)/i;

/** Response headers of the connection, which the server sets itself. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

/** Reason phrases of the status line. */
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
