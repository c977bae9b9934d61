import assert from "node:assert/strict";
import { join } from "node:path";
import { type FollowedLines, followLogFiles } from "./follow.ts";
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
function collect<L extends string>(iterable: AsyncIterable<FollowedLines<L>>) {
  const batches: FollowedLines<L>[] = [];
  const done = (async () => {
    for await (const batch of iterable) batches.push(batch);
  })();
  return {
    batches,
    done,
    lines: (label?: L) =>
      batches.filter((b) => !label || b.label === label).flatMap((b) => b.lines),
  };
}

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
      followLogFiles([{ label: "out", path }], { lines: 2, signal: ac.signal, intervalMs: 10 }),
    );
    await until(() => c.batches.length >= 1, "the first batch");
    assert.deepEqual(c.batches[0], { label: "out", lines: ["two", "three"] });
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
      followLogFiles([{ label: "x", path }], { lines: 10, signal: ac.signal, intervalMs: 10 }),
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
      followLogFiles([{ label: "stdout", path }], {
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
      followLogFiles([{ label: "x", path }], { lines: 0, signal: ac.signal, intervalMs: 10 }),
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
      followLogFiles([{ label: "x", path }], { lines: 1, signal: ac.signal, intervalMs: 60_000 }),
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
      followLogFiles([{ label: "x", path }], {
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
