import assert from "node:assert/strict";
import { join } from "node:path";
import { UnavailableError } from "../errors.ts";
import { LogFollowers, skipMarker } from "./follow.ts";
import type { LogLines } from "../types.ts";
import { LogFile } from "./log_file.ts";
import { waitFor } from "../../tests/harness.ts";

const encoder = new TextEncoder();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_follow_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Pulls batches from a follower in the background and collects them. */
function collect(iterable: AsyncIterable<LogLines>) {
  const batches: LogLines[] = [];
  const done = (async () => {
    for await (const batch of iterable) batches.push(batch);
  })();
  return {
    batches,
    done,
    lines: (stream?: LogLines["stream"]) =>
      batches.filter((b) => !stream || b.stream === stream).flatMap((b) => b.lines),
  };
}

const followers = new LogFollowers();
const followLogFiles = followers.follow.bind(followers);

/** Wait until `condition` holds, for at most `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  await waitFor(condition, { timeoutMs, intervalMs: 5, message: what });
}

Deno.test("followLogFiles() gives the last lines, then new ones, holding back an unfinished line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a.log");
    await Deno.writeTextFile(path, "one\ntwo\nthree\npart");
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stdout", path }], { lines: 2, signal: ac.signal, intervalMs: 10 }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    assert.deepEqual(c.batches[0], { stream: "stdout", lines: ["two", "three"] });
    await Deno.writeTextFile(path, "ial\nfour\r\nfive", { append: true });
    await until(() => c.lines().includes("four"), "new lines");
    assert.deepEqual(c.lines(), ["two", "three", "partial", "four"]);
    ac.abort();
    await c.done;
  });
});

Deno.test("followLogFiles() waits for a file that does not exist yet", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "later.log");
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stderr", path }], {
        lines: 10,
        signal: ac.signal,
        intervalMs: 10,
      }),
    );
    await until(() => c.batches.length >= 1, "the empty first batch");
    assert.deepEqual(c.batches[0]!.lines, []);
    await Deno.writeTextFile(path, "hello\n");
    await until(() => c.lines().length === 1, "the line of the new file");
    assert.deepEqual(c.lines(), ["hello"]);
    ac.abort();
    await c.done;
  });
});

Deno.test("followLogFiles() follows a LogFile across rotations without gaps or repeats", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 200, keep: 3 });
    for (let i = 0; i < 30; i++) await file.write(encoder.encode(`line ${i}\n`));
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stdout", path }], {
        lines: 5,
        keep: 3,
        signal: ac.signal,
        intervalMs: 5,
      }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    assert.deepEqual(c.batches[0]!.lines, ["line 25", "line 26", "line 27", "line 28", "line 29"]);
    // Lines cut in two chunks, so that a rotation can fall inside a line.
    for (let i = 30; i < 400; i++) {
      await file.write(encoder.encode(`line `));
      await file.write(encoder.encode(`${i}\n`));
      if (i % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await until(() => c.lines().at(-1) === "line 399", "the last line", 10_000);
    const expected = Array.from({ length: 375 }, (_, i) => `line ${i + 25}`);
    assert.deepEqual(c.lines(), expected);
    ac.abort();
    await c.done;
    await file.close();
  });
});

Deno.test("followLogFiles() starts over after a truncation", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "t.log");
    await Deno.writeTextFile(path, "old 1\nold 2\n");
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stderr", path }], { lines: 0, signal: ac.signal, intervalMs: 10 }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    await Deno.writeTextFile(path, "new\n");
    await until(() => c.lines().includes("new"), "the line after the truncation");
    assert.deepEqual(c.lines(), ["new"]);
    ac.abort();
    await c.done;
  });
});

Deno.test("followLogFiles() ends at once on abort and releases its files", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "e.log");
    await Deno.writeTextFile(path, "x\n");
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stderr", path }], {
        lines: 1,
        signal: ac.signal,
        intervalMs: 60_000,
      }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    const started = Date.now();
    ac.abort();
    await c.done;
    assert.ok(Date.now() - started < 1000);
  });
});

Deno.test("followLogFiles() reads the rotated files it missed between two looks", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.log");
    const file = new LogFile(path, { maxBytes: 100, keep: 4 });
    await file.write(encoder.encode("first\n"));
    const ac = new AbortController();
    const c = collect(
      followLogFiles([{ stream: "stderr", path }], {
        lines: 1,
        keep: 4,
        signal: ac.signal,
        intervalMs: 300,
      }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    // About three rotations, all before the next look.
    const written = Array.from({ length: 30 }, (_, i) => `rotating ${i}`);
    for (const line of written) await file.write(encoder.encode(line + "\n"));
    await until(() => c.lines().at(-1) === "rotating 29", "the last line");
    assert.deepEqual(c.lines(), ["first", ...written]);
    ac.abort();
    await c.done;
    await file.close();
  });
});

/** The numbers of lines `n <number>`; fails on any other line. */
function numbers(lines: string[]): number[] {
  return lines.map((line) => {
    const m = /^n (\d+)$/.exec(line);
    if (!m) throw new Error(`not a numbered line: ${JSON.stringify(line.slice(0, 80))}`);
    return Number(m[1]);
  });
}

