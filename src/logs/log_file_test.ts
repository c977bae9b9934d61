import assert from "node:assert/strict";
import { join } from "node:path";
import { LogFile } from "./log_file.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_logs_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function readText(path: string): Promise<string> {
  return decoder.decode(await Deno.readFile(path));
}

Deno.test("LogFile.write() creates the directory and the file lazily, mode 0o644", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nested", "deeper", "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 1000, keep: 2 });
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await file.write(encoder.encode("hello\n"));
    await file.write(encoder.encode("world\n"));
    await file.close();
    assert.equal(await readText(path), "hello\nworld\n");
    const mode = (await Deno.stat(path)).mode;
    assert.ok(mode !== null);
    assert.equal(mode & 0o777 & ~0o022, 0o644 & ~0o022);
    assert.equal(file.droppedBytes, 0);
  });
});

Deno.test("LogFile.write() rotates at maxBytes and keeps exactly `keep` rotated files", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 1000, keep: 2 });
    let all = "";
    for (let i = 1; i <= 500; i++) {
      const line = `line ${i} ${"x".repeat(i % 37)}\n`;
      all += line;
      await file.write(encoder.encode(line));
    }
    await file.close();

    assert.deepEqual(await listNames(dir), [
      "svc.stdout.log",
      "svc.stdout.log.1",
      "svc.stdout.log.2",
    ]);
    const parts = [];
    for (const name of ["svc.stdout.log.2", "svc.stdout.log.1", "svc.stdout.log"]) {
      const text = await readText(join(dir, name));
      assert.ok(text.length <= 1000, `${name} has ${text.length} bytes`);
      parts.push(text);
    }
    // Rotated files are full up to less than one line; together they are the end of the output.
    assert.ok(parts[0]!.length > 1000 - 50 && parts[1]!.length > 1000 - 50);
    assert.ok(all.endsWith(parts.join("")));
    assert.ok(parts[0]!.startsWith("line "));
  });
});

Deno.test("LogFile.write() with keep 0 truncates and starts over", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stderr.log");
    const file = new LogFile(path, { maxBytes: 100, keep: 0 });
    for (let i = 0; i < 25; i++) await file.write(encoder.encode(`chunk ${i}\n`));
    await file.close();
    assert.deepEqual(await listNames(dir), ["svc.stderr.log"]);
    const text = await readText(path);
    assert.ok(text.length <= 100);
    assert.ok(text.endsWith("chunk 24\n"));
    assert.ok(text.startsWith("chunk "));
  });
});

Deno.test("LogFile.write() continues an existing file and counts its size", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "a".repeat(600));
    const file = new LogFile(path, { maxBytes: 1000, keep: 3 });
    await file.write(encoder.encode("b".repeat(300)));
    assert.deepEqual(await listNames(dir), ["svc.stdout.log"]);
    await file.write(encoder.encode("c".repeat(300))); // 1200 > 1000: rotate first
    await file.close();
    assert.deepEqual(await listNames(dir), ["svc.stdout.log", "svc.stdout.log.1"]);
    assert.equal(await readText(`${path}.1`), "a".repeat(600) + "b".repeat(300));
    assert.equal(await readText(path), "c".repeat(300));

    // A new LogFile (an orchestrator restart) picks up the size of the current file.
    const again = new LogFile(path, { maxBytes: 1000, keep: 3 });
    await again.write(encoder.encode("d".repeat(700)));
    await again.write(encoder.encode("e".repeat(1)));
    await again.close();
    assert.equal(await readText(path), "e");
    assert.equal(await readText(`${path}.1`), "c".repeat(300) + "d".repeat(700));
    assert.equal(await readText(`${path}.2`), "a".repeat(600) + "b".repeat(300));
  });
});

Deno.test("LogFile.write() puts a chunk larger than maxBytes whole into a fresh file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 10, keep: 1 });
    await file.write(encoder.encode("small\n"));
    await file.write(encoder.encode("x".repeat(25)));
    assert.equal(await readText(path), "x".repeat(25));
    assert.equal(await readText(`${path}.1`), "small\n");
    await file.write(encoder.encode("next\n"));
    await file.close();
    assert.equal(await readText(path), "next\n");
    assert.equal(await readText(`${path}.1`), "x".repeat(25));
    assert.deepEqual(await listNames(dir), ["svc.stdout.log", "svc.stdout.log.1"]);
  });
});

Deno.test("LogFile.write() keeps order when calls are not awaited", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 64, keep: 50 });
    const pending = [];
    let all = "";
    for (let i = 0; i < 200; i++) {
      const line = `${i}\n`;
      all += line;
      pending.push(file.write(encoder.encode(line)));
    }
    await Promise.all(pending);
    await file.close();
    let joined = "";
    for (let i = 50; i >= 1; i--) {
      const text = await readText(`${path}.${i}`).catch(() => "");
      assert.ok(text.length <= 64);
      joined += text;
    }
    joined += await readText(path);
    assert.ok(all.endsWith(joined));
  });
});

