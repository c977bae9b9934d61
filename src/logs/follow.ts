/**
 * Follow log files like `tail -F`: the last lines first, then every line as
 * it is written, across rotations (`path` renamed to `path.1`, a new `path`
 * created) and truncations. Each follower polls with one `stat` per file and
 * tick and reads only what was appended, so many followers stay cheap.
 *
 * @module
 */
import { tailLines } from "./tail.ts";

/** Options of {@linkcode followLogFiles}. */
export interface FollowFilesOptions {
  /** How many of the last lines of each file to give first; `0` gives none. */
  lines: number;
  /**
   * How many rotated files (`path.1` …) to read for the first lines.
   * @default {0}
   */
  keep?: number;
  /** Ends the iteration when aborted. */
  signal: AbortSignal;
  /**
   * Milliseconds between two looks at the files.
   * @default {250}
   */
  intervalMs?: number;
  /**
   * Longest line given, in bytes; a longer line is cut into pieces of this size.
   * @default {1048576}
   */
  maxLineBytes?: number;
  /**
   * Most bytes read from one file per tick, so that a flood of output is
   * handed over in slices rather than loaded whole.
   * @default {1048576}
   */
  maxReadBytes?: number;
}

/** A file to follow and the label its lines come with. */
export interface FollowedFile<L extends string> {
  /** Label of the lines, for instance `stdout`. */
  label: L;
  /** Path of the current file. */
  path: string;
}

