/**
 * A crash storm: a real orchestrator (run with the flags of `deno task
 * start`) supervises `--services` services that each exit with code 1
 * `--every` seconds after they start and are restarted at once (backoff 0,
 * no cooldown), about `services / every` restarts a second, beside 200 quiet
 * services. Meanwhile one client asks `GET /api/services/list` every 50 ms.
 * Prints the restart rate reached and the latency of `list` (p50, p99, max)
 * for a quiet phase and for the storm; asserts nothing.
 *
 * ```sh
 * deno run --allow-all bench/storm.ts [--seconds 15] [--services 20] [--every 0.2] [--quiet 200]
 * ```
 *
 * @module
 */
import { FAST, startOrchestrator, startTaskFlags, uniqueSeconds } from "../tests/harness.ts";
import { percentile } from "./stats.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const SECONDS = arg("seconds", 15);
const CRASHERS = arg("services", 20);
const EVERY = arg("every", 0.2);
const QUIET = arg("quiet", 200);

interface Phase {
  name: string;
  restartsPerSecond: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
}

async function restarts(url: string): Promise<number> {
  const { services } = await (await fetch(`${url}/api/services/list`)).json();
  return (services as { restarts: number }[]).reduce((sum, s) => sum + s.restarts, 0);
}

/** `list` every 50 ms for `seconds`; the restarts counted over the same time. */
async function phase(name: string, url: string, seconds: number): Promise<Phase> {
  const latencies: number[] = [];
  const before = await restarts(url);
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const start = performance.now();
    const response = await fetch(`${url}/api/services/list`);
    await response.arrayBuffer();
    latencies.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const after = await restarts(url);
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    name,
    restartsPerSecond: round((after - before) / elapsed),
    requests: latencies.length,
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1)!),
  };
}

const secs = uniqueSeconds();
const quiet = Array.from({ length: QUIET }, (_, i) => ({
  ...FAST,
  name: `quiet-${i}`,
  cmd: "sleep",
  args: [String(secs)],
}));
const crashers = Array.from({ length: CRASHERS }, (_, i) => ({
  ...FAST,
  name: `crash-${i}`,
  cmd: "sh",
  args: ["-c", `sleep ${EVERY}; exit 1`],
  autostart: false,
  restart_policy: "always",
  backoff: { initial: 0, factor: 1, max: 0 },
  crash_loop: { max_crashes: 1_000_000, window: 1, cooldown: 0 },
}));
await using orch = await startOrchestrator({
  registry: { services: [...quiet, ...crashers] },
  flags: startTaskFlags(),
});
const results: Phase[] = [await phase("quiet", orch.url, SECONDS)];
for (const c of crashers) {
  await fetch(`${orch.url}/api/services/start/${c.name}`, { method: "POST" });
}
results.push(await phase("storm", orch.url, SECONDS));

console.log(
  `${QUIET} quiet services, ${CRASHERS} that exit every ${EVERY} s; list every 50 ms for ${SECONDS} s`,
);
console.log("phase   restarts/s  requests  p50 ms  p99 ms  max ms");
for (const r of results) {
  console.log(
    `${r.name.padEnd(7)} ${String(r.restartsPerSecond).padStart(10)}  ${
      String(r.requests).padStart(8)
    }  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.max).padStart(6)}`,
  );
}
