import assert from "node:assert/strict";
import { join } from "node:path";
import { LogFile } from "./log_file.ts";
import { openSnapshot, releaseAll } from "./snapshot.ts";
import { cutLineMarker, tailLines, tailSources } from "./tail.ts";

const encoder = new TextEncoder();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_tail_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What tailLines must return, computed the obvious way over the whole text. */
function naiveTail(text: string, lines: number): string[] {
  if (text === "" || lines === 0) return [];
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  return all.slice(-lines).map((line) => line.endsWith("\r") ? line.slice(0, -1) : line);
}

Deno.test("tailLines() returns the last lines without their newlines", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "one\ntwo\nthree\nfour\n");
    assert.deepEqual(await tailLines(path, 2), ["three", "four"]);
    assert.deepEqual(await tailLines(path, 4), ["one", "two", "three", "four"]);
    assert.deepEqual(await tailLines(path, 100), ["one", "two", "three", "four"]);
    assert.deepEqual(await tailLines(path, 0), []);
  });
});

Deno.test("tailLines() counts a final line without newline", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "one\ntwo\npartial");
    assert.deepEqual(await tailLines(path, 2), ["two", "partial"]);
    await Deno.writeTextFile(path, "only");
    assert.deepEqual(await tailLines(path, 3), ["only"]);
  });
});

Deno.test("tailLines() keeps empty lines and strips CRLF", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "a\r\n\r\nb\r\n\nc\r");
    assert.deepEqual(await tailLines(path, 10), ["a", "", "b", "", "c"]);
    await Deno.writeTextFile(path, "\n");
    assert.deepEqual(await tailLines(path, 10), [""]);
    await Deno.writeTextFile(path, "");
    assert.deepEqual(await tailLines(path, 10), []);
    // A CR inside a line stays.
    await Deno.writeTextFile(path, "pro\rgress\r\n");
    assert.deepEqual(await tailLines(path, 1), ["pro\rgress"]);
  });
});

Deno.test("tailLines() decodes UTF-8 across block boundaries and replaces bad bytes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "héllo wörld\n日本語のログ\n🙂🙃\n");
    for (const blockBytes of [1, 2, 3, 5, 64]) {
      assert.deepEqual(await tailLines(path, 3, { blockBytes }), [
        "héllo wörld",
        "日本語のログ",
        "🙂🙃",
      ]);
    }
    await Deno.writeFile(path, new Uint8Array([0x61, 0xff, 0x62, 0x0a, 0xe6, 0x97]));
    assert.deepEqual(await tailLines(path, 2), ["a\ufffdb", "\ufffd"]);
  });
});

Deno.test("tailLines() of a missing file is empty", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(await tailLines(join(dir, "nothing.log"), 10, { keep: 3 }), []);
    assert.deepEqual(await tailLines(join(dir, "no", "dir.log"), 10), []);
    await Deno.writeTextFile(join(dir, "file"), "");
    assert.deepEqual(await tailLines(join(dir, "file", "below.log"), 10), []);
  });
});

Deno.test("tailLines() continues into rotated files up to keep", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(`${path}.3`, "l1\nl2\n");
    await Deno.writeTextFile(`${path}.2`, "l3\nl4\n");
    await Deno.writeTextFile(`${path}.1`, "l5\nl6\n");
    await Deno.writeTextFile(path, "l7\n");
    assert.deepEqual(await tailLines(path, 3), ["l7"]);
    assert.deepEqual(await tailLines(path, 3, { keep: 1 }), ["l5", "l6", "l7"]);
    assert.deepEqual(await tailLines(path, 4, { keep: 1 }), ["l5", "l6", "l7"]);
    assert.deepEqual(await tailLines(path, 4, { keep: 2 }), ["l4", "l5", "l6", "l7"]);
    assert.deepEqual(await tailLines(path, 99, { keep: 9 }), [
      "l1",
      "l2",
      "l3",
      "l4",
      "l5",
      "l6",
      "l7",
    ]);
    // A missing current file (between rename and reopen) or a gap is skipped.
    await Deno.remove(path);
    await Deno.remove(`${path}.2`);
    assert.deepEqual(await tailLines(path, 3, { keep: 3 }), ["l2", "l5", "l6"]);
  });
});

Deno.test("tailLines() joins a line that a rotation split in two", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(`${path}.1`, "a\nb\r");
    await Deno.writeTextFile(path, "\nc");
    assert.deepEqual(await tailLines(path, 3, { keep: 1 }), ["a", "b", "c"]);
    await Deno.writeTextFile(`${path}.1`, "a\nfir");
    await Deno.writeTextFile(path, "st half\n");
    assert.deepEqual(await tailLines(path, 2, { keep: 1 }), ["a", "first half"]);
    assert.deepEqual(await tailLines(path, 1, { keep: 1 }), ["first half"]);
  });
});

Deno.test("tailLines() reads across the files written by LogFile", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 200, keep: 3 });
    const written: string[] = [];
    for (let i = 1; i <= 300; i++) {
      written.push(`line ${i}`);
      await file.write(encoder.encode(`line ${i}\r\n`));
    }
    await file.close();
    const current = await tailLines(path, 1000);
    assert.ok(current.length < 25);
    assert.deepEqual(current, written.slice(-current.length));
    assert.deepEqual(await tailLines(path, 40, { keep: 3 }), written.slice(-40));
    const everything = await tailLines(path, 1000, { keep: 3 });
    assert.ok(everything.length > 60 && everything.length < 100);
    assert.deepEqual(everything, written.slice(-everything.length));
  });
});

