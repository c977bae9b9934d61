/**
 * Read the last lines of a log file, and of its rotated predecessors when the
 * current file is short, reading backwards in blocks from the end so that a
 * large file is never loaded whole.
 *
 * @module
 */

/** Options of {@linkcode tailLines}. */
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
   * Longest line returned, in bytes; a longer line keeps only its last
   * `maxLineBytes` bytes, so one line without newlines cannot exhaust memory.
   * @default {1048576}
   */
  maxLineBytes?: number;
  /**
   * Read the current file only up to this byte offset (rotated files whole),
   * to tail exactly the part of a file that a follower has not read yet.
   * @default the current size
   */
  end?: number;
}

/**
 * The last `lines` lines of `path`, oldest first, without their line endings
 * (`\n` or `\r\n`).
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
 * @throws {RangeError} If `lines`, `keep`, `blockBytes` or `maxLineBytes` is out of range.
 */
export async function tailLines(
  path: string,
  lines: number,
  options: TailOptions = {},
): Promise<string[]> {
  const { keep = 0, blockBytes = 65_536, maxLineBytes = 1_048_576, end } = options;
  checkInteger("lines", lines, 0);
  checkInteger("keep", keep, 0);
  checkInteger("blockBytes", blockBytes, 1);
  checkInteger("maxLineBytes", maxLineBytes, 1);
  if (lines === 0) return [];

  const collector = new LineCollector(lines, maxLineBytes);
  let full = false;
  for (let i = 0; i <= keep && !full; i++) {
    const file = i === 0 ? path : `${path}.${i}`;
    full = await scanBackwards(file, blockBytes, collector, i === 0 ? end : undefined);
  }
  if (!full) collector.startOfStream();
  return collector.result();
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Cannot tail a log file: ${name} must be an integer >= ${min}, got ${value}`,
    );
  }
}

/** Feed the blocks of one file to `collector`, last block first; true once it has enough lines. */
async function scanBackwards(
  path: string,
  blockBytes: number,
  collector: LineCollector,
  limit: number | undefined,
): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    let end = limit === undefined ? size : Math.min(size, Math.max(0, limit));
    while (end > 0) {
      const start = Math.max(0, end - blockBytes);
      const block = new Uint8Array(end - start);
      await file.seek(start, Deno.SeekMode.Start);
      const n = await readFull(file, block);
      // A shorter read means the file was truncated meanwhile: use what is there.
      if (collector.pushBlock(block.subarray(0, n))) return true;
      end = start;
    }
    return false;
  } finally {
    file.close();
  }
}

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buf.byteLength) {
    const n = await file.read(buf.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

const LF = 0x0a;
const CR = 0x0d;

/** Splits a byte stream fed back to front into lines, keeping the last `wanted`. */
class LineCollector {
  readonly #wanted: number;
  readonly #maxLineBytes: number;
  /** Complete lines, newest first. */
  readonly #lines: Uint8Array[] = [];
  /** Pieces of the line being assembled, last piece first. */
  #pieces: Uint8Array[] = [];
  #pieceBytes = 0;
  #sawNewline = false;

  constructor(wanted: number, maxLineBytes: number) {
    this.#wanted = wanted;
    this.#maxLineBytes = maxLineBytes;
  }

  /** Take the block that precedes everything pushed so far; true once enough lines are collected. */
  pushBlock(block: Uint8Array): boolean {
    let end = block.byteLength;
    for (let i = end - 1; i >= 0; i--) {
      if (block[i] !== LF) continue;
      this.#addPiece(block.subarray(i + 1, end));
      end = i;
      if (!this.#sawNewline) {
        this.#sawNewline = true;
        // The newline that ends the stream closes the last line; it does not open an empty one.
        if (this.#pieceBytes === 0) continue;
      }
      this.#finishLine();
      if (this.#lines.length === this.#wanted) return true;
    }
    this.#addPiece(block.subarray(0, end));
    return false;
  }

  /** The beginning of the oldest file was reached: what is left is the first line. */
  startOfStream(): void {
    if (this.#pieceBytes > 0 || this.#sawNewline) this.#finishLine();
  }

  /** The collected lines, oldest first, decoded. */
  result(): string[] {
    const decoder = new TextDecoder();
    return this.#lines.map((line) => decoder.decode(line)).reverse();
  }

  #addPiece(piece: Uint8Array): void {
    const room = this.#maxLineBytes - this.#pieceBytes;
    if (room <= 0 || piece.byteLength === 0) return;
    const kept = piece.byteLength > room ? piece.subarray(piece.byteLength - room) : piece;
    this.#pieces.push(kept);
    this.#pieceBytes += kept.byteLength;
  }

  #finishLine(): void {
    // Copy, so that the line does not keep a whole block alive.
    const line = new Uint8Array(this.#pieceBytes);
    let offset = 0;
    for (let i = this.#pieces.length - 1; i >= 0; i--) {
      const piece = this.#pieces[i]!;
      line.set(piece, offset);
      offset += piece.byteLength;
    }
    const length = line.byteLength > 0 && line[line.byteLength - 1] === CR
      ? line.byteLength - 1
      : line.byteLength;
    this.#lines.push(line.subarray(0, length));
    this.#pieces = [];
    this.#pieceBytes = 0;
  }
}