/** Assert `values` are `from`, `from + 1`, … */
function assertRun(values: number[], from: number, what: string): void {
  values.forEach((v, i) => {
    if (v !== from + i) throw new Error(`${what}: at ${i}, expected ${from + i}, got ${v}`);
  });
}

Deno.test("LogFollowers shares one reader: a joiner's last lines end where its live lines begin", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "s.stdout.log");
    const file = new LogFile(path, { maxBytes: 30, keep: 2 });
    const hub = new LogFollowers();
    let next = 0;
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) await file.write(encoder.encode(`n ${next++}\n`));
    };
    // Five lines at a time, once every follower has them: they keep up.
    const writeKeptUp = async (count: number, ...followers: ReturnType<typeof collect>[]) => {
      for (let i = 0; i < count; i += 5) {
        await write(5);
        const last = `n ${next - 1}`;
        await until(() => followers.every((f) => f.lines().at(-1) === last), last);
      }
    };
    await write(20);
    const ac = new AbortController();
    const a = collect(
      hub.follow([{ stream: "stdout", path }], {
        lines: 3,
        keep: 2,
        signal: ac.signal,
        intervalMs: 5,
      }),
    );
    await until(() => a.batches.length >= 1, "the first follower's last lines");
    await writeKeptUp(30, a);
    const b = collect(
      hub.follow([{ stream: "stdout", path }], {
        lines: 100,
        keep: 2,
        signal: ac.signal,
        intervalMs: 5,
      }),
    );
    assert.equal(hub.readers, 1);
    assert.equal(hub.followers, 2);
    await until(() => b.batches.length >= 1, "the second follower's last lines");
    await writeKeptUp(60, a, b); // rotations every 6 lines or so
    assertRun(numbers(a.lines()), 17, "first follower");
    const seen = numbers(b.lines());
    assertRun(seen, seen[0]!, "second follower");
    assert.ok(seen[0]! > 20, "its last lines come from the rotated files that are left");
    // Live batches are the same objects for both: read once, handed to each.
    const shared = b.batches.slice(1);
    assert.ok(shared.length > 0 && shared.every((batch) => a.batches.includes(batch)));
    ac.abort();
    await Promise.all([a.done, b.done]);
    assert.equal(hub.readers, 0);
    assert.equal(hub.followers, 0);
    await file.close();
  });
});

Deno.test("LogFollowers.follow() refuses one follower past maxFollowers until one ends", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "c.log");
    const hub = new LogFollowers({ maxFollowers: 2 });
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const options = (signal: AbortSignal) => ({ lines: 0, signal, intervalMs: 5 });
    const first = collect(hub.follow([{ stream: "stdout", path }], options(ac1.signal)));
    const second = collect(hub.follow([{ stream: "stderr", path }], options(ac2.signal)));
    assert.throws(
      () => hub.follow([{ stream: "stdout", path }], options(ac2.signal)),
      (err: unknown) =>
        err instanceof UnavailableError && err.kind === "unavailable" &&
        err.message === "Too many log followers (2); try again later",
    );
    ac1.abort();
    await first.done;
    const third = collect(hub.follow([{ stream: "stdout", path }], options(ac2.signal)));
    ac2.abort();
    await Promise.all([second.done, third.done]);
    assert.equal(hub.followers, 0);
  });
});