Deno.test("tailLines() reads only the end of a huge file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "huge.log");
    // 4 GiB of zeros (a sparse file, so no disk is used), then some lines: reading it
    // whole would not fit in a Uint8Array, let alone finish quickly.
    await Deno.writeFile(path, new Uint8Array(0));
    await Deno.truncate(path, 4 * 1024 ** 3);
    const tail = Array.from({ length: 5000 }, (_, i) => `entry ${i} ${"z".repeat(i % 90)}`);
    await Deno.writeTextFile(path, tail.join("\n") + "\n", { append: true });
    const started = performance.now();
    assert.deepEqual(await tailLines(path, 3000), tail.slice(-3000));
    assert.deepEqual(await tailLines(path, 1), [tail.at(-1)]);
    assert.ok(performance.now() - started < 5_000);
  });
});

Deno.test("tailLines() keeps the head of a line longer than maxLineBytes, marked", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "short\n" + "a".repeat(100) + "END\r\nlast");
    assert.deepEqual(
      await tailLines(path, 3, { maxLineBytes: 10, blockBytes: 7 }),
      ["short", "aaaaaaaaaa" + cutLineMarker(93), "last"],
    );
  });
});

Deno.test("tailLines() returns the newest lines that fit in maxBytes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const lines = Array.from(
      { length: 50 },
      (_, i) => `${String(i).padStart(2, "0")} ${"x".repeat(97)}`,
    );
    await Deno.writeTextFile(`${path}.1`, lines.slice(0, 25).join("\n") + "\n");
    await Deno.writeTextFile(path, lines.slice(25).join("\n") + "\n");
    // 100 bytes a line (without its newline): 10 fit in 1000 or 1099 bytes, across the rotation.
    assert.deepEqual(await tailLines(path, 1000, { keep: 1, maxBytes: 1000 }), lines.slice(-10));
    assert.deepEqual(await tailLines(path, 1000, { keep: 1, maxBytes: 1099 }), lines.slice(-10));
    assert.deepEqual(await tailLines(path, 30, { keep: 1, maxBytes: 1_000_000 }), lines.slice(-30));
    // A budget smaller than a line: the newest line, cut to the budget.
    assert.deepEqual(await tailLines(path, 5, { maxBytes: 10 }), [
      lines[49]!.slice(0, 10) + cutLineMarker(90),
    ]);
  });
});

Deno.test("tailLines() of 10000 lines of 200 KB gives the 5 that fit in 1 MiB", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const line = "y".repeat(200_000);
    await Deno.writeTextFile(path, Array.from({ length: 40 }, () => line).join("\n") + "\n");
    const tail = await tailLines(path, 10_000);
    assert.equal(tail.length, 5); // 5 × 200 000 bytes fit in 1 MiB, 6 do not
    assert.ok(tail.every((l) => l === line));
  });
});

Deno.test("tailSources() stops at the given ends and leaves out the unfinished line", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(`${path}.1`, "a\nb\nc");
    await Deno.writeTextFile(path, "d\ne\nf\ng");
    const files = openSnapshot(path, 1);
    try {
      const [current, rotated] = files;
      const sources = [{ file: current!, end: 4 }, { file: rotated!, end: rotated!.size() }];
      // The stream up to there is "a\nb\ncd\ne\n": "f" and what follows are not part of it.
      assert.deepEqual(await tailSources(sources, 10), ["a", "b", "cd", "e"]);
      assert.deepEqual(await tailSources(sources, 2), ["cd", "e"]);
      // Ending inside a line: that line is unfinished.
      assert.deepEqual(await tailSources([{ file: current!, end: 3 }, sources[1]!], 10), [
        "a",
        "b",
        "cd",
      ]);
      assert.deepEqual(await tailSources([{ file: current!, end: 0 }], 10), []);
    } finally {
      releaseAll(files);
    }
  });
});

Deno.test("tailLines() agrees with a naive split on random content", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const alphabet = ["a", "b", "\n", "\n", "\r\n", "\r", "é", "語", " "];
    for (let round = 0; round < 60; round++) {
      const files = Array.from({ length: 3 }, () => {
        let text = "";
        const length = Math.floor(random() * 40);
        for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
        return text;
      });
      await Deno.writeTextFile(`${path}.2`, files[0]!);
      await Deno.writeTextFile(`${path}.1`, files[1]!);
      await Deno.writeTextFile(path, files[2]!);
      const whole = files.join("");
      for (const lines of [1, 2, 5, 100]) {
        const blockBytes = 1 + Math.floor(random() * 9);
        assert.deepEqual(
          await tailLines(path, lines, { keep: 2, blockBytes }),
          naiveTail(whole, lines),
          `round ${round}, lines ${lines}, blockBytes ${blockBytes}: ${JSON.stringify(files)}`,
        );
      }
    }
  });
});

Deno.test("tailLines() rejects out-of-range arguments", async () => {
  await assert.rejects(tailLines("x.log", -1), RangeError);
  await assert.rejects(tailLines("x.log", 1.5), RangeError);
  await assert.rejects(tailLines("x.log", 1, { keep: -1 }), RangeError);
  await assert.rejects(tailLines("x.log", 1, { blockBytes: 0 }), RangeError);
  await assert.rejects(tailLines("x.log", 1, { maxLineBytes: 0 }), RangeError);
  await assert.rejects(tailLines("x.log", 1, { maxBytes: 0 }), RangeError);
});
