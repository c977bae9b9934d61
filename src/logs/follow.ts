/**
 * Follow logs like `tail -F`: the last lines first, then every line as it is
 * written, across rotations (`path` renamed to `path.1`, a new `path`) and
 * truncations, with one shared reader per file however many follow it.
 *
 * A shared reader exists while it has followers. It reads what was appended
 * with one cursor, in slices of at most `sliceBytes`, yielding to the event
 * loop between slices and polling every `intervalMs` once caught up, and
 * hands each batch to every follower. It reads only while at least one
 * follower waits for lines. Files are identified by inode and read through
 * descriptors opened in one synchronous step (see `snapshot.ts`): behind the
 * writer, it still reads the rotated files in order (`path.k` … `path.1`,
 * `path`). When files it had not read were rotated away, it hands over a
 * marker batch (`skipped`, see {@linkcode skipMarker}) and goes on with the
 * oldest file still on disk.
 *
 * A follower that joins gets the last lines up to exactly where the shared
 * cursor stands, then the live batches: nothing is missed or repeated
 * between them. A follower holding more than `maxQueuedBytes` of lines it
 * has not taken is dropped. At most `maxFollowers` follow at once, and the
 * readers together hand over at most `bytesPerSecond` (a batch counts once
 * per follower), so that streams of a flooding service leave the
 * orchestrator its time for supervision.
 *
 * A file followed with `times` gives the times of its lines in `at`: for a
 * file written with times (`log.timestamps`, see `times.ts`), its batches
 * give the lines without their time prefixes, and a follower may ask for
 * the lines since a time only.
 *
 * @module
 */
import { UnavailableError } from "../errors.ts";
import type { LogLines } from "../types.ts";
import { LogFile } from "./log_file.ts";
import { type LogHandle, openSnapshot, releaseAll } from "./snapshot.ts";
import { batchSince, timedBatch } from "./times.ts";
import {
  MAX_LINE_BYTES,
  TAIL_MAX_BYTES,
  type TailSource,
  tailSources,
  yieldToEventLoop,
} from "./tail.ts";

/** Followers open at once in one {@linkcode LogFollowers}, by default. */
export const MAX_FOLLOWERS = 64;

/** Bytes of lines that may wait for one follower, by default; past it the follower is dropped. */
export const FOLLOWER_QUEUE_BYTES = 1_048_576;

/** Most bytes a shared reader reads between two yields to the event loop, by default. */
export const SLICE_BYTES = 262_144;

/** Bytes all shared readers together hand to their followers per second, by default. */
export const DELIVERED_BYTES_PER_SECOND = 8 * 1024 * 1024;

/**
 * The line of the batch that marks a gap: `bytes` of output (`null`: an
 * unknown amount) were rotated away before they were read.
 *
 * @example
 * ```ts
 * skipMarker(5_242_880);
 * // "[edgevisor: 5242880 bytes of output skipped: the log rotated faster than it was read]"
 * ```
 */
export function skipMarker(bytes: number | null): string {
  const what = bytes === null ? "output" : `${bytes} bytes of output`;
  return `[edgevisor: ${what} skipped: the log rotated faster than it was read]`;
}

/** A file to follow and the stream its lines come with. */
export interface FollowedFile {
  /** Stream of the lines. */
  stream: LogLines["stream"];
  /** Path of the current file. */
  path: string;
  /**
   * Give the times of the lines in `at`: `true` for a file written with
   * times (batches give the lines without their prefixes), `false` for one
   * written without (every time null). Without it, batches have no `at`.
   */
  times?: boolean;
}

/** Lines of one followed file, oldest first: the {@linkcode LogLines} of the API. */
export type FollowedLines = LogLines;

/** Options of {@linkcode LogFollowers.follow}. */
export interface FollowFilesOptions {
  /** How many of the last lines of each file to give first; `0` gives none (still one empty batch). */
  lines: number;
  /**
   * How many rotated files (`path.1` …) the log keeps.
   * @default {0}
   */
  keep?: number;
  /** Ends the iteration when aborted. */
  signal: AbortSignal;
  /**
   * Milliseconds between two looks at a file once everything was read (the
   * shortest of its followers' counts).
   * @default {250}
   */
  intervalMs?: number;
  /** Called once if the follower is dropped for holding more than `maxQueuedBytes`. */
  onDropped?: (reason: string) => void;
  /**
   * Only lines that arrived at or after this time, ms since the epoch (files
   * followed with `times`; a line without a time stands where the last timed
   * line before it stands).
   */
  sinceMs?: number;
}