Deno.test("LogFile.write() drops and reports while the directory is unusable, then resumes", async () => {
  await withTempDir(async (dir) => {
    const logDir = join(dir, "logs");
    const path = join(logDir, "svc.stdout.log");
    // A regular file where the directory should be: mkdir and open both fail.
    await Deno.writeTextFile(logDir, "not a directory");
    const errors: Error[] = [];
    let now = 1_000;
    const file = new LogFile(path, {
      maxBytes: 1000,
      keep: 2,
      onError: (err) => errors.push(err),
      reportIntervalMs: 60_000,
      now: () => now,
    });

    for (let i = 0; i < 10; i++) await file.write(encoder.encode("0123456789"));
    assert.equal(file.droppedBytes, 100);
    assert.equal(errors.length, 1);
    assert.ok(errors[0]!.message.includes(`"${path}"`), errors[0]!.message);
    assert.ok(errors[0]!.message.startsWith("Cannot write log file"));
    assert.ok(errors[0]!.cause instanceof Error);

    now += 59_999;
    await file.write(encoder.encode("abc"));
    assert.equal(errors.length, 1);
    now += 1;
    await file.write(encoder.encode("abc"));
    assert.equal(errors.length, 2);
    assert.ok(errors[1]!.message.includes("(96 bytes dropped since the last report)"));
    assert.equal(file.droppedBytes, 106);

    // Space comes back: the file is created again on the next write.
    await Deno.remove(logDir);
    await file.write(encoder.encode("back\n"));
    await file.close();
    assert.equal(await readText(path), "back\n");
    assert.equal(file.droppedBytes, 106);
    assert.equal(errors.length, 2);
  });
});

Deno.test("LogFile.write() survives a failed rotation and rotates once it can", async () => {
  await withTempDir(async (dir) => {
    const logDir = join(dir, "logs");
    const path = join(logDir, "svc.stdout.log");
    const errors: Error[] = [];
    const file = new LogFile(path, { maxBytes: 10, keep: 1, onError: (err) => errors.push(err) });
    await file.write(encoder.encode("first\n"));
    // The directory disappears and a file takes its name while the handle is open.
    await Deno.remove(logDir, { recursive: true });
    await Deno.writeTextFile(logDir, "in the way");
    await file.write(encoder.encode("second\n")); // needs a rotation, which fails
    assert.equal(file.droppedBytes, 7);
    assert.equal(errors.length, 1);

    await Deno.remove(logDir);
    await Deno.mkdir(logDir);
    await file.write(encoder.encode("third\n"));
    await file.close();
    assert.equal(await readText(path), "third\n");
    assert.equal(errors.length, 1);
  });
});

Deno.test("LogFile.write() counts partial writes on a full disk and never throws", async () => {
  const errors: Error[] = [];
  // /dev/full opens fine and fails every write with ENOSPC.
  const file = new LogFile("/dev/full", {
    maxBytes: 1_000_000,
    keep: 0,
    onError: (e) => errors.push(e),
  });
  await file.write(encoder.encode("x".repeat(100)));
  await file.write(encoder.encode("y".repeat(50)));
  await file.close();
  assert.equal(file.droppedBytes, 150);
  assert.equal(errors.length, 1);
  assert.ok(errors[0]!.message.includes('"/dev/full"'));
});

Deno.test("LogFile.write() ignores a throwing onError", async () => {
  await withTempDir(async (dir) => {
    const blocker = join(dir, "blocker");
    await Deno.writeTextFile(blocker, "");
    const file = new LogFile(join(blocker, "svc.stdout.log"), {
      maxBytes: 100,
      keep: 1,
      onError: () => {
        throw new Error("reporter broke");
      },
    });
    await file.write(encoder.encode("lost"));
    assert.equal(file.droppedBytes, 4);
  });
});

Deno.test("LogFile.close() is idempotent and later writes are dropped", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 100, keep: 1 });
    const pending = file.write(encoder.encode("before\n"));
    const closing = file.close();
    assert.equal(file.close(), closing);
    await Promise.all([pending, closing, file.close()]);
    await file.write(encoder.encode("after\n"));
    assert.equal(await readText(path), "before\n");
    assert.equal(file.droppedBytes, 6);
    await new LogFile(join(dir, "never.log"), { maxBytes: 1, keep: 0 }).close();
    assert.deepEqual(await listNames(dir), ["svc.stdout.log"]);
  });
});

Deno.test("LogFile() rejects bad options", () => {
  assert.throws(() => new LogFile("", { maxBytes: 1, keep: 0 }), TypeError);
  assert.throws(() => new LogFile("a.log", { maxBytes: 0, keep: 0 }), RangeError);
  assert.throws(() => new LogFile("a.log", { maxBytes: 1.5, keep: 0 }), RangeError);
  assert.throws(() => new LogFile("a.log", { maxBytes: 10, keep: -1 }), RangeError);
  assert.throws(
    () => new LogFile("a.log", { maxBytes: 10, keep: 1, reportIntervalMs: NaN }),
    RangeError,
  );
});

Deno.test("LogFile.outputOffset() tells where each file on disk begins in the output", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "svc.stdout.log");
    await Deno.writeTextFile(path, "before\n"); // 7 bytes written by an earlier run
    const file = new LogFile(path, { maxBytes: 100, keep: 1 });
    assert.equal(LogFile.outputOffset(path, (await Deno.stat(path)).ino!), undefined);
    let output = 7;
    for (let i = 0; i < 200; i++) {
      const chunk = encoder.encode(`line ${i} ${"z".repeat(i % 13)}\n`);
      await file.write(chunk);
      output += chunk.byteLength;
      // Rotated files are deleted and their inodes reused: each file still gets its own start.
      const current = await Deno.stat(path);
      assert.deepEqual(LogFile.outputOffset(path, current.ino!), {
        writer: file,
        offset: output - current.size,
      });
      if (i > 20) {
        const rotated = await Deno.stat(`${path}.1`);
        assert.equal(
          LogFile.outputOffset(path, rotated.ino!)?.offset,
          output - current.size - rotated.size,
        );
      }
    }
    const ino = (await Deno.stat(path)).ino!;
    await file.close();
    assert.equal(LogFile.outputOffset(path, ino), undefined);
  });
});
