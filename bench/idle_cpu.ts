/**
 * `deno run --allow-all bench/idle_cpu.ts [--seconds 20] [--services 200]`:
 * the orchestrator's own CPU while idle with 200 `sleep` services, with
 * process metrics sampled every 2 s (the default) in cgroups of their own
 * (when the machine allows them) and with `--no-cgroup`, and with sampling
 * off (`metrics_interval: 0`), so that the cost of reading `/proc` and the
 * cgroups shows.
 *
 * A real orchestrator runs as a subprocess; once every service is
 * `running`, its CPU ticks (`/proc/PID/stat` utime + stime) are read before
 * and after the idle period. Nothing is asserted: it prints figures.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runArgs } from "../tests/harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "20" },
    services: { type: "string", default: "200" },
  },
});
const IDLE_S = Number(values.seconds);
const SERVICES = Number(values.services);
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const TICKS = 100;

function ticksOf(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function measure(
  metricsInterval: number,
  extraArgs: string[] = [],
): Promise<Record<string, number | string>> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_idle_" });
  const registry = {
    metrics_interval: metricsInterval,
    services: Array.from({ length: SERVICES }, (_, i) => ({
      name: `s${i}`,
      cmd: "sleep",
      args: ["3600"],
      start_grace: 0,
      stop_timeout: 2,
    })),
  };
  await Deno.writeTextFile(`${dir}/registry.json`, JSON.stringify(registry));
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      ...runArgs(`${dir}/registry.json`, port, dir),
      ...extraArgs,
    ],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 60_000;
    while (true) {
      if (Date.now() > deadline) throw new Error("services did not all start within 60 s");
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/health`);
        const body = await res.json();
        if (body.services?.running === SERVICES) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // Let start-up work settle before measuring.
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = performance.now();
    const ticks0 = ticksOf(child.pid);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const ticks1 = ticksOf(child.pid);
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      metrics_interval_s: metricsInterval,
      mode: extraArgs.join(" ") || "cgroups when usable",
      services: SERVICES,
      idle_seconds: Math.round(elapsedS * 10) / 10,
      cpu_percent: Math.round(((ticks1 - ticks0) / TICKS) / elapsedS * 100 * 100) / 100,
      rss_mib: Math.round(rssOf(child.pid) / 1024 / 1024 * 10) / 10,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const rows = [await measure(2), await measure(2, ["--no-cgroup"]), await measure(0)];
console.log(`Orchestrator idle CPU with ${SERVICES} services over ${IDLE_S} s (% of one CPU):`);
for (const row of rows) {
  console.log(
    `  metrics_interval ${row.metrics_interval_s}s, ${row.mode}: cpu ${row.cpu_percent}%  rss ${row.rss_mib} MiB`,
  );
}