/** Options of a {@linkcode LogFollowers}. */
export interface LogFollowersOptions {
  /**
   * Followers open at once; one more throws `UnavailableError`.
   * @default {64}
   */
  maxFollowers?: number;
  /**
   * Bytes of lines that may wait for one follower that has not taken them;
   * past it the follower is dropped.
   * @default {1048576}
   */
  maxQueuedBytes?: number;
  /**
   * Most bytes a shared reader reads before it hands them over and yields.
   * @default {262144}
   */
  sliceBytes?: number;
  /**
   * Longest line given whole, in bytes; a longer line is cut into pieces of this size.
   * @default {1048576}
   */
  maxLineBytes?: number;
  /**
   * Most bytes of lines in the last lines a follower gets first, per file.
   * @default {1048576}
   */
  backlogBytes?: number;
  /**
   * Bytes the shared readers together hand to their followers per second (a
   * batch counts once per follower it goes to), so that log streams leave the
   * orchestrator time for everything else; a reader that reaches it waits.
   * @default {8388608}
   */
  bytesPerSecond?: number;
}

/** A budget of bytes per second shared by the readers of a {@linkcode LogFollowers}. */
class Pace {
  /** Most bytes spent at once: a tenth of a second's worth. */
  readonly burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at = performance.now();

  constructor(bytesPerSecond: number) {
    this.#perMs = bytesPerSecond / 1000;
    this.burst = bytesPerSecond / 10;
    this.#tokens = this.burst;
  }

  /** Spend `bytes`; how many milliseconds to wait before spending more. */
  spend(bytes: number): number {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.#perMs) - bytes;
    this.#at = now;
    return this.#tokens < 0 ? -this.#tokens / this.#perMs : 0;
  }
}

/**
 * The followers of log files, with one shared reader per file.
 *
 * @example Follow until aborted (not run as a test: it waits for lines forever)
 * ```ts ignore
 * const followers = new LogFollowers({ maxFollowers: 8 });
 * const ac = new AbortController();
 * for await (const { stream, lines } of followers.follow(
 *   [{ stream: "stdout", path: "logs/api.stdout.log" }],
 *   { lines: 10, keep: 3, signal: ac.signal },
 * )) {
 *   for (const line of lines) console.log(stream, line);
 * }
 * ```
 */
export class LogFollowers {
  readonly #settings: Required<LogFollowersOptions>;
  readonly #readers = new Map<string, SharedReader>();
  readonly #pace: Pace;
  #followers = 0;

  /** Create the followers' registry; nothing is read until somebody follows. */
  constructor(options: LogFollowersOptions = {}) {
    this.#settings = {
      maxFollowers: options.maxFollowers ?? MAX_FOLLOWERS,
      maxQueuedBytes: options.maxQueuedBytes ?? FOLLOWER_QUEUE_BYTES,
      sliceBytes: options.sliceBytes ?? SLICE_BYTES,
      maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES,
      backlogBytes: options.backlogBytes ?? TAIL_MAX_BYTES,
      bytesPerSecond: options.bytesPerSecond ?? DELIVERED_BYTES_PER_SECOND,
    };
    this.#pace = new Pace(this.#settings.bytesPerSecond);
  }

  /** Followers open now. */
  get followers(): number {
    return this.#followers;
  }

  /** Shared readers open now. */
  get readers(): number {
    return this.#readers.size;
  }

  /**
   * The last `lines` lines of each file (one batch per file, in the order
   * given), then batches of new lines as they are written, until `signal` is
   * aborted or the iteration is ended. A final line without a newline is
   * held back until it is complete.
   *
   * The iteration is pulled: the shared readers read only while some follower waits.
   *
   * @throws {UnavailableError} If `maxFollowers` followers are open.
   */
  follow(files: FollowedFile[], options: FollowFilesOptions): AsyncIterableIterator<LogLines> {
    const max = this.#settings.maxFollowers;
    if (this.#followers >= max) {
      throw new UnavailableError(`Too many log followers (${max}); try again later`);
    }
    this.#followers++;
    const readers = files.map((file) => this.#reader(file, options.keep ?? 0));
    return new Follower(readers, options, this.#settings, () => this.#followers--);
  }

  #reader(file: FollowedFile, keep: number): SharedReader {
    // Read with and without times, a file has a reader for each (a registry change, for a moment).
    const key = `${file.times}:${file.path}`;
    const existing = this.#readers.get(key);
    if (existing !== undefined) return existing;
    const reader = new SharedReader(file, keep, this.#settings, this.#pace, () => {
      if (this.#readers.get(key) === reader) this.#readers.delete(key);
    });
    this.#readers.set(key, reader);
    return reader;
  }
}

