/**
 * The request side of HTTP/1.1 for `http_server.ts`: find where a request
 * head ends, parse it (request line, header fields, body framing,
 * `Connection`, `Expect`), and decode a chunked body. Pure: no I/O, no clock.
 *
 * Every refusal is an {@linkcode HttpError} that carries the status to answer
 * (400, 413, 417, 431, 501 or 505); the server answers it and closes the
 * connection.
 *
 * @module
 */

/** A request the server refuses; `status` is the HTTP status of the answer. */
export class HttpError extends Error {
  /** HTTP status to answer with. */
  readonly status: number;
  /** Create the error with the status to answer and a message in sentence case. */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
  }
}

/** How the body of a request is delimited. */
export type BodyFraming =
  | { type: "none" }
  | { type: "length"; length: number }
  | { type: "chunked" };

/** A parsed and checked request head. */
export interface RequestHead {
  /** Method, as sent (`GET`, `POST`, ...). */
  method: string;
  /** Origin-form request target: path and query, starting with `/`. */
  target: string;
  /** Protocol version. */
  version: "HTTP/1.0" | "HTTP/1.1";
  /** Header fields in the order sent, names as sent, values without surrounding whitespace. */
  headers: [name: string, value: string][];
  /** The `Host` value when there is exactly one and it is a valid `host[:port]`. */
  host: string | undefined;
  /** How the body is delimited. */
  body: BodyFraming;
  /** Whether the client keeps the connection open after the response (its version and `Connection`). */
  keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before it sends the body. */
  expectContinue: boolean;
}

/** Options of {@linkcode parseRequestHead}. */
export interface HeadLimits {
  /**
   * Most header fields a request may have; more answers 431.
   * @default {100}
   */
  maxHeaders?: number;
}

/** Most header fields of a request, by default. */
export const DEFAULT_MAX_HEADERS = 100;

const CR = 13;
const LF = 10;

/** `token` of RFC 9110: method and field names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters of a field value: visible ASCII, space, tab and obs-text. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** An origin-form target: `/` then visible ASCII. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
/** `host[:port]`: a registered name or IPv4 address, or an IPv6 literal in brackets. */
const HOST = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;

/**
 * Index of the first byte after the blank line (`CRLF CRLF`) that ends a
 * request head in `bytes[start, end)`, or -1 when it has not arrived yet.
 * The search begins at `from` (at least `start`), so that bytes already
 * searched are not searched again.
 */
export function findHeadEnd(bytes: Uint8Array, start: number, end: number, from = start): number {
  for (let i = Math.max(from, start + 3); i < end; i++) {
    if (
      bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR
    ) return i + 1;
  }
  return -1;
}

/**
 * Index of the first byte in `bytes[start, end)` that is not part of an
 * empty line: clients may send `CRLF` before a request line (RFC 9112 §2.2).
 */
export function skipEmptyLines(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i + 1 < end && bytes[i] === CR && bytes[i + 1] === LF) i += 2;
  return i;
}

const ascii = new TextDecoder();

/**
 * Decode bytes as ISO-8859-1 (each byte one character), the encoding of the
 * `ByteString`s that `Headers` holds.
 */
