/**
 * An append-only log file with size-based rotation that never throws out of
 * {@linkcode LogFile.write}: when the disk is full or the directory is gone,
 * output is dropped and counted, reported at most once per interval, and
 * writing resumes by itself once the file can be opened again.
 *
 * A rotation is one synchronous step (renames, then the open of the new
 * file), so that a reader of the same process that opens `path`, `path.1` …
 * `path.{keep}` in one synchronous step (see `snapshot.ts`) always sees a
 * whole sequence of files. {@linkcode LogFile.outputOffset} tells such a
 * reader where each file begins in the output, to count what it missed.
 *
 * @module
 */

import { dirname } from "../path.ts";

/** Options of a {@linkcode LogFile}. */
export interface LogFileOptions {
  /**
   * Rotate before a write would make the file larger than this many bytes.
   * A single chunk larger than this is still written whole, to a fresh file.
   */
  maxBytes: number;
  /**
   * How many rotated files (`path.1` … `path.{keep}`) to keep; `0` truncates
   * the file and starts over instead of rotating.
   */
  keep: number;
  /**
   * Called when output had to be dropped, at most once per `reportIntervalMs`.
   * The error names the file and the number of bytes dropped since the last report.
   */
  onError?: (err: Error) => void;
  /**
   * Shortest time between two calls of `onError`, in milliseconds.
   * @default {60_000}
   */
  reportIntervalMs?: number;
  /**
   * Clock used to space out reports, in milliseconds.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * One log file of one captured stream, rotated by size.
 *
 * Writes are serialised: each call to {@linkcode LogFile.write} runs after the
 * previous one finished, so the size bookkeeping and rotation stay exact even
 * when callers do not await.
 *
 * @example
 * ```ts
 * const file = new LogFile("/var/log/edgevisor/api.stdout.log", { maxBytes: 10_000_000, keep: 3 });
 * await file.write(new TextEncoder().encode("hello\n"));
 * await file.close();
 * ```
 */
export class LogFile {
  /** The open log files of this process, by path, for {@linkcode LogFile.outputOffset}. */
  static readonly #writers = new Map<string, LogFile>();

  readonly #path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #reportIntervalMs: number;
  readonly #now: () => number;

  #file: Deno.FsFile | undefined;
  #size = 0;
  /** Bytes of output so far: what the first file held when opened, then every byte written. */
  #output = 0;
  /** Where each file begins in the output, by inode; the newest `keep + 1` files. */
  readonly #starts = new Map<number, number>();
  #queue: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #droppedBytes = 0;
  #droppedSinceReport = 0;
  #lastReportAt: number | undefined;

  /**
   * Create a log file; nothing is opened until the first write.
   *
   * @throws {TypeError} If `path` is empty.
   * @throws {RangeError} If `maxBytes` is not a positive integer, `keep` not a
   * non-negative integer, or `reportIntervalMs` not a non-negative number.
   */
  constructor(path: string, options: LogFileOptions) {
    if (typeof path !== "string" || path === "") {
      throw new TypeError("Cannot create a log file: the path is empty");
    }
    const { maxBytes, keep, onError, reportIntervalMs = 60_000, now = Date.now } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
      throw new RangeError(`Cannot create log file "${path}": maxBytes must be a positive integer`);
    }
    if (!Number.isSafeInteger(keep) || keep < 0) {
      throw new RangeError(`Cannot create log file "${path}": keep must be a non-negative integer`);
    }
    if (!(reportIntervalMs >= 0)) {
      throw new RangeError(
        `Cannot create log file "${path}": reportIntervalMs must be a non-negative number`,
      );
    }
    this.#path = path;
    this.#maxBytes = maxBytes;
    this.#keep = keep;
    this.#onError = onError;
    this.#reportIntervalMs = reportIntervalMs;
    this.#now = now;
  }

  /** Path of the current file; rotated files are `path.1`, `path.2`, … */
  get path(): string {
    return this.#path;
  }

  /**
   * Where the file with inode `ino` of the log at `path` begins in the
   * output of the {@linkcode LogFile} of this process that writes it, with
   * that writer (offsets of two writers do not compare). Undefined when no
   * open `LogFile` of this process wrote that file.
   */
  static outputOffset(
    path: string,
    ino: number,
  ): { writer: LogFile; offset: number } | undefined {
    const writer = LogFile.#writers.get(path);
    if (writer === undefined) return undefined;
    const offset = writer.#starts.get(ino);
    return offset === undefined ? undefined : { writer, offset };
  }

