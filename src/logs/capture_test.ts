import assert from "node:assert/strict";
import { join } from "node:path";
import { pipeToLog, TimestampSink } from "./capture.ts";
import { LogFile } from "./log_file.ts";
import { tailLines } from "./tail.ts";
import { splitTimes } from "./times.ts";

Deno.test("pipeToLog() captures a crashing child up to its last line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_capture_" });
  try {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 1_000_000, keep: 2 });
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        "for i in $(seq 1 2000); do echo line $i; done; echo last-line-before-crash; exit 3",
      ],
      stdout: "piped",
    }).spawn();
    await pipeToLog(child.stdout, file);
    const status = await child.status;
    await file.close();
    assert.equal(status.code, 3);
    const text = await Deno.readTextFile(path);
    assert.ok(text.endsWith("line 2000\nlast-line-before-crash\n"));
    assert.equal(text.split("\n").length, 2002);
    assert.deepEqual(await tailLines(path, 2), ["line 2000", "last-line-before-crash"]);
    assert.equal(file.droppedBytes, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pipeToLog() reads the next chunk only after the previous write finished", async () => {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      if (pulled > 50) controller.close();
      else controller.enqueue(new Uint8Array([pulled]));
    },
  }, { highWaterMark: 0 });
  let writing = 0;
  let overlapped = false;
  let maxAhead = 0;
  const seen: number[] = [];
  const slowSink = {
    async write(chunk: Uint8Array): Promise<void> {
      writing++;
      if (writing > 1) overlapped = true;
      maxAhead = Math.max(maxAhead, pulled - seen.length);
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(chunk[0]!);
      writing--;
    },
  };
  await pipeToLog(stream, slowSink);
  assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i + 1));
  assert.equal(overlapped, false, "writes overlap");
  assert.ok(maxAhead <= 2, `read ${maxAhead} chunks ahead of the writes`);
});

Deno.test("pipeToLog() resolves on a read error and keeps what came before", async () => {
  let step = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      step++;
      if (step === 1) controller.enqueue(new TextEncoder().encode("before\n"));
      else controller.error(new Error("pipe broke"));
    },
  });
  const chunks: string[] = [];
  await pipeToLog(stream, {
    write: (chunk) => {
      chunks.push(new TextDecoder().decode(chunk));
      return Promise.resolve();
    },
  });
  assert.deepEqual(chunks, ["before\n"]);
});

Deno.test("pipeToLog() keeps draining when a sink rejects", async () => {
  const stream = ReadableStream.from(["a", "b", "c"].map((s) => new TextEncoder().encode(s)));
  const seen: string[] = [];
  await pipeToLog(stream, {
    write: (chunk) => {
      const text = new TextDecoder().decode(chunk);
      seen.push(text);
      return text === "b" ? Promise.reject(new Error("sink broke")) : Promise.resolve();
    },
  });
  assert.deepEqual(seen, ["a", "b", "c"]);
});

Deno.test("pipeToLog() resolves at once on a locked stream", async () => {
  const stream = new ReadableStream<Uint8Array>();
  const reader = stream.getReader();
  await pipeToLog(stream, { write: () => Promise.resolve() });
  reader.releaseLock();
});

Deno.test("pipeToLog() copies bursts and trickles byte for byte, whatever its read size", async () => {
  const chunks: Uint8Array[] = [];
  // A burst much larger than one read, then a few small writes.
  const child = new Deno.Command("sh", {
    args: ["-c", "seq 1 100000; echo a; sleep 0.05; echo b"],
    stdout: "piped",
  }).spawn();
  await pipeToLog(child.stdout, {
    write(chunk) {
      chunks.push(chunk.slice());
      return Promise.resolve();
    },
  });
  await child.status;
  const decoder = new TextDecoder();
  const text = chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  const expected = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join("") + "a\nb\n";
  assert.equal(text.length, expected.length);
  assert.ok(text === expected, "same bytes in the same order");
  assert.ok(chunks.length > 1);
});

Deno.test("TimestampSink begins each line with the time of its first byte", async () => {
  const written: string[] = [];
  const decoder = new TextDecoder();
  let now = Date.parse("2026-12-02T10:00:00.000Z");
  const sink = new TimestampSink(
    { write: (chunk) => (written.push(decoder.decode(chunk)), Promise.resolve()) },
    { now: () => now },
  );
  const write = (text: string) => sink.write(new TextEncoder().encode(text));
  await write("one\ntw");
  now += 5;
  await write("o\nthree\n");
  now += 5;
  await write("");
  await write("four");
  await sink.endLine();
  await sink.endLine();
  now += 5;
  await write("\n");
  assert.equal(
    written.join(""),
    "2026-12-02T10:00:00.000Z one\n2026-12-02T10:00:00.000Z two\n" +
      "2026-12-02T10:00:00.005Z three\n2026-12-02T10:00:00.010Z four\n" +
      "2026-12-02T10:00:00.015Z \n",
  );
});

Deno.test("TimestampSink behind pipeToLog writes files whose tails split back into raw lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_capture_" });
  try {
    const path = join(dir, "svc.stdout.log");
    const file = new LogFile(path, { maxBytes: 1_000_000, keep: 1 });
    const child = new Deno.Command("sh", {
      args: ["-c", "printf 'a\\nb\\n'; printf 'c'; sleep 0.05; printf 'd\\n'"],
      stdout: "piped",
    }).spawn();
    const before = Date.now();
    await pipeToLog(child.stdout, new TimestampSink(file));
    await child.status;
    await file.close();
    const { lines, at } = splitTimes(await tailLines(path, 10));
    assert.deepEqual(lines, ["a", "b", "cd"]);
    for (const time of at) {
      assert.ok(time !== null && Date.parse(time) >= before - 1000, String(time));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