Deno.test("LogFollowers reads nothing for a lone follower that does not ask, and drops one that lags", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "q.log");
    const file = new LogFile(path, { maxBytes: 1_000_000, keep: 1 });
    const hub = new LogFollowers({ maxQueuedBytes: 2000 });
    const ac = new AbortController();
    const idle = hub.follow([{ stream: "stdout", path }], {
      lines: 0,
      signal: ac.signal,
      intervalMs: 5,
    });
    assert.deepEqual((await idle.next()).value, { stream: "stdout", lines: [] });
    // 10 000 bytes written while it asks for nothing: nothing is read, nothing waits for it.
    for (let i = 0; i < 1000; i++) await file.write(encoder.encode(`n ${1000 + i}\n`));
    const taken: string[] = [];
    while (taken.length < 1000) {
      const { value, done } = await idle.next();
      assert.ok(!done, "not dropped");
      taken.push(...value.lines);
    }
    assertRun(numbers(taken), 1000, "the idle follower");

    // Beside a follower that reads, one that stops asking is dropped past 2000 bytes.
    let dropped = "";
    const lagging = hub.follow([{ stream: "stdout", path }], {
      lines: 0,
      signal: ac.signal,
      intervalMs: 5,
      onDropped: (reason) => (dropped = reason),
    });
    await lagging.next();
    const reading = collect(idle);
    for (let i = 0; i < 1000; i++) await file.write(encoder.encode(`n ${2000 + i}\n`));
    await until(() => reading.lines().at(-1) === "n 2999", "the reading follower to see n 2999");
    assert.equal(dropped, "its client left more than 2000 bytes of lines unread");
    assert.deepEqual(await lagging.next(), { value: undefined, done: true });
    assert.equal(hub.followers, 1);
    assertRun(numbers(reading.lines()), 2000, "the reading follower");
    ac.abort();
    await reading.done;
    await file.close();
  });
});

Deno.test("LogFollowers marks the bytes rotated away before a slow follower read them", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "slow.log");
    const line = (n: number) => `n ${String(n).padStart(6, "0")}\n`; // 9 bytes
    const file = new LogFile(path, { maxBytes: 900, keep: 1 }); // 100 lines a file
    let next = 0;
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) await file.write(encoder.encode(line(next++)));
    };
    await write(50);
    const hub = new LogFollowers();
    const ac = new AbortController();
    const slow = hub.follow([{ stream: "stdout", path }], {
      lines: 0,
      keep: 1,
      signal: ac.signal,
      intervalMs: 5,
    });
    await slow.next(); // its (empty) last lines; the reader stands at line 50
    await write(950); // 100 lines a file: lines 800–899 in path.1, 900–999 in path
    const batches: LogLines[] = [];
    while (!batches.some((b) => b.lines.includes("n 000999"))) {
      batches.push((await slow.next()).value!);
    }
    const markers = batches.filter((b) => b.skipped !== undefined);
    assert.equal(markers.length, 1);
    // The current file was held to its end (line 99); lines 100–799 were rotated away.
    assert.deepEqual(markers[0], {
      stream: "stdout",
      lines: [skipMarker(700 * 9)],
      skipped: 700 * 9,
    });
    const at = batches.indexOf(markers[0]!);
    const before = batches.slice(0, at).flatMap((b) => b.lines).map((l) => Number(l.slice(2)));
    const after = batches.slice(at + 1).flatMap((b) => b.lines).map((l) => Number(l.slice(2)));
    assertRun(before, 50, "before the marker");
    assert.equal(before.at(-1), 99);
    assertRun(after, 800, "after the marker");
    ac.abort();
    await slow.return!();
    await file.close();
  });
});
