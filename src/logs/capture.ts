/**
 * Copy the output pipe of a child process into its log file, one chunk at a
 * time, so that a service flooding its output is slowed down by the disk
 * instead of growing the orchestrator's memory.
 *
 * @module
 */

/** Bytes one read of a quiet pipe asks for. */
const QUIET_READ_BYTES = 1024;
/** Bytes one read asks for after a read that filled its buffer. */
const BUSY_READ_BYTES = 64 * 1024;

/** Where {@linkcode pipeToLog} writes; a {@linkcode LogFile} is one. */
export interface LogSink {
  /** Write one chunk; the next chunk is read only after this resolves. Should not reject. */
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Read `stream` chunk by chunk and write each chunk to `file`, awaiting the
 * write before reading the next one.
 *
 * Resolves at end of stream. Never rejects: an error while reading ends the
 * copy, and a sink that rejects despite its contract loses that chunk while
 * the copy goes on (stopping would leave the child blocked on a full pipe).
 *
 * @example
 * ```ts
 * import { LogFile } from "./log_file.ts";
 *
 * const child = new Deno.Command("sh", { args: ["-c", "echo hi"], stdout: "piped" }).spawn();
 * const file = new LogFile("/tmp/logs/demo.stdout.log", { maxBytes: 1_000_000, keep: 2 });
 * await pipeToLog(child.stdout, file);
 * await file.close();
 * ```
 *
 * @param stream The child's `stdout` or `stderr`.
 * @param file The log file of that stream.
 */
export async function pipeToLog(
  stream: ReadableStream<Uint8Array>,
  file: LogSink,
): Promise<void> {
  let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    try {
      reader = stream.getReader(); // not a byte stream
    } catch {
      return; // Locked by someone else: nothing this function can read.
    }
  }
  // A quiet pipe waits with a small buffer (a byte stream's own reads would
  // hold 64 KiB per idle pipe); a read that fills it asks for more next time.
  let size = QUIET_READ_BYTES;
  try {
    while (true) {
      const { done, value } = reader instanceof ReadableStreamBYOBReader
        ? await reader.read(new Uint8Array(size))
        : await reader.read();
      if (done || value === undefined) return;
      if (reader instanceof ReadableStreamBYOBReader) {
        size = value.byteLength === size ? BUSY_READ_BYTES : QUIET_READ_BYTES;
      }
      if (value.byteLength === 0) continue;
      try {
        await file.write(value);
      } catch {
        // Keep draining: a child blocked on a full pipe, or killed by SIGPIPE, is worse than a lost chunk.
      }
    }
  } catch {
    // A failed read ends the capture.
  } finally {
    try {
      reader.releaseLock();
    } catch {
      // Nothing to release.
    }
  }
}

const LF = 0x0a;
const NEWLINE = new Uint8Array([LF]);
const encoder = new TextEncoder();

/** Options of a {@linkcode TimestampSink}. */
export interface TimestampSinkOptions {
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/**
 * A {@linkcode LogSink} that begins each line with the time its first byte
 * arrived (the time of the chunk that brought it), in ISO 8601 with
 * milliseconds, and one space: `2026-12-02T10:00:00.123Z hello` (see
 * `times.ts` for the readers). A line split across two chunks gets the
 * time of the first.
 *
 * @example
 * ```ts
 * import { LogFile } from "./log_file.ts";
 *
 * const file = new LogFile("/tmp/logs/demo.stdout.log", { maxBytes: 1_000_000, keep: 2 });
 * const sink = new TimestampSink(file);
 * await sink.write(new TextEncoder().encode("hello\nwor"));
 * await sink.write(new TextEncoder().encode("ld\n"));
 * await file.close(); // "2026-…Z hello\n2026-…Z world\n"
 * ```
 */
export class TimestampSink implements LogSink {
  readonly #sink: LogSink;
  readonly #now: () => number;
  #atLineStart = true;

  /** Write the lines of each chunk to `sink`, each with its time first. */
  constructor(sink: LogSink, options: TimestampSinkOptions = {}) {
    this.#sink = sink;
    this.#now = options.now ?? Date.now;
  }

  /** Write `chunk` with a time before each line that begins in it. */
  write(chunk: Uint8Array): Promise<void> {
    const n = chunk.byteLength;
    if (n === 0) return this.#sink.write(chunk);
    const first = this.#atLineStart;
    this.#atLineStart = chunk[n - 1] === LF;
    // Where lines begin: after each newline but the last byte, and at 0 after a finished line.
    const starts: number[] = first ? [0] : [];
    for (let i = chunk.indexOf(LF); i >= 0 && i < n - 1; i = chunk.indexOf(LF, i + 1)) {
      starts.push(i + 1);
    }
    if (starts.length === 0) return this.#sink.write(chunk);
    const prefix = encoder.encode(`${new Date(this.#now()).toISOString()} `);
    const out = new Uint8Array(n + starts.length * prefix.byteLength);
    let to = 0;
    let from = 0;
    for (const start of starts) {
      out.set(chunk.subarray(from, start), to);
      to += start - from;
      out.set(prefix, to);
      to += prefix.byteLength;
      from = start;
    }
    out.set(chunk.subarray(from), to);
    return this.#sink.write(out);
  }

  /** End an unfinished last line with a newline (the process that wrote it is gone). */
  endLine(): Promise<void> {
    if (this.#atLineStart) return Promise.resolve();
    this.#atLineStart = true;
    return this.#sink.write(NEWLINE);
  }
}
