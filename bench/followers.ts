/**
 * Cost of open streams: orchestrator CPU and RSS with 0 and 100 concurrent
 * log followers (`GET /api/services/logs/{name}?follow=1`), and with 100
 * event streams (`GET /api/services/events`), while one service writes 10
 * lines a second. Prints figures; asserts nothing.
 *
 * ```sh
 * deno run --allow-all bench/followers.ts [--seconds 10] [--followers 100]
 * ```
 *
 * @module
 */
import { FAST, sh, startOrchestrator } from "../tests/harness.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const SECONDS = arg("seconds", 10);
const FOLLOWERS = arg("followers", 100);
const TICKS = 100; // clock ticks per second on Linux

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib / 1024;
}

/** Open `n` streams of `path` that count the bytes they receive. */
async function openStreams(url: string, path: string, n: number) {
  let bytes = 0;
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const done = Array.from({ length: n }, async () => {
    try {
      const res = await fetch(url + path);
      const reader = res.body!.getReader();
      readers.push(reader);
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
    } catch {
      // cancelled
    }
  });
  const deadline = Date.now() + 10_000;
  while (readers.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return {
    opened: () => readers.length,
    bytes: () => bytes,
    async close() {
      await Promise.all(readers.map((r) => r.cancel()));
      await Promise.all(done);
    },
  };
}

/** CPU use (percent of one core) and RSS of `pid` over `seconds`. */
async function measure(pid: number, seconds: number) {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu1 = cpuSeconds(pid);
  const elapsed = (performance.now() - t0) / 1000;
  return { cpu: (100 * (cpu1 - cpu0)) / elapsed, rss: rssMiB(pid) };
}

const orch = await startOrchestrator({
  registry: {
    services: [
      {
        ...FAST,
        name: "chatty",
        // 10 lines a second on stdout, one a second on stderr.
        ...sh(
          'i=0; while true; do i=$$((i+1)); echo "line $$i"; case $$i in *0) echo "err $$i" >&2;; esac; sleep 0.1; done',
        ),
      },
    ],
  },
});
try {
  await new Promise((r) => setTimeout(r, 1000));
  const rows: string[][] = [];
  const row = (what: string, m: { cpu: number; rss: number }, extra = "") =>
    rows.push([what, m.cpu.toFixed(2), m.rss.toFixed(1), extra]);

  console.error("measuring without streams");
  row("no stream", await measure(orch.pid, SECONDS));
  console.error(`opening ${FOLLOWERS} log followers`);

  const logs = await openStreams(
    orch.url,
    "/api/services/logs/chatty?follow=1&lines=100",
    FOLLOWERS,
  );
  const before = logs.bytes();
  const m1 = await measure(orch.pid, SECONDS);
  row(
    `${logs.opened()} log followers`,
    m1,
    `${((logs.bytes() - before) / 1024 / SECONDS).toFixed(1)} KiB/s sent`,
  );
  console.error("closing them");
  await logs.close();
  console.error(`opening ${FOLLOWERS} event streams`);

  const events = await openStreams(orch.url, "/api/services/events", FOLLOWERS);
  row(`${events.opened()} event streams`, await measure(orch.pid, SECONDS));
  await events.close();

  const widths = [22, 12, 10, 20];
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  console.log(
    `orchestrator pid ${orch.pid}, ${SECONDS} s per measurement, 1 service at 11 lines/s`,
  );
  console.log(line(["streams", "CPU % (1 core)", "RSS MiB", "traffic"]));
  for (const r of rows) console.log(line(r));
} finally {
  await orch.destroy();
}
