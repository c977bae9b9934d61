/**
 * Logs in time order, with real processes and files: the time prefix in
 * the log files (and raw files with `timestamps: false`), `merged` with the
 * start and exit markers, `since`, followed lines with `at`, and
 * `edgevisor logs -f` in a subprocess, across a restart of the orchestrator.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { LogLines, MergedLogEntry } from "../src/types.ts";
import {
  api,
  FAST,
  freePort,
  MAIN,
  PERMISSIONS,
  sh,
  startOrchestrator,
  tempDir,
  waitFor,
} from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

/** `line` of a line entry, `[text]` of a marker. */
function text(entries: MergedLogEntry[]): string[] {
  return entries.map((e) => ("marker" in e ? `[${e.text}]` : `${e.stream}: ${e.line}`));
}

/** Lines far enough apart that a busy machine does not give two of them the same arrival time. */
const WRITER =
  "echo o1; sleep 0.3; echo e1 >&2; sleep 0.3; echo o2; sleep 0.3; echo e2 >&2; sleep 0.3; " +
  "printf 'no newline'; exit 3";

Deno.test("Service log files begin each line with its time, or stay raw with timestamps false", async () => {
  await withSupervisor(
    [
      { name: "stamped", ...sh(WRITER), restart_policy: "never" },
      { name: "raw", ...sh(WRITER), restart_policy: "never", log: { timestamps: false } },
    ],
    async ({ sup, dir, until }) => {
      await until("stamped", (s) => s.status === "exited", "stamped to exit");
      await until("raw", (s) => s.status === "exited", "raw to exit");
      const read = (file: string) => Deno.readTextFileSync(`${dir}/logs/${file}`);
      assert.equal(read("raw.stdout.log"), "o1\no2\nno newline");
      assert.equal(read("raw.stderr.log"), "e1\ne2\n");
      const stamped = read("stamped.stdout.log");
      // The unfinished last line is ended when its process is gone.
      assert.ok(stamped.endsWith(" no newline\n"), stamped);
      const lines = stamped.trimEnd().split("\n");
      assert.deepEqual(lines.map((l) => l.replace(STAMPED, "")), ["o1", "o2", "no newline"]);
      assert.ok(lines.every((l) => STAMPED.test(l)), stamped);

      // The readers give the raw lines and the times.
      const tail = await sup.logs("stamped", 10, "both");
      assert.deepEqual(tail.stdout, ["o1", "o2", "no newline"]);
      assert.deepEqual(tail.stderr, ["e1", "e2"]);
      const raw = await sup.logs("raw", 10, "both");
      assert.deepEqual(raw.stdout, ["o1", "o2", "no newline"]);
      assert.deepEqual(raw.stderr, ["e1", "e2"]);
      // Without times there is no order between the streams: no `merged`.
      assert.equal(raw.merged, undefined);
      // Followed, the lines of a raw file come with null times.
      const abort = new AbortController();
      const follower = sup.followLogs("raw", { lines: 10, stream: "stderr", signal: abort.signal })
        [Symbol.asyncIterator]();
      const first = await follower.next();
      abort.abort();
      await follower.return?.();
      assert.deepEqual(first.value, { stream: "stderr", lines: ["e1", "e2"], at: [null, null] });
      // Without times, no line can be chosen by time: refused, not an empty answer.
      await assert.rejects(
        () => sup.logs("raw", 10, "both", { sinceMs: 0 }),
        (e: Error) =>
          e.name === "NotImplementedError" && /log\.timestamps is false/.test(e.message),
      );
      assert.throws(
        () =>
          sup.followLogs("raw", { lines: 10, stream: "both", sinceMs: 0, signal: abort.signal }),
        (e: Error) => e.name === "NotImplementedError",
      );
      assert.equal((await sup.logs("stamped", 10, "stdout", { sinceMs: 0 })).stdout?.length, 3);
    },
  );
});

