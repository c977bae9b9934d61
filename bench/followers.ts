/**
 * Log followers under a flood: a real orchestrator (run with the flags of
 * `deno task start`) supervises a service that writes numbered 103-byte
 * lines at `--rate` MB/s and a quiet service with a liveness check (`exec`
 * `true` every second, 1 s timeout, 3 failures restart it). After a quiet
 * phase without streams, `--followers` clients follow the flooding service's
 * log (`GET /api/services/logs/flood?follow=1&lines=100&stream=stdout`) and
 * read everything they are sent, reconnecting a second after the server ends
 * their stream as a browser does, while `--stalled` more clients open the
 * same stream over a raw socket and never read. Each phase lasts
 * `--seconds`. Prints figures; asserts nothing.
 *
 * Reported per phase: the orchestrator's peak RSS (sampled every 100 ms) and
 * CPU share of one core, the latency of `GET /api/services/list` (one request
 * every 100 ms: p50, p99, max), the rate the writer achieved (from the line
 * numbers in its log file: the orchestrator slows it down when it does not
 * drain its pipe), the bytes the reading followers received, their
 * reconnections, and whether the quiet service was ever restarted. At the
 * end: how many stalled clients the server disconnected.
 *
 * ```sh
 * deno run --allow-all bench/followers.ts [--seconds 15] [--followers 50] [--stalled 10] [--rate 50]
 * ```
 *
 * @module
 */
import { splitTime, TIME_PREFIX_LENGTH } from "../src/logs/times.ts";
import { FAST, startOrchestrator, startTaskFlags, tempDir } from "../tests/harness.ts";
import { percentile } from "./stats.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const SECONDS = arg("seconds", 15);
const FOLLOWERS = arg("followers", 50);
const STALLED = arg("stalled", 10);
const RATE_MB = arg("rate", 50);
const LOG_MB = arg("log-mb", 5);
const TICKS = 100; // clock ticks per second on Linux
const LINE_BYTES = 103; // "line %012d <84 x>\n"
const FOLLOW_PATH = "/api/services/logs/flood?follow=1&lines=100&stream=stdout";