export function latin1(bytes: Uint8Array): string {
  if (bytes.every((byte) => byte < 0x80)) return ascii.decode(bytes); // the usual case, and fast
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/**
 * Parse a request head: `text` is the head as ISO-8859-1 without the blank
 * line that ends it. Throws {@linkcode HttpError} for what the server refuses.
 *
 * @example
 * ```ts
 * const head = parseRequestHead("GET /api/health HTTP/1.1\r\nHost: localhost");
 * head.target; // "/api/health"
 * head.keepAlive; // true
 * ```
 */
export function parseRequestHead(text: string, limits: HeadLimits = {}): RequestHead {
  const maxHeaders = limits.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const lines = text.split("\r\n");
  const [method, target, version] = parseRequestLine(lines[0] ?? "");
  if (lines.length - 1 > maxHeaders) {
    throw new HttpError(431, `Too many header fields: the limit is ${maxHeaders}`);
  }
  const headers: [string, string][] = [];
  const byName = new Map<string, string[]>();
  for (let i = 1; i < lines.length; i++) {
    const field = parseFieldLine(lines[i]!);
    headers.push(field);
    const name = field[0].toLowerCase();
    const list = byName.get(name);
    if (list) list.push(field[1]);
    else byName.set(name, [field[1]]);
  }
  const values = (name: string) => byName.get(name) ?? [];
  const hosts = values("host");
  if (hosts.length > 1) throw new HttpError(400, "More than one Host header field");
  const host = hosts[0] !== undefined && HOST.test(hosts[0]) ? hosts[0] : undefined;
  const connection = tokens(values("connection"));
  const keepAlive = !connection.includes("close") &&
    (version === "HTTP/1.1" || connection.includes("keep-alive"));
  return {
    method,
    target,
    version,
    headers,
    host,
    body: bodyFraming(values("transfer-encoding"), values("content-length")),
    keepAlive,
    expectContinue: version === "HTTP/1.1" && expectsContinue(values("expect")),
  };
}

function parseRequestLine(line: string): [string, string, RequestHead["version"]] {
  const parts = line.split(" ");
  if (parts.length !== 3) {
    throw new HttpError(400, `Malformed request line ${JSON.stringify(clip(line))}`);
  }
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HttpError(400, `Malformed method ${JSON.stringify(method)}`);
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) {
      throw new HttpError(505, `HTTP version ${JSON.stringify(version)} is not supported`);
    }
    throw new HttpError(400, `Malformed HTTP version ${JSON.stringify(clip(version))}`);
  }
  if (!ORIGIN_FORM.test(target)) {
    throw new HttpError(
      400,
      `Unsupported request target ${
        JSON.stringify(clip(target))
      }: expected a path starting with "/"`,
    );
  }
  return [method, target, version];
}

function parseFieldLine(line: string): [string, string] {
  if (line.startsWith(" ") || line.startsWith("\t")) {
    throw new HttpError(400, "Folded header field (obs-fold) is not allowed");
  }
  const colon = line.indexOf(":");
  const name = line.slice(0, Math.max(colon, 0));
  if (!TOKEN.test(name)) {
    throw new HttpError(400, `Malformed header field ${JSON.stringify(clip(line))}`);
  }
  let start = colon + 1;
  let end = line.length;
  while (start < end && (line[start] === " " || line[start] === "\t")) start++;
  while (end > start && (line[end - 1] === " " || line[end - 1] === "\t")) end--;
  const value = line.slice(start, end);
  if (!FIELD_VALUE.test(value)) {
    throw new HttpError(400, `Forbidden character in the value of header field "${name}"`);
  }
  return [name, value];
}

/** The comma-separated elements of header values, trimmed, lower case, empty ones dropped. */
function tokens(values: string[]): string[] {
  if (values.length === 0) return values;
  return values.flatMap((v) => v.split(",")).map((t) => t.trim().toLowerCase()).filter((t) =>
    t !== ""
  );
}

function bodyFraming(transferEncodings: string[], contentLengths: string[]): BodyFraming {
  if (transferEncodings.length > 0) {
    if (contentLengths.length > 0) {
      throw new HttpError(400, "Both Transfer-Encoding and Content-Length are present");
    }
    const codings = tokens(transferEncodings);
    if (codings.length === 1 && codings[0] === "chunked") return { type: "chunked" };
    if (codings.length === 0) throw new HttpError(400, "Empty Transfer-Encoding");
    throw new HttpError(
      501,
      `Transfer-Encoding ${JSON.stringify(codings.join(", "))} is not supported: use "chunked"`,
    );
  }
  if (contentLengths.length === 0) return { type: "none" };
  const lengths = new Set(contentLengths.flatMap((v) => v.split(",")).map((t) => t.trim()));
  if (lengths.size !== 1) throw new HttpError(400, "Conflicting Content-Length values");
  const [text] = lengths as Set<string>;
  if (!/^[0-9]{1,15}$/.test(text!)) {
    throw new HttpError(400, `Malformed Content-Length ${JSON.stringify(clip(text!))}`);
  }
  const length = Number(text);
  return length === 0 ? { type: "none" } : { type: "length", length };
}

function expectsContinue(expectations: string[]): boolean {
  const all = tokens(expectations);
  const other = all.find((e) => e !== "100-continue");
  if (other !== undefined) {
    throw new HttpError(417, `Expectation ${JSON.stringify(clip(other))} is not supported`);
  }
  return all.length > 0;
}