/** Lines of one file, oldest first. */
export interface FollowedLines<L extends string> {
  /** Label of the file. */
  label: L;
  /** The lines, without line endings. */
  lines: string[];
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The last `lines` lines of each file (one batch per file, in the order
 * given), then batches of new lines as they are written, until `signal` is
 * aborted. A final line without a newline is held back until it is complete.
 *
 * The iteration is pulled: while the consumer does not ask for more, the
 * files are not read.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * for await (const { label, lines } of followLogFiles(
 *   [{ label: "stdout", path: "logs/api.stdout.log" }],
 *   { lines: 10, keep: 3, signal: ac.signal },
 * )) {
 *   for (const line of lines) console.log(label, line);
 * }
 * ```
 */
export async function* followLogFiles<L extends string>(
  files: FollowedFile<L>[],
  options: FollowFilesOptions,
): AsyncGenerator<FollowedLines<L>, void, undefined> {
  const { signal, intervalMs = 250 } = options;
  const cursors = files.map((f) => ({ label: f.label, cursor: new FileCursor(f.path, options) }));
  try {
    for (const { label, cursor } of cursors) {
      const lines = await cursor.begin(options.lines, options.keep ?? 0);
      if (signal.aborted) return;
      yield { label, lines };
    }
    while (!signal.aborted) {
      let more = false;
      for (const { label, cursor } of cursors) {
        const lines = await cursor.poll();
        if (signal.aborted) return;
        if (lines.length > 0) yield { label, lines };
        more ||= cursor.behind;
      }
      if (!more) await sleep(intervalMs, signal);
    }
  } finally {
    for (const { cursor } of cursors) cursor.close();
  }
}

/** Resolve after `ms`, or at once when `signal` is aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Read position in one followed file, kept across rotations. */
class FileCursor {
  readonly #path: string;
  readonly #maxLineBytes: number;
  readonly #maxReadBytes: number;
  readonly #keep: number;
  #file: Deno.FsFile | undefined;
  #ino: number | null = null;
  #offset = 0;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #buffer: Uint8Array;
  /** The last poll stopped at `maxReadBytes` with more to read. */
  behind = false;

  constructor(path: string, options: FollowFilesOptions) {
    this.#path = path;
    this.#maxLineBytes = options.maxLineBytes ?? 1_048_576;
    this.#maxReadBytes = options.maxReadBytes ?? 1_048_576;
    this.#keep = options.keep ?? 0;
    this.#buffer = new Uint8Array(Math.min(16_384, this.#maxReadBytes));
  }

  /** Open the file and return its last `lines` complete lines; the position is set after them. */
  async begin(lines: number, keep: number): Promise<string[]> {
    let end: number | undefined = undefined;
    if (await this.#open()) {
      end = await this.#lastLineStart(this.#file!);
      this.#offset = end;
      await this.#file!.seek(end, Deno.SeekMode.Start);
    }
    return lines === 0 ? [] : await tailLines(this.#path, lines, { keep, end });
  }

  /** Lines completed since the last call. */
  async poll(): Promise<string[]> {
    const out: string[] = [];
    this.behind = false;
    let budget = this.#maxReadBytes;
    if (this.#file) budget -= this.#drain(out, budget);
    if (budget <= 0) {
      this.behind = true;
      return out;
    }
    let info: Deno.FileInfo;
    try {
      // Synchronous: a local stat or read costs microseconds, less than an async op's round trip,
      // and a poll that finds nothing new is the common case of every follower.
      info = Deno.statSync(this.#path);
    } catch {
      return out; // Between a rename and the next write, or never written: look again later.
    }
    if (this.#file === undefined || info.ino !== this.#ino) {
      if (this.#file) {
        // Rotated: what was appended to the old file before the rename comes first.
        budget -= this.#drain(out, Number.MAX_SAFE_INTEGER);
        const oldIno = this.#ino;
        this.#closeFile();
        // A line cut by the rotation goes on in the next file: the unfinished part is kept.
        await this.#readMissedRotations(out, oldIno, info.ino);
      }
      if (await this.#open()) this.#offset = 0;
      if (this.#file) this.#drain(out, Math.max(budget, 0));
    } else if (info.size < this.#offset) {
      // Truncated in place: start over from the beginning.
      this.#flushPartial(out);
      this.#offset = 0;
      await this.#file.seek(0, Deno.SeekMode.Start);
      this.#drain(out, budget);
    }
    return out;
  }

  /** Release the file. */
  close(): void {
    this.#closeFile();
  }

  /**
   * Read whole the rotated files (`path.k` … `path.1`) written after the one
   * just drained: several rotations happened between two looks. Without
   * `keep`, nothing but `path.1` is looked at.
   */
  async #readMissedRotations(out: string[], oldIno: number | null, newIno: number | null) {
    const missed: Deno.FsFile[] = [];
    try {
      for (let i = 1; i <= Math.max(1, this.#keep); i++) {
        let file: Deno.FsFile;
        try {
          file = await Deno.open(`${this.#path}.${i}`, { read: true });
        } catch {
          break;
        }
        const ino = (await file.stat()).ino;
        if (ino === oldIno || ino === newIno) {
          file.close();
          break;
        }
        missed.push(file);
      }
      // Oldest first: path.k was written before path.1.
      for (const file of missed.reverse()) {
        this.#file = file;
        this.#drain(out, Number.MAX_SAFE_INTEGER);
      }
    } finally {
      this.#file = undefined;
      for (const file of missed) {
        try {
          file.close();
        } catch {
          // Already closed.
        }
      }
    }
  }

  async #open(): Promise<boolean> {
    try {
      const file = await Deno.open(this.#path, { read: true });
      this.#file = file;
      this.#ino = (await file.stat()).ino;
      return true;
    } catch {
      return false;
    }
  }

  /** Offset just after the last newline (the start of an unfinished last line). */
  async #lastLineStart(file: Deno.FsFile): Promise<number> {
    const size = (await file.stat()).size;
    if (size === 0) return 0;
    const start = Math.max(0, size - 65_536);
    const block = new Uint8Array(size - start);
    await file.seek(start, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < block.byteLength) {
      const n = await file.read(block.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    const last = block.subarray(0, filled).lastIndexOf(LF);
    if (last >= 0) return start + last + 1;
    return start === 0 ? 0 : size;
  }

  /** Read up to `budget` bytes from the current position; returns how many were read. */
  #drain(out: string[], budget: number): number {
    const file = this.#file;
    if (!file) return 0;
    let total = 0;
    while (total < budget) {
      const want = Math.min(this.#buffer.byteLength, budget - total);
      let n: number | null;
      try {
        n = file.readSync(this.#buffer.subarray(0, want));
      } catch {
        break;
      }
      if (n === null || n === 0) break;
      total += n;
      this.#offset += n;
      this.#split(this.#buffer.subarray(0, n), out);
    }
    return total;
  }

  #split(chunk: Uint8Array, out: string[]): void {
    let start = 0;
    while (start < chunk.byteLength) {
      const lf = chunk.indexOf(LF, start);
      if (lf < 0) {
        this.#addPartial(chunk.subarray(start), out);
        return;
      }
      this.#addPartial(chunk.subarray(start, lf), out);
      this.#finishLine(out);
      start = lf + 1;
    }
  }

  #addPartial(piece: Uint8Array, out: string[]): void {
    let rest = piece;
    while (rest.byteLength > 0) {
      const room = this.#maxLineBytes - this.#partialBytes;
      const take = rest.subarray(0, room);
      this.#partial.push(take.slice());
      this.#partialBytes += take.byteLength;
      rest = rest.subarray(take.byteLength);
      if (this.#partialBytes >= this.#maxLineBytes) this.#finishLine(out);
    }
  }

  #flushPartial(out: string[]): void {
    if (this.#partialBytes > 0) this.#finishLine(out);
  }

  #finishLine(out: string[]): void {
    const line = new Uint8Array(this.#partialBytes);
    let offset = 0;
    for (const piece of this.#partial) {
      line.set(piece, offset);
      offset += piece.byteLength;
    }
    this.#partial = [];
    this.#partialBytes = 0;
    const length = line.byteLength > 0 && line[line.byteLength - 1] === CR
      ? line.byteLength - 1
      : line.byteLength;
    out.push(decoder.decode(line.subarray(0, length)));
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = undefined;
    if (!file) return;
    try {
      file.close();
    } catch {
      // Already closed.
    }
  }
}

const decoder = new TextDecoder();
