/**
 * Readers of a log that rotates many times a second: a `LogFile` of 512 KiB
 * files, keep 3, written in this process by a loop of numbered 100-byte
 * lines cut into chunks of random sizes (so that lines straddle rotations),
 * tailed and followed while it rotates. Every tail must be a run of
 * consecutive lines; a follower that keeps up must get every line once; a
 * slow one gets every line still on disk, with a skip marker that accounts
 * for exactly the bytes rotated away.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LogFollowers, skipMarker } from "../src/logs/follow.ts";
import { LogFile } from "../src/logs/log_file.ts";
import { tailLines, yieldToEventLoop } from "../src/logs/tail.ts";
import type { LogLines } from "../src/types.ts";
import { prng, removeDir, tempDir, waitFor } from "./harness.ts";

const LINE = 100; // bytes, newline included
const FILE_BYTES = 512 * 1024;
const KEEP = 3;
const encoder = new TextEncoder();

/** Line `n` without its newline. */
function line(n: number): string {
  return `line ${String(n).padStart(10, "0")} ${"x".repeat(LINE - 17)}`;
}

/** The number of a whole line; undefined for anything else (a fragment, a splice). */
function numberOf(text: string): number | undefined {
  if (text.length !== LINE - 1) return undefined;
  const n = Number(text.slice(5, 15));
  return text === line(n) ? n : undefined;
}

/** Writes numbered lines into a rotating LogFile, in chunks of 1 B to 64 KiB, until stopped. */
class Writer {
  readonly file: LogFile;
  /** Bytes written so far. */
  written = 0;
  #stopped = false;
  readonly done: Promise<void>;