  /** Total bytes that could not be written (including writes after {@linkcode LogFile.close}). */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /**
   * Append a chunk, rotating first if it would push the file over `maxBytes`.
   *
   * Resolves once the whole chunk is written or dropped; never rejects. After
   * {@linkcode LogFile.close} the chunk is dropped and counted, without a report.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#closing !== undefined) {
      this.#droppedBytes += chunk.byteLength;
      return Promise.resolve();
    }
    const next = this.#queue.then(() => this.#write(chunk));
    this.#queue = next;
    return next;
  }

  /** Wait for pending writes, then close the file. Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= this.#queue.then(() => {
      this.#closeHandle();
      if (LogFile.#writers.get(this.#path) === this) LogFile.#writers.delete(this.#path);
    });
    return this.#closing;
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    let written = 0;
    try {
      let file = this.#file ?? await this.#open();
      if (this.#size > 0 && this.#size + chunk.byteLength > this.#maxBytes) {
        file = this.#rotate(file);
      }
      while (written < chunk.byteLength) {
        const n = await file.write(chunk.subarray(written));
        if (n <= 0) throw new Error("the system wrote 0 bytes");
        written += n;
        this.#size += n;
        this.#output += n;
      }
    } catch (err) {
      this.#closeHandle();
      this.#drop(chunk.byteLength - written, err);
    }
  }

  async #open(): Promise<Deno.FsFile> {
    await Deno.mkdir(dirname(this.#path), { recursive: true });
    return this.#openSync();
  }

  /**
   * Open (or create) the current file and note where it begins in the output:
   * here when `fresh` (just rotated: its inode may be one a deleted file had),
   * else where it began when it was written before, if it was.
   */
  #openSync(fresh = false): Deno.FsFile {
    const file = Deno.openSync(this.#path, { append: true, create: true, mode: 0o644 });
    let info: Deno.FileInfo;
    try {
      info = file.statSync();
    } catch (err) {
      file.close();
      throw err;
    }
    this.#size = info.size;
    this.#file = file;
    if (info.ino !== null && (fresh || !this.#starts.has(info.ino))) {
      this.#noteStart(info.ino, this.#output);
      this.#output += info.size; // bytes already there count as output written before
    }
    if (this.#closing === undefined) LogFile.#writers.set(this.#path, this);
    return file;
  }

  #noteStart(ino: number, offset: number): void {
    this.#starts.delete(ino);
    this.#starts.set(ino, offset);
    for (const old of this.#starts.keys()) {
      if (this.#starts.size <= this.#keep + 1) break;
      this.#starts.delete(old);
    }
  }

  /**
   * Move the current file out of the way (or truncate it when keep is 0) and
   * return the handle to write to. Synchronous from start to end: no reader of
   * this process can see the files half rotated.
   */
  #rotate(file: Deno.FsFile): Deno.FsFile {
    if (this.#keep === 0) {
      file.truncateSync(0);
      this.#size = 0;
      const ino = file.statSync().ino;
      if (ino !== null) this.#noteStart(ino, this.#output);
      return file;
    }
    this.#closeHandle();
    for (let i = this.#keep - 1; i >= 1; i--) {
      renameIfExists(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
    }
    renameIfExists(this.#path, `${this.#path}.1`);
    return this.#openSync(true);
  }

  #closeHandle(): void {
    const file = this.#file;
    this.#file = undefined;
    this.#size = 0;
    if (file === undefined) return;
    try {
      file.close();
    } catch {
      // Already closed or the descriptor is gone: nothing left to release.
    }
  }

  #drop(bytes: number, cause: unknown): void {
    this.#droppedBytes += bytes;
    this.#droppedSinceReport += bytes;
    if (this.#onError === undefined) return;
    const now = this.#now();
    if (this.#lastReportAt !== undefined && now - this.#lastReportAt < this.#reportIntervalMs) {
      return;
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    const err = new Error(
      `Cannot write log file "${this.#path}": ${reason} (${this.#droppedSinceReport} bytes dropped since the last report)`,
      { cause },
    );
    this.#lastReportAt = now;
    this.#droppedSinceReport = 0;
    try {
      this.#onError(err);
    } catch {
      // A failing reporter must not turn a dropped log line into a crash.
    }
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
