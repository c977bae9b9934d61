/**
 * Log readers on a budget, against a real `edgevisor run`: a follower that
 * never reads is disconnected while one that reads goes on, a tail of 10 000
 * lines of 200 KB answers within its byte budget, and one follower past the
 * cap is answered 503.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_FOLLOWERS } from "../src/logs/follow.ts";
import { TAIL_MAX_BYTES } from "../src/logs/tail.ts";
import { api, FAST, sh, startOrchestrator, uniqueSeconds, waitFor } from "./harness.ts";

/** A follower over fetch that reads everything and counts what it gets. */
class Follower {
  bytes = 0;
  lines = 0;
  ready = false;
  readonly status: Promise<number>;
  readonly ended: Promise<void>;
  readonly #abort = new AbortController();

  constructor(url: string) {
    const { promise, resolve } = Promise.withResolvers<number>();
    this.status = promise;
    this.ended = (async () => {
      try {
        const response = await fetch(url, { signal: this.#abort.signal });
        resolve(response.status);
        let text = "";
        for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
          this.bytes += chunk.length;
          text += chunk;
          let cut: number;
          while ((cut = text.indexOf("\n\n")) >= 0) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            if (block.includes("\nevent: ready\n")) this.ready = true;
            if (!block.includes("\nevent: lines\n")) continue;
            this.lines += JSON.parse(block.slice(block.indexOf("data: ") + 6)).lines.length;
          }
        }
      } catch {
        resolve(0); // aborted
      }
    })();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.ended;
  }
}

/** Numbered 100-byte lines as fast as the pipe takes them. */
const FLOOD = sh(
  `exec awk 'BEGIN { p = sprintf("%84s", ""); gsub(/ /, "x", p); for (i = 0; ; i++) printf "line %012d %s\\n", i, p }'`,
);

Deno.test("GET /api/services/logs/{name}?follow=1 disconnects a client that never reads, not one that reads", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{ ...FAST, name: "flood", ...FLOOD, log: { max_size_mb: 1, keep: 2 } }],
    },
  });
  const path = "/api/services/logs/flood?follow=1&lines=10&stream=stdout";
  const reading = new Follower(orch.url + path);
  await waitFor(() => reading.lines > 10_000, { message: "the reading follower's first lines" });

  // A client that sends its request and never reads its socket.
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port: orch.port });
  try {
    await stalled.write(
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${orch.port}\r\n\r\n`),
    );
    // Far more than the socket buffers of both ends and the bound of what may wait for it.
    const from = reading.bytes;
    await waitFor(() => reading.bytes - from > 40 * 1024 * 1024, {
      timeoutMs: 60_000,
      message: "40 MiB more for the reading follower",
    });
    // The server has ended the connection: what it had sent can be read, then the end.
    let received = 0;
    const buf = new Uint8Array(1024 * 1024);
    const end = await waitFor(async () => {
      try {
        const n = await Promise.race([
          stalled.read(buf),
          new Promise<"wait">((r) => setTimeout(() => r("wait"), 50)),
        ]);
        if (n === "wait") return false;
        if (n === null) return "end";
        received += n;
        return false;
      } catch {
        return "reset";
      }
    }, { timeoutMs: 20_000, intervalMs: 0, message: "the server to end the stalled stream" });
    assert.ok(end === "end" || end === "reset");
    assert.ok(received < 32 * 1024 * 1024, `the stalled client was sent ${received} bytes`);
    // The reading one goes on.
    const lines = reading.lines;
    await waitFor(() => reading.lines > lines + 10_000, { message: "more lines for the reader" });
  } finally {
    stalled.close();
    await reading.close();
  }
});

Deno.test("GET /api/services/logs/{name}?lines=10000 of 200 KB lines answers within the byte budget", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "wide",
        // 60 lines of 200 000 bytes plus their number, then quiet.
        ...sh(
          `awk 'BEGIN { s = "y"; while (length(s) < 200000) s = s s; s = substr(s, 1, 200000); for (i = 0; i < 60; i++) print i " " s }'; exec sleep ${uniqueSeconds()}`,
        ),
        log: { max_size_mb: 4, keep: 3 },
      }],
    },
  });
  const path = "/api/services/logs/wide?lines=10000&stream=both";
  await waitFor(
    async () =>
      (await api(orch.url, "GET", "/api/services/logs/wide?lines=1&stream=stdout"))
        .body.stdout?.[0]?.startsWith("59 "),
    { message: "the last line" },
  );
  // 30 at once: each waits its turn and answers within its budget.
  const answers = await Promise.all(Array.from({ length: 30 }, async () => {
    const response = await fetch(orch.url + path);
    return { status: response.status, text: await response.text() };
  }));
  for (const { status, text } of answers) {
    assert.equal(status, 200);
    // The budget of the stream, twice: `merged` repeats its lines in time order.
    assert.ok(text.length <= 2 * TAIL_MAX_BYTES + 2000, `an answer of ${text.length} bytes`);
    const body = JSON.parse(text);
    // 5 lines of 200 004 bytes fit in 1 MiB, 6 do not; the newest ones, in order.
    assert.deepEqual(body.stdout.map((l: string) => l.split(" ")[0]), [
      "55",
      "56",
      "57",
      "58",
      "59",
    ]);
    assert.ok(body.stdout.every((l: string) => l.length === 200_003));
    assert.deepEqual(body.stderr, []);
    assert.deepEqual(
      body.merged.filter((e: { line?: string }) => e.line !== undefined)
        .map((e: { line: string }) => e.line.split(" ")[0]),
      ["55", "56", "57", "58", "59"],
    );
  }
});

Deno.test("GET /api/services/logs/{name}?follow=1 answers 503 past the follower cap", async () => {
  await using orch = await startOrchestrator({
    registry: {
      services: [{
        ...FAST,
        name: "quiet",
        ...sh(`echo hello; exec sleep ${uniqueSeconds()}`),
      }],
    },
  });
  const url = `${orch.url}/api/services/logs/quiet?follow=1&lines=1&stream=both`;
  const followers = Array.from({ length: MAX_FOLLOWERS }, () => new Follower(url));
  try {
    await waitFor(() => followers.every((f) => f.ready), {
      timeoutMs: 20_000,
      message: `${MAX_FOLLOWERS} followers to be ready`,
    });
    const refused = await api(orch.url, "GET", "/api/services/logs/quiet?follow=1");
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, {
      ok: false,
      error: `Too many log followers (${MAX_FOLLOWERS}); try again later`,
    });
    // A tail is not a follower; a follower that leaves frees its place.
    assert.equal((await api(orch.url, "GET", "/api/services/logs/quiet?lines=1")).status, 200);
    await followers.pop()!.close();
    const again = await waitFor(async () => {
      const follower = new Follower(url);
      if (await follower.status === 200) return follower;
      await follower.close();
      return undefined;
    }, { message: "a follower to be accepted again" });
    followers.push(again);
    await waitFor(() => again.ready, { message: "the new follower's last lines" });
  } finally {
    await Promise.all(followers.map((f) => f.close()));
  }
});