  /** Start writing; before each chunk, it waits while `holdBack()` holds (and it is not stopped). */
  constructor(path: string, seed: number, holdBack: () => boolean = () => false) {
    const file = new LogFile(path, { maxBytes: FILE_BYTES, keep: KEEP });
    this.file = file;
    const random = prng(seed);
    this.done = (async () => {
      let pending = new Uint8Array(0);
      let next = 0;
      while (!this.#stopped) {
        await yieldToEventLoop();
        const size = 1 + Math.floor(random() * 65_536);
        while (pending.byteLength < size) {
          const more = encoder.encode(
            Array.from({ length: 700 }, () => line(next++) + "\n").join(""),
          );
          const joined = new Uint8Array(pending.byteLength + more.byteLength);
          joined.set(pending);
          joined.set(more, pending.byteLength);
          pending = joined;
        }
        while (holdBack() && !this.#stopped) await yieldToEventLoop();
        await file.write(pending.subarray(0, size));
        this.written += size;
        pending = pending.slice(size);
      }
    })();
  }

  /** Lines begun so far: the number of the line the next byte belongs to. */
  get lineAt(): number {
    return Math.floor(this.written / LINE);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.done;
    await this.file.close();
  }
}

/** Check a tail: whole consecutive lines, the last possibly unfinished; returns its first number. */
function checkTail(tail: string[], wanted: number, what: string): number {
  const last = tail.at(-1)!;
  const whole = numberOf(last) === undefined ? tail.slice(0, -1) : tail;
  const numbers = whole.map((text, i) => {
    const n = numberOf(text);
    if (n === undefined) {
      throw new Error(`${what}: line ${i} is not a whole line: ${text.slice(0, 40)}`);
    }
    return n;
  });
  numbers.forEach((n, i) => {
    if (n !== numbers[0]! + i) {
      throw new Error(`${what}: line ${i} is ${n}, expected ${numbers[0]! + i}`);
    }
  });
  if (whole !== tail) {
    // The unfinished last line is the beginning of the line after the others.
    assert.ok(line(numbers.at(-1)! + 1).startsWith(last), `${what}: unfinished last line`);
  }
  assert.equal(tail.length, wanted, `${what}: number of lines`);
  return numbers[0]!;
}

Deno.test("tailLines() during rotations gives runs of consecutive whole lines", async () => {
  const dir = await tempDir();
  const path = `${dir}/flood.stdout.log`;
  let reading = 0;
  let filled = false;
  // Once the files are full, it writes only while tails read: every rotation falls inside one.
  const writer: Writer = new Writer(
    path,
    1,
    (): boolean => (filled ||= writer.written > (KEEP + 1) * FILE_BYTES) && reading === 0,
  );
  try {
    await waitFor(() => filled, { message: "the files to fill" });
    const startedAt = writer.written;
    let tails = 0;
    // 4 at a time, as many as the tail semaphore lets run; 10 000 lines of 99 bytes fit in 1 MiB.
    for (let round = 0; writer.written - startedAt < 20 * FILE_BYTES; round++) {
      await Promise.all([10, 1000, 5000, 10_000].map(async (wanted) => {
        reading++;
        try {
          const tail = await tailLines(path, wanted, { keep: KEEP });
          checkTail(tail, wanted, `round ${round}, ${wanted} lines`);
        } finally {
          reading--;
        }
        tails++;
      }));
    }
    assert.ok(tails >= 4);
  } finally {
    await writer.stop();
    await removeDir(dir);
  }
});

/** Pull batches from a follower in the background. */
function collect(iterable: AsyncIterable<LogLines>, pause: () => Promise<void>) {
  const batches: LogLines[] = [];
  const done = (async () => {
    for await (const batch of iterable) {
      batches.push(batch);
      await pause();
    }
  })();
  return { batches, done };
}

Deno.test("A follower that keeps up with a LogFile rotating many times a second gets every line once", async () => {
  const dir = await tempDir();
  const path = `${dir}/flood.stdout.log`;
  const followers = new LogFollowers();
  const ac = new AbortController();
  let seen = -1;
  // Held back while more than 1 MiB ahead of the follower (2 MiB are on disk): it keeps up.
  const writer: Writer = new Writer(path, 2, (): boolean => writer.lineAt - seen > 10_000);
  const follower = collect(
    followers.follow([{ stream: "stdout", path }], {
      lines: 0,
      keep: KEEP,
      signal: ac.signal,
      intervalMs: 5,
    }),
    () => Promise.resolve(),
  );
  try {
    let checked = 0;
    let first: number | undefined = undefined;
    await waitFor(() => {
      for (; checked < follower.batches.length; checked++) {
        for (const text of follower.batches[checked]!.lines) {
          const n = numberOf(text);
          if (first === undefined) {
            // The first line may be the end of one the writer had begun when the follower came.
            first = n ?? -1;
            if (n === undefined) continue;
          }
          if (n !== seen + 1 && seen >= 0) {
            throw new Error(`after line ${seen} came ${JSON.stringify(text.slice(0, 40))}`);
          }
          seen = n!;
        }
      }
      return writer.written > 60 * FILE_BYTES;
    }, { timeoutMs: 60_000, intervalMs: 5, message: "60 rotations" });
    assert.ok(follower.batches.every((b) => b.skipped === undefined), "no skip marker");
  } finally {
    ac.abort();
    await follower.done;
    await writer.stop();
    await removeDir(dir);
  }
});

Deno.test("A slow follower of a LogFile rotating many times a second gets every line on disk and exact skip markers", async () => {
  const dir = await tempDir();
  const path = `${dir}/flood.stdout.log`;
  const followers = new LogFollowers();
  const ac = new AbortController();
  const writer = new Writer(path, 3);
  const total = 40 * FILE_BYTES;
  // After each batch, the follower waits until 3 MiB more were written (more than is kept).
  const follower = collect(
    followers.follow([{ stream: "stdout", path }], { lines: 0, keep: KEEP, signal: ac.signal }),
    async () => {
      const until = writer.written + 3 * 1024 * 1024;
      while (writer.written < Math.min(until, total)) await yieldToEventLoop();
    },
  );
  try {
    await waitFor(() => writer.written >= total, { timeoutMs: 60_000, message: "40 files" });
    await writer.stop();
    const lastLine = line(writer.lineAt - 1);
    await waitFor(
      () => follower.batches.some((b) => b.lines.at(-1) === lastLine),
      { timeoutMs: 30_000, message: "the last line" },
    );
    // Between two markers, whole consecutive lines; at a marker, maybe the beginning of a line
    // (the end of the file held) and the end of one (the start of the oldest file on disk).
    // Each marker must skip exactly the bytes between the two, counted from the line numbers.
    const segments: { texts: string[]; skipped?: number | null }[] = [{ texts: [] }];
    for (const batch of follower.batches) {
      if (batch.skipped === undefined) segments.at(-1)!.texts.push(...batch.lines);
      else segments.push({ texts: [], skipped: batch.skipped });
    }
    const bounds = segments.map(({ texts }, s) => {
      // It came before the first line was written: a marker first when the first files are gone.
      if (s === 0 && texts.length === 0) return { start: 0, end: 0, lastWhole: false };
      const numbers = texts.map(numberOf);
      const whole = numbers.filter((n) => n !== undefined);
      whole.forEach((n, i) => assert.equal(n, whole[0]! + i, `segment ${s}, line ${i}`));
      const [first, last] = [whole[0]!, whole.at(-1)!];
      let start = first * LINE;
      let end = (last + 1) * LINE;
      if (numbers[0] === undefined) {
        assert.ok(s > 0 && line(first - 1).endsWith(texts[0]!), `segment ${s}: its first line`);
        start -= texts[0]!.length + 1;
      }
      if (numbers.at(-1) === undefined) {
        assert.ok(
          s < segments.length - 1 && line(last + 1).startsWith(texts.at(-1)!),
          `segment ${s}: its last line`,
        );
        end += texts.at(-1)!.length;
      }
      assert.equal(numbers.slice(1, -1).includes(undefined), false, `segment ${s}: a cut line`);
      return { start, end, lastWhole: numbers.at(-1) !== undefined };
    });
    for (let s = 1; s < segments.length; s++) {
      const { skipped } = segments[s]!;
      assert.ok(typeof skipped === "number", "the count of skipped bytes is known");
      const gap = bounds[s]!.start - bounds[s - 1]!.end;
      // A line cut one byte before its newline looks whole: one byte more was skipped.
      const exact = skipped === gap || (bounds[s - 1]!.lastWhole && skipped === gap + 1);
      assert.ok(exact, `marker ${s}: ${skipped} bytes skipped, the line numbers say ${gap}`);
    }
    assert.ok(segments.length >= 4, `${segments.length - 1} markers`);
    assert.equal(bounds.at(-1)!.end, writer.lineAt * LINE);
    const marker = follower.batches.find((b) => b.skipped !== undefined)!;
    assert.deepEqual(marker.lines, [skipMarker(marker.skipped!)]);
  } finally {
    ac.abort();
    await follower.done;
    await writer.stop();
    await removeDir(dir);
  }
});
