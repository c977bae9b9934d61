/**
 * Read the last lines of a log, reading backwards in blocks from the end of
 * the current file and on into its rotated predecessors, within a fixed
 * memory bound whatever the number of lines asked for and their length.
 *
 * The files are opened in one synchronous step (see `snapshot.ts`), so that a
 * rotation during the read changes nothing: the lines come from one
 * consistent sequence of files, never repeated, missing in the middle, out
 * of order or spliced. At most {@linkcode MAX_CONCURRENT_TAILS} tails read at
 * once; the others wait their turn.
 *
 * @module
 */
import { Semaphore } from "./semaphore.ts";
import { type LogHandle, openSnapshot, releaseAll } from "./snapshot.ts";

/** Most bytes of lines one tail returns, by default: the newest lines that fit. */
export const TAIL_MAX_BYTES = 1_048_576;

/** Longest line returned whole, in bytes, by default. */
export const MAX_LINE_BYTES = 1_048_576;

/** Tails that read at once; the others wait in the order they came. */
export const MAX_CONCURRENT_TAILS = 4;

/** Options of {@linkcode tailLines} and {@linkcode tailSources}. */
export interface TailOptions {
  /**
   * How many rotated files (`path.1` … `path.{keep}`) to read, newest first,
   * when the current file has fewer lines than asked for. Missing ones are skipped.
   * @default {0}
   */
  keep?: number;
  /**
   * Size of each block read from the end of a file, in bytes.
   * @default {65536}
   */
  blockBytes?: number;
  /**
   * Longest line returned whole, in bytes (at most `maxBytes`): a longer line
   * keeps its first `maxLineBytes` bytes and ends with
   * {@linkcode cutLineMarker}, so one line without newlines cannot exhaust memory.
   * @default {1048576}
   */
  maxLineBytes?: number;
  /**
   * Most bytes of lines returned (before decoding, without line endings):
   * the newest lines that fit.
   * @default {1048576}
   */
  maxBytes?: number;
}

/** The end of a line cut to its first bytes: `bytes` more were left out. */
export function cutLineMarker(bytes: number): string {
  return ` [edgevisor: line cut, ${bytes} more bytes left out]`;
}

/** A file of a log to tail, read up to `end` (exclusive). */
export interface TailSource {
  /** The open file. */
  file: LogHandle;
  /** Where its part of the log ends, in bytes. */
  end: number;
}

const tailSlots = new Semaphore(MAX_CONCURRENT_TAILS);

/**
 * The last `lines` lines of the log at `path`, oldest first, without their
 * line endings (`\n` or `\r\n`), at most `maxBytes` bytes of them.
 *
 * The current file and its rotated files are read as one stream
 * (`path.{keep}` … `path.1`, `path`), so a line split by a rotation comes back
 * whole. A final line without a newline counts as a line. Bytes are decoded as
 * UTF-8, with invalid sequences replaced by U+FFFD.
 *
 * @example
 * ```ts
 * const last = await tailLines("/var/log/edgevisor/api.stdout.log", 100, { keep: 3 });
 * ```
 *
 * @param path The current log file.
 * @param lines How many lines to return at most; `0` returns `[]`.
 * @param options See {@linkcode TailOptions}.
 * @returns The lines, `[]` when no file exists.
 * @throws {RangeError} If `lines`, `keep`, `blockBytes`, `maxLineBytes` or `maxBytes` is out of range.
 */
export async function tailLines(
  path: string,
  lines: number,
  options: TailOptions = {},
): Promise<string[]> {
  const settings = checkOptions(lines, options);
  if (lines === 0) return [];
  return await tailSlots.run(async () => {
    // Opened once the turn has come: a waiting tail holds no descriptor.
    const files = openSnapshot(path, settings.keep);
    try {
      return await collect(
        files.map((file) => ({ file, end: file.size() })),
        lines,
        settings,
        true,
      );
    } finally {
      releaseAll(files);
    }
  });
}

/**
 * The last `lines` complete lines of the stream made of `sources` (newest
 * first, each read up to its `end`), oldest first, as {@linkcode tailLines}
 * gives them but without the unfinished line after the last newline, in the
 * same turn of at most {@linkcode MAX_CONCURRENT_TAILS} at once. The caller
 * keeps its references to the files. `options.keep` is not used.
 *
 * @throws {RangeError} If `lines`, `blockBytes`, `maxLineBytes` or `maxBytes` is out of range.
 */
export async function tailSources(
  sources: TailSource[],
  lines: number,
  options: TailOptions = {},
): Promise<string[]> {
  const settings = checkOptions(lines, options);
  if (lines === 0 || sources.length === 0) return [];
  return await tailSlots.run(() => collect(sources, lines, settings, false));
}

/**
 * Resolve once the event loop has polled I/O and run the timers that were
 * due. A timer, not `setImmediate` or a message: Deno runs those before it
 * polls I/O again, so a chain of them starves the sockets.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

interface Settings {
  keep: number;
  blockBytes: number;
  maxLineBytes: number;
  maxBytes: number;
}

function checkOptions(lines: number, options: TailOptions): Settings {
  const {
    keep = 0,
    blockBytes = 65_536,
    maxLineBytes = MAX_LINE_BYTES,
    maxBytes = TAIL_MAX_BYTES,
  } = options;
  checkInteger("lines", lines, 0);
  checkInteger("keep", keep, 0);
  checkInteger("blockBytes", blockBytes, 1);
  checkInteger("maxLineBytes", maxLineBytes, 1);
  checkInteger("maxBytes", maxBytes, 1);
  return { keep, blockBytes, maxLineBytes: Math.min(maxLineBytes, maxBytes), maxBytes };
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Cannot tail a log file: ${name} must be an integer >= ${min}, got ${value}`,
    );
  }
}

/** Bytes a tail reads between two yields to the event loop. */
const YIELD_BYTES = 65_536;