Deno.test("Supervisor.logs() merges both streams in time order with start and exit markers, and honours since", async () => {
  await withSupervisor(
    [{ name: "w", ...sh(WRITER), restart_policy: "never" }],
    async ({ sup, until }) => {
      await until("w", (s) => s.status === "exited", "w to exit");
      await sup.start("w");
      await until("w", (s) => s.status === "exited", "w to exit again");
      const exits = sup.history("w").events.filter((e) => e.type === "exit");
      assert.equal(exits.length, 2);
      const [p1, p2] = exits.map((e) => e.type === "exit" ? e.pid : 0);
      const run = (pid: number) => [
        `[started (pid ${pid})]`,
        "stdout: o1",
        "stderr: e1",
        "stdout: o2",
        "stderr: e2",
        "stdout: no newline",
        `[exited with code 3 (pid ${pid})]`,
      ];
      const tail = await sup.logs("w", 100, "both");
      assert.deepEqual(text(tail.merged!), [...run(p1!), ...run(p2!)]);
      const times = tail.merged!.map((e) => Date.parse(e.at!));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "in time order");
      assert.deepEqual(tail.stdout, ["o1", "o2", "no newline", "o1", "o2", "no newline"]);

      // At most `lines` lines, from the start of the process that wrote the first one.
      assert.deepEqual(text((await sup.logs("w", 3, "both")).merged!), [
        `[started (pid ${p2})]`,
        "stdout: o2",
        "stderr: e2",
        "stdout: no newline",
        `[exited with code 3 (pid ${p2})]`,
      ]);
      assert.deepEqual(text((await sup.logs("w", 2, "stderr")).merged!), [
        `[started (pid ${p2})]`,
        "stderr: e1",
        "stderr: e2",
        `[exited with code 3 (pid ${p2})]`,
      ]);

      // Since the time of the second run's second line.
      const second = tail.merged!.filter((e) => "line" in e)[6]!;
      assert.equal(text([second])[0], "stderr: e1");
      const since = await sup.logs("w", 100, "both", { sinceMs: Date.parse(second.at!) });
      assert.deepEqual(text(since.merged!), [
        "stderr: e1",
        "stdout: o2",
        "stderr: e2",
        "stdout: no newline",
        `[exited with code 3 (pid ${p2})]`,
      ]);
      assert.deepEqual(since.stdout, ["o2", "no newline"]);
      assert.deepEqual(since.stderr, ["e1", "e2"]);
    },
  );
});

Deno.test("Supervisor.followLogs() gives the time of each line, and only lines since a time", async () => {
  await withSupervisor(
    [{ name: "ticker", ...sh("i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.05; done") }],
    async ({ sup }) => {
      await waitFor(async () => (await sup.logs("ticker", 3, "stdout")).stdout!.length === 3, {
        message: "three ticks",
      });
      const abort = new AbortController();
      const batches: LogLines[] = [];
      try {
        for await (
          const batch of sup.followLogs("ticker", {
            lines: 2,
            stream: "both",
            signal: abort.signal,
          })
        ) {
          batches.push(batch);
          if (batches.length >= 4) break;
        }
      } finally {
        abort.abort();
      }
      assert.deepEqual(batches.slice(0, 2).map((b) => [b.stream, b.lines.length]), [
        ["stdout", 2],
        ["stderr", 0],
      ]);
      for (const batch of batches) {
        assert.equal(batch.at?.length, batch.lines.length, JSON.stringify(batch));
        assert.ok(batch.at.every((at) => at !== null && !Number.isNaN(Date.parse(at))));
        assert.ok(batch.lines.every((line) => /^tick \d+$/.test(line)), JSON.stringify(batch));
      }

      // Since a time: the last lines before it are left out.
      const sinceMs = Date.now();
      const since = new AbortController();
      const after: LogLines[] = [];
      try {
        for await (
          const batch of sup.followLogs("ticker", {
            lines: 1000,
            stream: "stdout",
            signal: since.signal,
            sinceMs,
          })
        ) {
          after.push(batch);
          if (after.some((b) => b.lines.length > 0) && after.length >= 2) break;
        }
      } finally {
        since.abort();
      }
      const times = after.flatMap((b) => b.at ?? []).map((at) => Date.parse(at!));
      assert.ok(times.length > 0 && times.every((ms) => ms >= sinceMs), JSON.stringify(after));
    },
  );
});

