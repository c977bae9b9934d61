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