/** A bit of client text, short enough for an error message. */
function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

/** Options of {@linkcode ChunkedDecoder}. */
export interface ChunkedLimits {
  /** Largest decoded body; a body that grows past it throws 413. */
  maxBodyBytes: number;
  /** Largest chunk-size line or trailer section; more throws 431. */
  maxLineBytes: number;
}

type ChunkedState = "size" | "data" | "data-end" | "trailer" | "done";

/**
 * Decodes a `Transfer-Encoding: chunked` body fed in pieces as they arrive.
 * Chunk extensions and trailer fields are read and dropped.
 *
 * @example
 * ```ts
 * const decoder = new ChunkedDecoder({ maxBodyBytes: 1024, maxLineBytes: 1024 });
 * const bytes = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nGET /next");
 * decoder.decode(bytes); // 15: the rest belongs to the next request
 * decoder.done; // true
 * new TextDecoder().decode(decoder.body()); // "abc"
 * ```
 */
export class ChunkedDecoder {
  readonly #limits: ChunkedLimits;
  readonly #chunks: Uint8Array[] = [];
  #state: ChunkedState = "size";
  #line = "";
  #trailerBytes = 0;
  #remaining = 0;
  #size = 0;

  /** A decoder for one body. */
  constructor(limits: ChunkedLimits) {
    this.#limits = limits;
  }

  /** Whether the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Bytes of body decoded so far. */
  get size(): number {
    return this.#size;
  }

  /** The decoded body (all of it once {@linkcode done}). */
  body(): Uint8Array<ArrayBuffer> {
    const body = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      body.set(chunk, offset);
      offset += chunk.length;
    }
    return body;
  }

  /**
   * Decode what `bytes` holds of the body; returns how many bytes it used.
   * Once {@linkcode done}, the bytes left over belong to the next request.
   * Throws {@linkcode HttpError}: 400 for a malformed body, 413 past
   * `maxBodyBytes`, 431 for an overlong line.
   */
  decode(bytes: Uint8Array): number {
    let i = 0;
    while (i < bytes.length && this.#state !== "done") {
      if (this.#state === "data") {
        const n = Math.min(this.#remaining, bytes.length - i);
        this.#chunks.push(bytes.slice(i, i + n));
        this.#remaining -= n;
        i += n;
        if (this.#remaining === 0) this.#state = "data-end";
        continue;
      }
      const lf = bytes.indexOf(LF, i);
      const stop = lf < 0 ? bytes.length : lf + 1;
      this.#line += latin1(bytes.subarray(i, stop));
      i = stop;
      const pending = this.#line.length + (this.#state === "trailer" ? this.#trailerBytes : 0);
      if (pending > this.#limits.maxLineBytes) {
        throw new HttpError(431, "Chunk size line or trailer section too long");
      }
      if (lf < 0) break;
      if (!this.#line.endsWith("\r\n")) throw new HttpError(400, "Malformed chunked body");
      const line = this.#line.slice(0, -2);
      this.#line = "";
      this.#endOfLine(line);
    }
    return i;
  }

  #endOfLine(line: string): void {
    if (this.#state === "data-end") {
      if (line !== "") throw new HttpError(400, "Malformed chunked body: no CRLF after a chunk");
      this.#state = "size";
    } else if (this.#state === "size") {
      const match = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/.exec(line);
      if (match === null) {
        throw new HttpError(400, `Malformed chunk size ${JSON.stringify(clip(line))}`);
      }
      const size = Number.parseInt(match[1]!, 16);
      if (this.#size + size > this.#limits.maxBodyBytes) {
        throw new HttpError(413, tooLarge(this.#limits.maxBodyBytes));
      }
      this.#size += size;
      this.#remaining = size;
      this.#state = size === 0 ? "trailer" : "data";
    } else if (this.#state === "trailer") {
      this.#trailerBytes += line.length + 2;
      if (line === "") this.#state = "done";
      else parseFieldLine(line);
    }
  }
}

/** The message of a 413 answer. */
export function tooLarge(maxBodyBytes: number): string {
  return `Request body too large: the limit is ${maxBodyBytes} bytes`;
}