/** The followers of this process: the API's log streams share its readers and its cap. */
export const logFollowers: LogFollowers = new LogFollowers();

/**
 * {@linkcode LogFollowers.follow} on {@linkcode logFollowers}.
 *
 * @throws {UnavailableError} If {@linkcode MAX_FOLLOWERS} followers are open.
 */
export function followLogFiles(
  files: FollowedFile[],
  options: FollowFilesOptions,
): AsyncIterableIterator<LogLines> {
  return logFollowers.follow(files, options);
}

/** A batch and the bytes of the file it was made of. */
interface Delivery {
  batch: LogLines;
  bytes: number;
}

/** One follower: its last lines, then the batches its readers hand over, queued until taken. */
class Follower implements AsyncIterableIterator<LogLines> {
  /** Milliseconds between two looks it asks of its readers. */
  readonly intervalMs: number;
  readonly #readers: SharedReader[];
  readonly #backlogs: Promise<LogLines>[];
  readonly #maxQueued: number;
  readonly #onDropped: ((reason: string) => void) | undefined;
  readonly #onEnd: () => void;
  readonly #ended = Promise.withResolvers<undefined>();
  readonly #signal: AbortSignal;
  readonly #sinceMs: number | undefined;
  /** With `sinceMs`: the time each stream stood at after its last batch. */
  readonly #stood = new Map<string, number>();
  #delivered = 0;
  #queue: Delivery[] = [];
  #queuedBytes = 0;
  #waiting: ((result: IteratorResult<LogLines>) => void) | undefined;
  #done = false;