Deno.test("GET logs answers merged and since through the API", async () => {
  await using orch = await startOrchestrator({
    registry: { services: [{ ...FAST, name: "w", ...sh(WRITER), restart_policy: "never" }] },
  });
  await waitFor(
    async () => (await api(orch.url, "GET", "/api/services/status/w")).body.status === "exited",
    { message: "w to exit" },
  );
  const answer = await api(orch.url, "GET", "/api/services/logs/w?lines=2");
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(answer.body.stdout, ["o2", "no newline"]);
  const merged = text(answer.body.merged);
  assert.equal(merged.length, 4, JSON.stringify(merged));
  assert.match(merged[0]!, /^\[started \(pid \d+\)\]$/);
  assert.deepEqual(merged.slice(1, 3), ["stderr: e2", "stdout: no newline"]);
  assert.match(merged[3]!, /^\[exited with code 3 \(pid \d+\)\]$/);
  const future = new Date(Date.now() + 3_600_000).toISOString();
  const none = await api(orch.url, "GET", `/api/services/logs/w?since=${future}`);
  assert.deepEqual([none.body.stdout, none.body.stderr, none.body.merged], [[], [], []]);
});

/** Reads a subprocess's standard output as it comes. */
class Output {
  text = "";
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this.text += chunk;
    })();
  }
  /** Lines `tick N` printed, with their time. */
  ticks(): string[] {
    return this.text.split("\n").filter((line) => / out tick \d+$/.test(line));
  }
}

Deno.test("edgevisor logs -f prints new lines in time order, reconnects after a restart of edgevisor, and ends on SIGINT", async () => {
  const dir = await tempDir();
  const port = freePort();
  const registry = {
    services: [{
      ...FAST,
      name: "ticker",
      // Fast enough that a batch is still unsent when edgevisor stops.
      ...sh("i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.01; done"),
    }],
  };
  let orch = await startOrchestrator({ registry, dir, port });
  const cli = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...PERMISSIONS,
      MAIN,
      "logs",
      "ticker",
      "-f",
      "-n",
      "1",
      "--url",
      orch.url,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Output(cli.stdout);
  const err = new Output(cli.stderr);
  try {
    await waitFor(() => out.ticks().length >= 6, {
      message: "6 ticks followed",
      timeoutMs: 20_000,
    });
    assert.match(out.text, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} --- started \(pid \d+\)$/m);
    for (const line of out.ticks()) {
      assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} out tick \d+$/);
    }
    const numbers = out.ticks().map((line) => Number(line.split(" ").at(-1)));
    assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i), "consecutive ticks");

    // A restart of the service while it is followed: its exit and its new start are marked.
    const old = (await api(orch.url, "GET", "/api/services/status/ticker")).body.pid;
    const restarted = await api(orch.url, "POST", "/api/services/restart/ticker");
    assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
    await waitFor(
      () =>
        out.text.includes(` --- killed by SIGTERM (pid ${old})\n`) &&
        out.text.includes(` --- started (pid ${restarted.body.pid})\n`),
      { message: "the exit and the start marked while following", timeoutMs: 20_000 },
    );

    // A restart of the orchestrator: the follow reconnects and goes on, printing nothing twice.
    await orch.stop();
    await waitFor(() => err.text.includes("reconnecting"), { message: "a reconnection notice" });
    const before = out.ticks().length;
    orch = await startOrchestrator({ registry: orch.registryPath, dir, port });
    await waitFor(() => out.ticks().length >= before + 3, {
      message: "ticks after the restart",
      timeoutMs: 20_000,
    });
    // The new orchestrator's run of the service (the history of the old one is gone with it).
    assert.equal(out.text.match(/ --- started \(pid \d+\)$/gm)?.length, 3, out.text);
    const printed = out.text.trimEnd().split("\n");
    assert.equal(new Set(printed).size, printed.length, "no line printed twice");
    // Nothing lost across the restart, however many lines it missed (-n 1): the printed ticks are
    // a run of the file's lines, those written while nobody followed included.
    const ticks = out.ticks().map((line) => line.slice(line.indexOf(" out ") + 5));
    const file = Deno.readTextFileSync(`${dir}/logs/ticker.stdout.log`).trimEnd().split("\n")
      .map((line) => line.slice(line.indexOf(" ") + 1));
    const from = file.findIndex((_, k) => ticks.every((tick, i) => file[k + i] === tick));
    assert.ok(
      from >= 0,
      `printed ticks ${JSON.stringify(ticks)} are consecutive lines of the file`,
    );

    Deno.kill(cli.pid, "SIGINT");
    const status = await cli.status;
    assert.equal(status.code, 0, err.text);
  } finally {
    try {
      cli.kill("SIGKILL");
    } catch {
      // already gone
    }
    await Promise.allSettled([cli.status, out.done, err.done]);
    await orch.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
