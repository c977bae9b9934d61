/**
 * The parser of `text/event-stream`, shared by the command line (`top`,
 * `logs -f`) and the web page. It imports nothing.
 *
 * @module
 */

/** One event of a `text/event-stream`. */
export interface SseMessage {
  /** The `event:` field, `message` when there was none. */
  event: string;
  /** The `data:` lines, joined with newlines. */
  data: string;
}

/**
 * Reads a `text/event-stream` fed in pieces of any size, as the HTML
 * standard says: lines end with CRLF, LF or CR; a blank line ends an event;
 * `:` starts a comment; `event`, `data` and `retry` are read, `id` and
 * other fields ignored.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * parser.feed("event: snapshot\ndata: {}\n"); // []
 * parser.feed("\n"); // [{ event: "snapshot", data: "{}" }]
 * ```
 */
export class SseParser {
  #rest = "";
  #afterCr = false;
  #event = "";
  #data: string[] = [];
  #retryMs: number | undefined;

  /** Milliseconds of the last `retry:` field, if one came. */
  get retryMs(): number | undefined {
    return this.#retryMs;
  }

  /** Read the next piece of text; returns the events it completes. */
  feed(text: string): SseMessage[] {
    // A CR that ended the previous piece may be the first half of a CRLF.
    if (this.#afterCr && text.startsWith("\n")) text = text.slice(1);
    this.#afterCr = text.endsWith("\r");
    const lines = (this.#rest + text).split(/\r\n|\r|\n/);
    this.#rest = lines.pop() ?? "";
    const messages: SseMessage[] = [];
    for (const line of lines) {
      if (line === "") {
        if (this.#data.length > 0) {
          messages.push({ event: this.#event || "message", data: this.#data.join("\n") });
        }
        this.#event = "";
        this.#data = [];
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
      if (field === "event") this.#event = value;
      else if (field === "data") this.#data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) this.#retryMs = Number(value);
    }
    return messages;
  }
}