  constructor(
    readers: SharedReader[],
    options: FollowFilesOptions,
    settings: Required<LogFollowersOptions>,
    onEnd: () => void,
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    this.#readers = readers;
    this.#maxQueued = settings.maxQueuedBytes;
    this.#onDropped = options.onDropped;
    this.#onEnd = onEnd;
    this.#signal = options.signal;
    this.#sinceMs = options.sinceMs;
    // Joined in one synchronous step: each backlog ends exactly where its reader stands.
    this.#backlogs = readers.map((reader) => {
      const sources = reader.join(this);
      return backlog(reader.stream, sources, options.lines, settings, reader.times);
    });
    if (this.#signal.aborted) this.#end();
    else this.#signal.addEventListener("abort", this.#abort, { once: true });
  }

  /** It waits for a live batch. */
  get wants(): boolean {
    return this.#waiting !== undefined;
  }

  /** Take a batch of a reader. */
  push(delivery: Delivery): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: delivery.batch, done: false });
      return;
    }
    this.#queue.push(delivery);
    this.#queuedBytes += delivery.bytes;
    if (this.#queuedBytes > this.#maxQueued) {
      this.#end();
      this.#onDropped?.(
        `its client left more than ${this.#maxQueued} bytes of lines unread`,
      );
    }
  }

  async next(): Promise<IteratorResult<LogLines>> {
    if (this.#done) return { value: undefined, done: true };
    if (this.#delivered < this.#backlogs.length) {
      const batch = await Promise.race([this.#backlogs[this.#delivered], this.#ended.promise]);
      if (batch === undefined || this.#done) return { value: undefined, done: true };
      this.#delivered++;
      return { value: this.#since(batch), done: false };
    }
    while (true) {
      const result = await this.#live();
      if (result.done) return result;
      const batch = this.#since(result.value);
      // A live batch left empty by `sinceMs` is not handed over.
      if (batch.lines.length > 0 || batch.skipped !== undefined) {
        return { value: batch, done: false };
      }
    }
  }

  /** The next live batch. */
  async #live(): Promise<IteratorResult<LogLines>> {
    const first = this.#queue.shift();
    if (first !== undefined) {
      this.#queuedBytes -= first.bytes;
      return { value: first.batch, done: false };
    }
    const { promise, resolve } = Promise.withResolvers<IteratorResult<LogLines>>();
    this.#waiting = resolve;
    for (const reader of this.#readers) reader.wake();
    return await promise;
  }

  /** The lines of `batch` at or after `sinceMs`, when asked for. */
  #since(batch: LogLines): LogLines {
    if (this.#sinceMs === undefined) return batch;
    const { batch: kept, last } = batchSince(
      batch,
      this.#sinceMs,
      this.#stood.get(batch.stream),
    );
    this.#stood.set(batch.stream, last);
    return kept;
  }

  async return(): Promise<IteratorResult<LogLines>> {
    this.#end();
    // The backlogs hold descriptors until they are read: let them finish.
    await Promise.allSettled(this.#backlogs);
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LogLines> {
    return this;
  }

  #abort = () => this.#end();

  #end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#signal.removeEventListener("abort", this.#abort);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#ended.resolve(undefined);
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = undefined;
    for (const reader of this.#readers) reader.leave(this);
    this.#onEnd();
  }
}

/** The last `lines` complete lines of `sources` as the first batch of a follower; releases them. */
async function backlog(
  stream: LogLines["stream"],
  sources: TailSource[],
  lines: number,
  settings: Required<LogFollowersOptions>,
  times: boolean | undefined,
): Promise<LogLines> {
  let last: string[] = [];
  try {
    last = await tailSources(sources, lines, {
      maxBytes: settings.backlogBytes,
      maxLineBytes: settings.maxLineBytes,
    });
  } catch {
    // unreadable: no last lines, the live ones still come
  } finally {
    releaseAll(sources.map((s) => s.file));
  }
  return timedBatch(stream, last, times);
}

/** A file the reader holds, and where it begins in the output of its writer, when known. */
interface Held {
  file: LogHandle;
  start: { writer: LogFile; offset: number } | undefined;
  /**
   * Bytes rotated away before this file and after the one held before it
   * (`null`: unknown), to mark when it becomes the one read.
   */
  gap?: number | null;
}

const LF = 0x0a;
const CR = 0x0d;
const READ_BYTES = 65_536;
/** The smallest slice, however many followers share it. */
const MIN_SLICE_BYTES = 16_384;
const decoder = new TextDecoder();

/** The one reader of a followed file, shared by its followers. */
class SharedReader {
  readonly stream: LogLines["stream"];
  /** See {@linkcode FollowedFile.times}. */
  readonly times: boolean | undefined;
  readonly #path: string;
  readonly #keep: number;
  readonly #sliceBytes: number;
  readonly #maxLineBytes: number;
  readonly #onIdle: () => void;
  readonly #pace: Pace;
  readonly #followers = new Set<Follower>();
  readonly #buffer: Uint8Array;
  /** The files to read, oldest first: the first is read at `#offset`, the others follow it. */
  #files: Held[] = [];
  #offset = 0;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(
    file: FollowedFile,
    keep: number,
    settings: Required<LogFollowersOptions>,
    pace: Pace,
    onIdle: () => void,
  ) {
    this.stream = file.stream;
    this.times = file.times;
    this.#pace = pace;
    this.#path = file.path;
    this.#keep = keep;
    this.#sliceBytes = settings.sliceBytes;
    this.#maxLineBytes = settings.maxLineBytes;
    this.#buffer = new Uint8Array(Math.min(READ_BYTES, this.#maxLineBytes));
    this.#onIdle = onIdle;
    this.#begin();
    void this.#run();
  }

  /**
   * Add a follower; returns the files (newest first, one reference each for
   * the caller) whose lines precede the cursor exactly.
   */
  join(follower: Follower): TailSource[] {
    this.#followers.add(follower);
    const current = this.#files[0];
    if (current === undefined) return [];
    const sources: TailSource[] = [{ file: current.file.retain(), end: this.#offset }];
    const snapshot = openSnapshot(this.#path, this.#keep);
    const at = snapshot.findIndex((f) => f.ino === current.file.ino);
    snapshot.forEach((file, i) => {
      if (at >= 0 && i > at) sources.push({ file, end: file.size() });
      else file.release();
    });
    return sources;
  }

  /** Remove a follower; the last one closes the reader. */
  leave(follower: Follower): void {
    this.#followers.delete(follower);
    if (this.#followers.size > 0 || this.#closed) return;
    this.#closed = true;
    this.#onIdle();
    releaseAll(this.#files.map((h) => h.file));
    this.#files = [];
    this.#wake?.();
  }

  /** A follower started waiting for lines. */
  wake(): void {
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (![...this.#followers].some((f) => f.wants)) {
        await this.#sleep(undefined); // until a follower waits
        continue;
      }
      const deliveries = this.#readSlice();
      if (deliveries.length === 0) {
        await this.#sleep(Math.min(...[...this.#followers].map((f) => f.intervalMs)));
        continue;
      }
      let handed = 0;
      for (const delivery of deliveries) {
        for (const follower of [...this.#followers]) follower.push(delivery);
        handed += delivery.bytes * this.#followers.size;
      }
      const waitMs = this.#pace.spend(handed);
      await (waitMs > 0 ? this.#sleep(waitMs) : yieldToEventLoop());
    }
  }

  /** Resolve after `ms`, or (without `ms`) once a follower waits; at once when closed. */
  #sleep(ms: number | undefined): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      // Caught up, it polls on its interval; idle, it waits for a follower. Closing ends both.
      this.#wake = ms === undefined ? done : () => {
        if (this.#closed) done();
      };
    });
  }

  /** Place the cursor at the start of the unfinished last line (within `maxLineBytes` of the end). */
  #begin(): void {
    const snapshot = openSnapshot(this.#path, this.#keep); // newest first
    if (snapshot.length === 0) return;
    let index = 0;
    let offset = snapshot[0]!.size(); // no newline near the end: start at the end
    let budget = this.#maxLineBytes;
    search: for (let i = 0; i < snapshot.length && budget > 0; i++) {
      let end = snapshot[i]!.size();
      while (end > 0 && budget > 0) {
        const start = Math.max(0, end - Math.min(this.#buffer.byteLength, budget));
        const n = snapshot[i]!.read(this.#buffer.subarray(0, end - start), start);
        const lf = this.#buffer.subarray(0, n).lastIndexOf(LF);
        if (lf >= 0) {
          [index, offset] = [i, start + lf + 1];
          break search;
        }
        budget -= end - start;
        end = start;
      }
      // No newline in the whole log: it is one unfinished line, from the start.
      if (i === snapshot.length - 1 && end === 0) [index, offset] = [i, 0];
    }
    releaseAll(snapshot.slice(index + 1));
    this.#files = snapshot.slice(0, index + 1).reverse().map((file) => this.#held(file));
    this.#offset = offset;
  }

  /**
   * Read a slice from the cursor on, across rotations: up to `sliceBytes`,
   * less with many followers (at most a tenth of a second's worth of the
   * pace for all of them); the batches to hand over.
   */
  #readSlice(): Delivery[] {
    const out: Delivery[] = [];
    let lines: string[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (lines.length > 0) {
        out.push({ batch: timedBatch(this.stream, lines, this.times), bytes: batchBytes });
      }
      lines = [];
      batchBytes = 0;
    };
    this.#look(lines);
    // A slice goes to every follower: with many, it is smaller, so that one step stays short.
    const sliceBytes = Math.max(
      MIN_SLICE_BYTES,
      Math.min(this.#sliceBytes, Math.floor(this.#pace.burst / this.#followers.size)),
    );
    let total = 0;
    while (total < sliceBytes) {
      const current = this.#files[0];
      if (current === undefined) break;
      if (current.gap !== undefined) {
        // What came before will never be completed: it goes out as it is, then the marker.
        this.#flushPartial(lines);
        flush();
        const marker = skipMarker(current.gap);
        out.push({
          batch: {
            stream: this.stream,
            lines: [marker],
            skipped: current.gap,
            ...(this.times === undefined ? {} : { at: [null] }),
          },
          bytes: marker.length,
        });
        delete current.gap;
      }
      const room = Math.min(this.#buffer.byteLength, sliceBytes - total);
      const n = current.file.read(this.#buffer.subarray(0, room), this.#offset);
      if (n > 0) {
        this.#offset += n;
        total += n;
        batchBytes += n;
        this.#split(this.#buffer.subarray(0, n), lines);
        continue;
      }
      // At the end of the current file; one that follows it means it was rotated: its end is final.
      const next = this.#files[1];
      if (next === undefined) break;
      this.#files.shift();
      current.file.release();
      this.#offset = 0;
    }
    flush();
    return out;
  }

  /**
   * Look at the path: on a rotation, open the files of the log at once and
   * queue those that follow the ones held; when the held ones were rotated
   * away in between, note the gap before the oldest file on disk.
   */
  #look(lines: string[]): void {
    const newest = this.#files.at(-1);
    let info: Deno.FileInfo | undefined = undefined;
    try {
      // Synchronous: a local stat costs microseconds, less than an async op's round trip.
      info = Deno.statSync(this.#path);
    } catch {
      // Between a rename and the next write, or never written.
    }
    if (newest !== undefined && info?.ino === newest.file.ino) {
      if (this.#files.length === 1 && info.size < this.#offset) {
        // Truncated in place (keep 0): start over from the beginning.
        this.#flushPartial(lines);
        this.#offset = 0;
      }
      return;
    }
    if (newest === undefined && info === undefined) return;
    const snapshot = openSnapshot(this.#path, this.#keep).reverse(); // oldest first
    const current = this.#files[0];
    if (current === undefined) {
      // The log began after the reader: from the start of its output on, what is left of it.
      this.#files = snapshot.map((file) => this.#held(file));
      this.#offset = 0;
      const oldest = this.#files[0];
      if (oldest?.start !== undefined && oldest.start.offset > 0) oldest.gap = oldest.start.offset;
      return;
    }
    const held = new Map(this.#files.slice(1).map((h) => [h.file.ino, h]));
    let from = snapshot.findIndex((f) => f.ino === current.file.ino) + 1;
    let gap: number | null | undefined = undefined;
    if (from === 0) {
      // The current file was rotated away: go on with the one held after it, if still there.
      const after = this.#files[1];
      from = after === undefined ? -1 : snapshot.findIndex((f) => f.ino === after.file.ino);
      if (from < 0) {
        from = 0;
        gap = snapshot[0] === undefined ? undefined : this.#gap(current, snapshot[0]);
      }
    }
    const queued: Held[] = [];
    snapshot.forEach((file, i) => {
      const known = held.get(file.ino);
      if (i < from) file.release();
      else if (known !== undefined) {
        file.release();
        held.delete(file.ino);
        queued.push(known);
      } else queued.push(this.#held(file));
    });
    releaseAll([...held.values()].map((h) => h.file)); // rotated away meanwhile
    if (gap !== 0 && gap !== undefined && queued[0] !== undefined) queued[0].gap = gap;
    this.#files = [current, ...queued];
  }

  #held(file: LogHandle): Held {
    return { file, start: LogFile.outputOffset(this.#path, file.ino) };
  }

  /** Bytes written between the end of `before` (no longer growing) and the start of `file`. */
  #gap(before: Held, file: LogHandle): number | null {
    const start = LogFile.outputOffset(this.#path, file.ino);
    if (start === undefined || before.start?.writer !== start.writer) return null;
    const gap = start.offset - (before.start.offset + before.file.size());
    return gap >= 0 ? gap : null;
  }

  #split(chunk: Uint8Array, out: string[]): void {
    let start = 0;
    if (this.#partialBytes > 0) {
      // The end of the line begun in an earlier chunk.
      const lf = chunk.indexOf(LF);
      this.#addPartial(chunk.subarray(0, lf < 0 ? chunk.byteLength : lf), out);
      if (lf < 0) return;
      this.#finishLine(out);
      start = lf + 1;
    }
    const last = chunk.lastIndexOf(LF);
    if (last >= start) {
      // The whole lines in between, decoded at once (a chunk is never longer than maxLineBytes).
      const text = decoder.decode(chunk.subarray(start, last));
      for (const line of text.split("\n")) out.push(line.endsWith("\r") ? line.slice(0, -1) : line);
      start = last + 1;
    }
    this.#addPartial(chunk.subarray(start), out);
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
    let line: Uint8Array;
    if (this.#partial.length === 1) line = this.#partial[0]!;
    else {
      line = new Uint8Array(this.#partialBytes);
      let offset = 0;
      for (const piece of this.#partial) {
        line.set(piece, offset);
        offset += piece.byteLength;
      }
    }
    this.#partial = [];
    this.#partialBytes = 0;
    out.push(decodeLine(line));
  }
}

/** A line without its ending, decoded. */
function decodeLine(line: Uint8Array): string {
  const length = line.byteLength > 0 && line[line.byteLength - 1] === CR
    ? line.byteLength - 1
    : line.byteLength;
  return decoder.decode(line.subarray(0, length));
}