/** The writer: numbered lines in 60 000-byte writes, paced to RATE MB/s (0: as fast as it can). */
const WRITER = `
const rate = Number(Deno.args[0]) * 1e6;
const perChunk = Math.floor(60000 / ${LINE_BYTES});
const chunk = new TextEncoder().encode(("line 000000000000 " + "x".repeat(84) + "\\n").repeat(perChunk));
let n = 0, bytes = 0;
const t0 = performance.now();
while (true) {
  for (let l = 0; l < perChunk; l++, n++) {
    let v = n;
    for (let d = 16; d >= 5; d--) { chunk[l * ${LINE_BYTES} + d] = 48 + (v % 10); v = Math.floor(v / 10); }
  }
  let off = 0;
  while (off < chunk.length) off += Deno.stdout.writeSync(chunk.subarray(off));
  bytes += chunk.length;
  if (rate > 0) {
    const ahead = (bytes / rate) * 1000 - (performance.now() - t0);
    if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
  }
}
`;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** The number of the last complete line in the flood's log (current file, else the rotated one). */
function lastLineNumber(path: string): number | undefined {
  for (const file of [path, `${path}.1`]) {
    try {
      using f = Deno.openSync(file);
      const size = f.statSync().size;
      const start = Math.max(0, size - 4 * (LINE_BYTES + TIME_PREFIX_LENGTH));
      const buf = new Uint8Array(size - start);
      f.seekSync(start, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const n = f.readSync(buf.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
      const lines = new TextDecoder().decode(buf.subarray(0, got)).split("\n").slice(0, -1);
      for (const line of lines.reverse()) {
        // Past the time prefix of the file's lines (log.timestamps).
        const m = /^line (\d{12}) x{84}$/.exec(splitTime(line).line);
        if (m) return Number(m[1]);
      }
    } catch {
      // not there (yet)
    }
  }
  return undefined;
}

/** Followers that read everything and reconnect a second after the server ends their stream. */
function readingFollowers(url: string, n: number) {
  let bytes = 0;
  let reconnects = 0;
  let open = 0;
  const stop = new AbortController();
  const readers = new Set<ReadableStreamDefaultReader<Uint8Array>>();
  const loops = Array.from({ length: n }, async () => {
    while (!stop.signal.aborted) {
      try {
        const res = await fetch(url + FOLLOW_PATH, { signal: stop.signal });
        const reader = res.body!.getReader();
        if (res.status !== 200) await reader.cancel();
        else {
          open++;
          readers.add(reader);
          try {
            while (true) {
              const { done, value } = await reader.read();
              if (done) break;
              bytes += value.byteLength;
            }
          } finally {
            open--;
            readers.delete(reader);
          }
        }
      } catch {
        // aborted, or the connection was dropped
      }
      if (stop.signal.aborted) break;
      reconnects++;
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
  return {
    bytes: () => bytes,
    reconnects: () => reconnects,
    open: () => open,
    async close() {
      stop.abort(); // does not end a body being read: cancel those
      await Promise.all([...readers].map((r) => r.cancel().catch(() => {})));
      await Promise.all(loops);
    },
  };
}

/** Clients that send the request and never read; `closed()` reads each to see whether the server ended it. */
async function stalledFollowers(port: number, n: number) {
  const conns: Deno.TcpConn[] = [];
  const request = new TextEncoder().encode(
    `GET ${FOLLOW_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
  );
  for (let i = 0; i < n; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request);
    conns.push(conn);
  }
  return {
    /** Read every connection for up to 3 s; how many reached their end (the server closed them). */
    async closed(): Promise<number> {
      const results = await Promise.all(conns.map(async (conn) => {
        const buf = new Uint8Array(1 << 20);
        const deadline = Date.now() + 3000;
        try {
          while (Date.now() < deadline) {
            const n = await Promise.race([
              conn.read(buf),
              new Promise<"slow">((r) => setTimeout(() => r("slow"), deadline - Date.now())),
            ]);
            if (n === null) return true;
            if (n === "slow") return false;
          }
        } catch {
          return true; // reset by the server
        }
        return false;
      }));
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      return results.filter(Boolean).length;
    },
  };
}

interface Phase {
  name: string;
  peakRssMiB: number;
  cpuPercent: number;
  listP50Ms: number;
  listP99Ms: number;
  listMaxMs: number;
  writerMBps: number;
  followerMBps: number;
  reconnects: number;
  healthyRestarts: number;
}

const dir = await tempDir("edgevisor_bench_followers_");
const writer = `${dir}/writer.ts`;
await Deno.writeTextFile(writer, WRITER);
const orch = await startOrchestrator({
  dir,
  flags: startTaskFlags(),
  registry: {
    services: [
      {
        ...FAST,
        name: "flood",
        cmd: Deno.execPath(),
        args: ["run", "--quiet", writer, String(RATE_MB)],
        log: { max_size_mb: LOG_MB, keep: 3 },
      },
      {
        ...FAST,
        name: "healthy",
        cmd: "sleep",
        args: ["31536000"],
        liveness: { type: "exec", command: "true", interval: 1, timeout: 1, failure_threshold: 3 },
      },
    ],
  },
});

/** One phase: sample RSS and the list latency for SECONDS while `extra` reports the followers' bytes. */
async function measure(
  name: string,
  followers?: ReturnType<typeof readingFollowers>,
): Promise<Phase> {
  const restartsBefore = await healthyRestarts();
  const log = `${orch.logDir}/flood.stdout.log`;
  const line0 = lastLineNumber(log) ?? 0;
  const bytes0 = followers?.bytes() ?? 0;
  const reconnects0 = followers?.reconnects() ?? 0;
  const cpu0 = cpuSeconds(orch.pid);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(orch.pid))), 100);
  const latencies: number[] = [];
  while (performance.now() < end) {
    const started = performance.now();
    try {
      const res = await fetch(`${orch.url}/api/services/list`, {
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
    } catch {
      latencies.push(30_000);
    }
    const wait = 100 - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(orch.pid);
  const line1 = lastLineNumber(log) ?? line0;
  latencies.sort((a, b) => a - b);
  return {
    name,
    peakRssMiB: Math.max(peak, rssMiB(orch.pid)),
    cpuPercent: (100 * (cpu1 - cpu0)) / elapsed,
    listP50Ms: percentile(latencies, 50),
    listP99Ms: percentile(latencies, 99),
    listMaxMs: latencies.at(-1) ?? NaN,
    writerMBps: ((line1 - line0) * LINE_BYTES) / 1e6 / elapsed,
    followerMBps: ((followers?.bytes() ?? 0) - bytes0) / 1e6 / elapsed,
    reconnects: (followers?.reconnects() ?? 0) - reconnects0,
    healthyRestarts: (await healthyRestarts()) - restartsBefore,
  };
}

async function healthyRestarts(): Promise<number> {
  const res = await fetch(`${orch.url}/api/services/status/healthy`);
  return (await res.json()).restarts;
}

try {
  await new Promise((r) => setTimeout(r, 2000)); // the writer starts
  console.error(`measuring ${SECONDS} s without streams`);
  const phases = [await measure("no stream")];
  console.error(`opening ${FOLLOWERS} reading and ${STALLED} stalled followers`);
  const stalled = await stalledFollowers(orch.port, STALLED);
  const followers = readingFollowers(orch.url, FOLLOWERS);
  phases.push(await measure(`${FOLLOWERS} + ${STALLED} stalled followers`, followers));
  const stalledClosed = await stalled.closed();
  await followers.close();

  console.log(
    `orchestrator pid ${orch.pid} (${startTaskFlags().join(" ")}), writer at ${RATE_MB} MB/s, ` +
      `log files of ${LOG_MB} MB, keep 3, ${SECONDS} s per phase`,
  );
  const header = [
    "phase",
    "peak RSS MiB",
    "CPU %",
    "list p50 ms",
    "p99 ms",
    "max ms",
    "writer MB/s",
    "sent MB/s",
    "reconnects",
    "liveness restarts",
  ];
  const widths = header.map((h, i) => Math.max(h.length, i === 0 ? 28 : 8));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  console.log(line(header));
  for (const p of phases) {
    console.log(line([
      p.name,
      p.peakRssMiB.toFixed(0),
      p.cpuPercent.toFixed(0),
      p.listP50Ms.toFixed(1),
      p.listP99Ms.toFixed(1),
      p.listMaxMs.toFixed(0),
      p.writerMBps.toFixed(1),
      p.followerMBps.toFixed(1),
      String(p.reconnects),
      String(p.healthyRestarts),
    ]));
  }
  console.log(`stalled followers disconnected by the server: ${stalledClosed} of ${STALLED}`);
} finally {
  await orch.destroy();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