/** Feed the blocks of `sources` to a collector, last block first, yielding every `YIELD_BYTES`. */
async function collect(
  sources: TailSource[],
  lines: number,
  settings: Settings,
  keepUnfinished: boolean,
): Promise<string[]> {
  const collector = new LineCollector(lines, settings, keepUnfinished);
  const block = new Uint8Array(settings.blockBytes);
  let sinceYield = 0;
  scan: for (const { file, end: fileEnd } of sources) {
    let end = fileEnd;
    while (end > 0) {
      const start = Math.max(0, end - block.byteLength);
      const wanted = end - start;
      // A shorter read means the file was truncated meanwhile: what came before is gone.
      if (file.read(block.subarray(0, wanted), start) < wanted) break scan;
      if (collector.pushBlock(block.subarray(0, wanted))) return collector.result();
      end = start;
      sinceYield += wanted;
      if (sinceYield >= YIELD_BYTES) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
  }
  collector.startOfStream();
  return collector.result();
}

const LF = 0x0a;
const CR = 0x0d;

/** Splits a byte stream fed back to front into lines, keeping the newest that fit. */
class LineCollector {
  readonly #wanted: number;
  readonly #maxBytes: number;
  readonly #maxLineBytes: number;
  readonly #keepUnfinished: boolean;
  /** Complete lines, newest first, with how many bytes were cut from each. */
  readonly #lines: { bytes: Uint8Array; cut: number }[] = [];
  #bytes = 0;
  #full = false;
  /** A newline was seen: the bytes now collected belong to a complete line. */
  #inLine = false;
  /** Pieces of the line being assembled in the order they came (its end first), from `#first` on. */
  #pieces: Uint8Array[] = [];
  #first = 0;
  #kept = 0;
  #total = 0;
  /** A byte of the line being assembled has been seen (its last, maybe a CR left out). */
  #endSeen = false;

  constructor(wanted: number, settings: Settings, keepUnfinished: boolean) {
    this.#wanted = wanted;
    this.#maxBytes = settings.maxBytes;
    this.#maxLineBytes = settings.maxLineBytes;
    this.#keepUnfinished = keepUnfinished;
  }

  /** Take the block that precedes everything pushed so far; true once no more is needed. */
  pushBlock(block: Uint8Array): boolean {
    let end = block.byteLength;
    for (let i = end - 1; i >= 0 && !this.#full; i--) {
      if (block[i] !== LF) continue;
      this.#addPiece(block.subarray(i + 1, end));
      end = i;
      if (this.#inLine) this.#finishLine();
      else {
        // The newline that ends the stream: what came after it is unfinished.
        this.#inLine = true;
        if (this.#endSeen && this.#keepUnfinished) this.#finishLine();
        else this.#startLine();
      }
    }
    if (!this.#full) this.#addPiece(block.subarray(0, end));
    return this.#full;
  }

  /** The beginning of the oldest file was reached: what is left is the first line. */
  startOfStream(): void {
    if (this.#full) return;
    if (this.#inLine || (this.#endSeen && this.#keepUnfinished)) this.#finishLine();
  }

  /** The collected lines, oldest first, decoded. */
  result(): string[] {
    const decoder = new TextDecoder();
    return this.#lines.map(({ bytes, cut }) =>
      cut > 0 ? decoder.decode(bytes) + cutLineMarker(cut) : decoder.decode(bytes)
    ).reverse();
  }

  #addPiece(piece: Uint8Array): void {
    if (piece.byteLength === 0 || this.#full) return;
    if (!this.#endSeen) {
      this.#endSeen = true;
      // A CR just before the newline is part of the line ending.
      if (piece[piece.byteLength - 1] === CR) piece = piece.subarray(0, -1);
      if (piece.byteLength === 0) return;
    }
    this.#total += piece.byteLength;
    this.#pieces.push(piece.slice());
    this.#kept += piece.byteLength;
    // Too long: keep the head of the line, drop from its end.
    while (this.#kept > this.#maxLineBytes) {
      const last = this.#pieces[this.#first]!;
      const excess = this.#kept - this.#maxLineBytes;
      if (last.byteLength <= excess) {
        this.#first++;
        this.#kept -= last.byteLength;
      } else {
        this.#pieces[this.#first] = last.subarray(0, last.byteLength - excess);
        this.#kept -= excess;
      }
    }
    // A line to keep that can no longer fit in what is left of the budget.
    const kept = this.#inLine || this.#keepUnfinished;
    if (kept && this.#kept > this.#maxBytes - this.#bytes) this.#full = true;
  }

  #finishLine(): void {
    if (this.#bytes + this.#kept > this.#maxBytes) {
      this.#full = true;
      return;
    }
    const line = new Uint8Array(this.#kept);
    let offset = 0;
    for (let i = this.#pieces.length - 1; i >= this.#first; i--) {
      const piece = this.#pieces[i]!;
      line.set(piece, offset);
      offset += piece.byteLength;
    }
    this.#lines.push({ bytes: line, cut: this.#total - this.#kept });
    this.#bytes += line.byteLength;
    if (this.#lines.length === this.#wanted) this.#full = true;
    this.#startLine();
  }

  #startLine(): void {
    this.#pieces = [];
    this.#first = 0;
    this.#kept = 0;
    this.#total = 0;
    this.#endSeen = false;
  }
}
