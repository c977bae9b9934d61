/**
 * `deno task bench`: how fast and how heavy edgevisor is on this machine.
 *
 * 1. Start: a real orchestrator subprocess on a generated registry of N
 *    `sleep 3600` services (`start_grace: 0`); time from its spawn to the API
 *    answering, and to `GET /api/services/list` showing all N `running`; then
 *    SIGTERM → exit with every service gone (stop-all). Median of 3 runs for
 *    N = 1 (baseline), 50 and 200.
 * 2. Crash → respawn: an in-process `Supervisor` with one service,
 *    `backoff.initial: 0`; SIGKILL its pid 50 times and time each respawn on
 *    the event bus. Runs first, while this process is small, because the
 *    spawn it measures happens in this process.
 * 3. `GET /api/services/list` throughput and latency with 200 services:
 *    16 keep-alive fetch loops for 5 s against the orchestrator of the last
 *    N = 200 run of (1).
 * 4. Orchestrator RSS (and PSS) with 200 services, after start and after the load.
 *
 * Nothing is asserted: this measures and prints. `--json` prints one JSON
 * document instead of the tables; progress always goes to stderr.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseRegistry } from "../src/registry/load.ts";
import { readProcStat } from "../src/supervisor/proc_stat.ts";
import { Supervisor } from "../src/supervisor/supervisor.ts";
import type { SupervisorEvent } from "../src/types.ts";
import type { ServiceStatus } from "../src/types.ts";
import { runArgs, startTaskFlags } from "../tests/harness.ts";
import { median, percentile } from "./stats.ts";

/** Service counts of the start/stop measurement; 1 is the baseline (Deno start-up, module load). */
const START_SIZES = [1, 50, 200] as const;
/** Runs per size; the median is reported. */
const START_RUNS = 3;
/** SIGKILLs in the crash → respawn measurement. */
const CRASH_KILLS = 50;
/** Concurrent request loops of the load generator. */
const LOAD_CONCURRENCY = 16;
/** Load before measuring, and measured load, in ms. */
const LOAD_WARMUP_MS = 1_000;
const LOAD_DURATION_MS = 5_000;
/** Poll period while waiting for every service to run. */
const POLL_MS = 10;
/** Give up on one wait after this long. */
const WAIT_LIMIT_MS = 60_000;

/** The runtime flags of `deno task start` (and of the compiled binary). */
const PERMISSIONS = startTaskFlags();
const REPO_DIR = fileURLToPath(new URL("..", import.meta.url));
const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

// ---------------------------------------------------------------- statistics

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------- clean-up

/** Clean-up steps still to run, newest last; each is idempotent. */
const cleanups = new Set<() => Promise<void>>();

function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    done ??= fn().catch((err) => progress(`clean-up failed: ${errorText(err)}`));
    return done;
  };
  cleanups.add(once);
  return async () => {
    await once();
    cleanups.delete(once);
  };
}

async function cleanUpAll(): Promise<void> {
  for (const fn of [...cleanups].reverse()) {
    await fn();
    cleanups.delete(fn);
  }
}

// ---------------------------------------------------------------- helpers

function progress(line: string): void {
  console.error(`bench: ${line}`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Like `sleep`, but does not keep the process alive: for the losing side of a race. */
function timeout(ms: number): Promise<void> {
  return new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, ms)));
}

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Text of a `/proc` file, read by `cat`: Deno wants `--allow-all` for any
 * path under `/proc`, and `deno task bench` does not grant it. Undefined
 * when unreadable.
 */
async function readProc(path: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this Deno may read `/proc` itself (the supervisor's pid store and group scans need it). */
function procReadableByDeno(): boolean {
  try {
    Deno.readTextFileSync(`/proc/${Deno.pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** One line of `ps`. */
interface PsEntry {
  pid: number;
  pgid: number;
  state: string;
  comm: string;
}

/** Every process, by pid, from one `ps` call; empty when `ps` fails. */
async function processTable(): Promise<Map<number, PsEntry>> {
  const table = new Map<number, PsEntry>();
  try {
    const out = await new Deno.Command("ps", {
      args: ["-eo", "pid=,pgid=,stat=,comm="],
      stdout: "piped",
      stderr: "null",
    }).output();
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pid, pgid, state, comm] = line.trim().split(/\s+/);
      if (!pid || !pgid || !state || !comm) continue;
      table.set(Number(pid), { pid: Number(pid), pgid: Number(pgid), state, comm });
    }
  } catch {
    // no ps: nothing known
  }
  return table;
}

/** A `key:   1234 kB` field of a `/proc` file, in kB; null when unreadable. */
async function procKb(path: string, key: string): Promise<number | null> {
  const text = await readProc(path);
  const match = text === undefined ? null : new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

/** Resident and proportional set size of a process, in kB (null when unreadable). */
interface Memory {
  rss_kb: number | null;
  pss_kb: number | null;
}

async function memoryOf(pid: number): Promise<Memory> {
  return {
    rss_kb: await procKb(`/proc/${pid}/status`, "VmRSS"),
    pss_kb: await procKb(`/proc/${pid}/smaps_rollup`, "Pss"),
  };
}

// ---------------------------------------------------------------- machine

/** What the figures were measured on. */
interface MachineInfo {
  nproc: number;
  cpu: string;
  mem_total_mb: number | null;
  os: string;
  kernel: string;
  deno: string;
  v8: string;
  typescript: string;
  /** Whether Deno itself may read `/proc` with the bench's permissions. */
  deno_reads_proc: boolean;
  /** Whether the supervisor's `readProcStat` (pid store, group scans) works with them. */
  supervisor_reads_proc: boolean;
}

async function machineInfo(): Promise<MachineInfo> {
  let cpu = "unknown";
  const text = await readProc("/proc/cpuinfo");
  const match = text && /^(?:model name|Hardware|Model|cpu model)\s*:\s*(.+)$/m.exec(text);
  if (match) cpu = match[1]!.trim();
  let memTotal: number | null = null;
  try {
    memTotal = Math.round(Deno.systemMemoryInfo().total / 1024 / 1024);
  } catch {
    // unavailable
  }
  return {
    nproc: navigator.hardwareConcurrency,
    cpu,
    mem_total_mb: memTotal,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    deno_reads_proc: procReadableByDeno(),
    supervisor_reads_proc: readProcStat(Deno.pid) !== undefined,
  };
}

// ---------------------------------------------------------------- registry

/** Registry text of `n` services `sleep 3600` that count as running at once. */
function registryText(n: number): string {
  const services = Array.from({ length: n }, (_, i) => ({
    name: `svc-${String(i + 1).padStart(3, "0")}`,
    cmd: "sleep",
    args: ["3600"],
    restart_policy: "on-failure",
    start_grace: 0,
    stop_timeout: 5,
  }));
  const text = JSON.stringify({ services }, null, 2);
  parseRegistry(text, { env: {} }); // fail here, with every problem, rather than in the child
  return text;
}

// ---------------------------------------------------------------- orchestrator

/** A real `edgevisor run` in a subprocess. */
class Orchestrator {
  readonly child: Deno.ChildProcess;
  readonly url: string;
  readonly spawnedAt: number;
  readonly client: Deno.HttpClient;
  #tail: string[] = [];
  #stderrDone: Promise<void>;
  #exit: Deno.CommandStatus | undefined;
  /** Pids of every service process seen in a list response. */
  readonly servicePids = new Set<number>();

  constructor(registryPath: string, dir: string, permissions: readonly string[]) {
    const port = freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.client = Deno.createHttpClient({});
    this.spawnedAt = performance.now();
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...permissions,
        MAIN_TS,
        ...runArgs(registryPath, port, dir),
      ],
      cwd: REPO_DIR,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child.status.then((status) => (this.#exit = status));
    this.#stderrDone = this.#drain(this.child.stderr);
  }

  get pid(): number {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** The last lines the orchestrator wrote to stderr. */
  tail(lines = 15): string {
    return this.#tail.slice(-lines).join("\n");
  }

  /** Keep the last lines of stderr; reading it keeps the pipe from filling up. */
  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        this.#tail.push(...lines);
        if (this.#tail.length > 200) this.#tail.splice(0, this.#tail.length - 100);
      }
    } catch {
      // the process went away
    }
    if (partial) this.#tail.push(partial);
  }

  /** `GET /api/services/list`, or undefined while the API is not up. */
  async list(): Promise<ServiceStatus[] | undefined> {
    try {
      const res = await fetch(`${this.url}/api/services/list`, { client: this.client });
      const body = await res.json() as { ok: boolean; services?: ServiceStatus[] };
      if (!res.ok || !body.services) return undefined;
      for (const s of body.services) if (s.pid !== null) this.servicePids.add(s.pid);
      return body.services;
    } catch {
      return undefined;
    }
  }

  /**
   * Poll the list every `POLL_MS` until `n` services are `running`. Returns
   * ms from spawn to the first answer and to the answer showing all running.
   */
  async waitAllRunning(n: number): Promise<{ apiUpMs: number; allRunningMs: number }> {
    let apiUpMs: number | undefined;
    const deadline = performance.now() + WAIT_LIMIT_MS;
    while (performance.now() < deadline) {
      if (this.exited) {
        throw new Error(`orchestrator exited early (code ${this.#exit?.code}):\n${this.tail()}`);
      }
      const services = await this.list();
      const now = performance.now();
      if (services) {
        apiUpMs ??= now - this.spawnedAt;
        const running = services.filter((s) => s.status === "running").length;
        if (running === n) return { apiUpMs, allRunningMs: now - this.spawnedAt };
      }
      await sleep(POLL_MS);
    }
    throw new Error(`not all ${n} services running after ${WAIT_LIMIT_MS} ms:\n${this.tail()}`);
  }

  /**
   * SIGTERM, then wait for the exit. Returns ms from the signal to the exit,
   * the exit code, and how many service processes were still alive after it.
   */
  async stop(): Promise<{ stopMs: number; code: number; leftovers: number }> {
    const t0 = performance.now();
    Deno.kill(this.pid, "SIGTERM");
    const status = await Promise.race([this.child.status, timeout(WAIT_LIMIT_MS)]);
    const stopMs = performance.now() - t0;
    if (!status) throw new Error(`orchestrator still running ${WAIT_LIMIT_MS} ms after SIGTERM`);
    const table = await processTable();
    const leftovers = [...this.servicePids].filter((pid) => {
      const entry = table.get(pid);
      return entry !== undefined && !entry.state.startsWith("Z");
    }).length;
    return { stopMs, code: status.code, leftovers };
  }

  /** End everything, whatever state it is in: SIGTERM, then SIGKILL, then leftover groups. */
  async destroy(): Promise<void> {
    if (!this.exited) {
      try {
        Deno.kill(this.pid, "SIGTERM");
      } catch {
        // gone
      }
      await Promise.race([this.child.status, timeout(10_000)]);
    }
    if (!this.exited) {
      try {
        Deno.kill(this.pid, "SIGKILL");
      } catch {
        // gone
      }
      await this.child.status;
    }
    // Services left behind: only `sleep` leaders of their own group, so a
    // reused pid is never signalled.
    const table = this.servicePids.size > 0 ? await processTable() : new Map();
    for (const pid of this.servicePids) {
      const entry = table.get(pid);
      if (!entry || entry.pgid !== pid || entry.comm !== "sleep") continue;
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await Promise.race([this.#stderrDone, timeout(1_000)]);
    this.client.close();
  }
}

// ---------------------------------------------------------------- 1, 3, 4

/** One start → all running → stop cycle. */
interface StartRun {
  api_up_ms: number;
  all_running_ms: number;
  stop_ms: number;
  exit_code: number;
  leftovers: number;
  memory_running: Memory;
}

/** Figures of the list load. */
interface LoadResult {
  services: number;
  concurrency: number;
  duration_s: number;
  requests: number;
  errors: number;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  response_bytes: number;
}

/** `LOAD_CONCURRENCY` fetch loops on keep-alive connections; only requests started after the warm-up count. */
async function loadList(orch: Orchestrator, services: number): Promise<LoadResult> {
  const url = `${orch.url}/api/services/list`;
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let lastDone = 0;
  const measureFrom = performance.now() + LOAD_WARMUP_MS;
  const end = measureFrom + LOAD_DURATION_MS;
  const loop = async () => {
    while (true) {
      const t0 = performance.now();
      if (t0 >= end) return;
      let ok = false;
      let size = 0;
      try {
        const res = await fetch(url, { client: orch.client });
        size = (await res.arrayBuffer()).byteLength;
        ok = res.ok;
      } catch {
        ok = false;
      }
      const t1 = performance.now();
      if (t0 < measureFrom) continue;
      lastDone = Math.max(lastDone, t1);
      if (ok) {
        latencies.push(t1 - t0);
        bytes = size;
      } else {
        errors++;
        await sleep(1); // a refused connection must not spin
      }
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, loop));
  const seconds = (lastDone - measureFrom) / 1000;
  return {
    services,
    concurrency: LOAD_CONCURRENCY,
    duration_s: round(seconds, 2),
    requests: latencies.length,
    errors,
    req_per_s: round(latencies.length / seconds, 0),
    p50_ms: round(percentile(latencies, 50), 2),
    p99_ms: round(percentile(latencies, 99), 2),
    max_ms: round(percentile(latencies, 100), 2),
    response_bytes: bytes,
  };
}

/** One cycle; with `during`, that runs once all services run, before the stop. */
async function startRun(
  root: string,
  n: number,
  index: number,
  permissions: readonly string[],
  during?: (orch: Orchestrator) => Promise<void>,
): Promise<StartRun> {
  const dir = `${root}/n${n}-run${index}`;
  await Deno.mkdir(dir, { recursive: true });
  const registryPath = `${dir}/registry.json`;
  await Deno.writeTextFile(registryPath, registryText(n));
  const orch = new Orchestrator(registryPath, dir, permissions);
  const release = onCleanup(() => orch.destroy());
  try {
    const { apiUpMs, allRunningMs } = await orch.waitAllRunning(n);
    const memoryRunning = await memoryOf(orch.pid);
    if (during) await during(orch);
    await orch.list(); // latest pids, for the leftover count
    const { stopMs, code, leftovers } = await orch.stop();
    return {
      api_up_ms: round(apiUpMs),
      all_running_ms: round(allRunningMs),
      stop_ms: round(stopMs),
      exit_code: code,
      leftovers,
      memory_running: memoryRunning,
    };
  } finally {
    await release();
  }
}

/** Start/stop figures for one service count. */
interface StartResult {
  services: number;
  runs: StartRun[];
  median_api_up_ms: number;
  median_all_running_ms: number;
  median_stop_ms: number;
}

/** Memory of the orchestrator with 200 services. */
interface MemoryResult {
  services: number;
  all_running: Memory;
  after_load: Memory;
}

// ---------------------------------------------------------------- 2

/** Crash → respawn figures, in ms. */
interface CrashResult {
  kills: number;
  completed: number;
  kill_to_starting: { p50: number; p95: number; max: number };
  kill_to_running: { p50: number; p95: number; max: number };
  median_parts: {
    kill_to_backoff: number;
    backoff_to_starting: number;
    starting_to_running: number;
  };
  problems: string[];
}

async function crashRespawn(root: string): Promise<CrashResult> {
  const name = "crasher";
  const registry = parseRegistry(
    JSON.stringify({
      services: [{
        name,
        cmd: "sleep",
        args: ["3600"],
        restart_policy: "always",
        start_grace: 0,
        backoff: { initial: 0 },
        crash_loop: { max_crashes: 1_000_000, window: 60, cooldown: 30 },
        stop_timeout: 5,
      }],
    }),
    { env: {} },
  );
  const supervisor = new Supervisor(registry, {
    logDir: `${root}/crash/logs`,
    stateDir: `${root}/crash/state`,
    log: () => {},
  });
  const release = onCleanup(async () => {
    const stopped = await Promise.race([
      supervisor.shutdown().then(() => true),
      timeout(10_000).then(() => false),
    ]);
    if (!stopped) supervisor.kill();
  });

  const toStarting: number[] = [];
  const toRunning: number[] = [];
  const toBackoff: number[] = [];
  const backoffToStarting: number[] = [];
  const startingToRunning: number[] = [];
  const problems: string[] = [];
  try {
    await Deno.mkdir(`${root}/crash/logs`, { recursive: true });
    await supervisor.boot();
    for (let i = 0; i < CRASH_KILLS; i++) {
      const before = supervisor.status(name);
      if (before.status !== "running" || before.pid === null) {
        problems.push(`kill ${i + 1}: service is ${before.status}, not running`);
        break;
      }
      const oldPid = before.pid;
      const seen: { backoff?: number; starting?: number; running?: number } = {};
      const respawned = Promise.withResolvers<void>();
      const unsubscribe = supervisor.events.subscribe((event: SupervisorEvent) => {
        if (event.type !== "state" || event.service !== name) return;
        const t = performance.now();
        if (event.to === "backoff") seen.backoff ??= t;
        else if (event.to === "starting") seen.starting ??= t;
        else if (event.to === "running" && event.pid !== null && event.pid !== oldPid) {
          seen.running ??= t;
          respawned.resolve();
        } else if (event.to === "cooldown" || event.to === "failed" || event.to === "exited") {
          respawned.reject(new Error(`went to ${event.to}: ${event.reason}`));
        }
      });
      const t0 = performance.now();
      Deno.kill(oldPid, "SIGKILL");
      try {
        const outcome = await Promise.race([
          respawned.promise.then(() => "respawned" as const),
          timeout(10_000).then(() => "timeout" as const),
        ]);
        if (outcome === "timeout") throw new Error("no respawn within 10 s");
      } catch (err) {
        problems.push(`kill ${i + 1}: ${errorText(err)}`);
        break;
      } finally {
        unsubscribe();
      }
      const { backoff, starting, running } = seen;
      if (backoff === undefined || starting === undefined || running === undefined) {
        problems.push(`kill ${i + 1}: missing an event (backoff, starting, running)`);
        continue;
      }
      toStarting.push(starting - t0);
      toRunning.push(running - t0);
      toBackoff.push(backoff - t0);
      backoffToStarting.push(starting - backoff);
      startingToRunning.push(running - starting);
      await sleep(20); // let the new process settle before the next kill
    }
  } finally {
    await release();
  }
  const summary = (values: number[]) => ({
    p50: round(percentile(values, 50), 2),
    p95: round(percentile(values, 95), 2),
    max: round(percentile(values, 100), 2),
  });
  return {
    kills: CRASH_KILLS,
    completed: toRunning.length,
    kill_to_starting: summary(toStarting),
    kill_to_running: summary(toRunning),
    median_parts: {
      kill_to_backoff: round(median(toBackoff), 2),
      backoff_to_starting: round(median(backoffToStarting), 2),
      starting_to_running: round(median(startingToRunning), 2),
    },
    problems,
  };
}

// ---------------------------------------------------------------- report

/** Everything the bench prints. */
interface Report {
  date: string;
  machine: MachineInfo;
  /** Permission flags the orchestrator subprocess ran with. */
  orchestrator_permissions: string[];
  start_stop: StartResult[];
  crash_respawn: CrashResult;
  list_load: LoadResult;
  memory: MemoryResult;
  total_s: number;
}

function table(rows: string[][], indent = "  "): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((row) =>
      indent +
      row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))
        .join("  ").trimEnd()
    )
    .join("\n");
}

const ms = (value: number) => Number.isNaN(value) ? "-" : `${value} ms`;
const mb = (kb: number | null) => kb === null ? "n/a" : `${(kb / 1024).toFixed(1)} MiB`;

function formatReport(r: Report): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`edgevisor bench, ${r.date}`);
  out.push(
    `machine: ${m.nproc} CPUs, ${m.cpu}, ${
      m.mem_total_mb === null ? "?" : `${m.mem_total_mb} MiB`
    } RAM, ${m.os}, kernel ${m.kernel}`,
  );
  out.push(`runtime: Deno ${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`);
  out.push(`orchestrator permissions: ${r.orchestrator_permissions.join(" ")}`);
  if (!m.deno_reads_proc) {
    out.push(
      m.supervisor_reads_proc
        ? "note: Deno reads /proc only with --allow-all; the supervisor reads it some other way here, and that cost is included"
        : "note: Deno reads /proc only with --allow-all, and the supervisor in (2) could not read it: no pid store, no group scans",
    );
    if (!m.supervisor_reads_proc && !r.orchestrator_permissions.includes("--allow-all")) {
      out.push("      nor, presumably, the orchestrator in (1), (3), (4); see --allow-all");
    }
  }
  out.push("");
  out.push(
    `1. Start and stop: orchestrator subprocess, N x \`sleep 3600\`, start_grace 0 (median of ${START_RUNS})`,
  );
  out.push(table([
    ["services", "API up", "all running", "stop-all", "all running per run", "exit", "left"],
    ...r.start_stop.map((s) => [
      s.services === 1 ? "1 (baseline)" : String(s.services),
      ms(s.median_api_up_ms),
      ms(s.median_all_running_ms),
      ms(s.median_stop_ms),
      s.runs.map((x) => x.all_running_ms).join(" / "),
      s.runs.map((x) => x.exit_code).join(","),
      String(s.runs.reduce((a, x) => a + x.leftovers, 0)),
    ]),
  ]));
  out.push(
    "  (from spawn of `deno run main.ts run`; stop-all = SIGTERM to exit; left = service processes alive after exit)",
  );
  out.push("");
  const c = r.crash_respawn;
  out.push(
    `2. Crash -> respawn: in-process Supervisor, backoff.initial 0 (${c.completed} of ${c.kills} SIGKILLs)`,
  );
  out.push(table([
    ["", "p50", "p95", "max"],
    [
      "SIGKILL -> `starting` event",
      ...["p50", "p95", "max"].map((k) => ms(c.kill_to_starting[k as "p50"])),
    ],
    [
      "SIGKILL -> `running`, new pid",
      ...["p50", "p95", "max"].map((k) => ms(c.kill_to_running[k as "p50"])),
    ],
  ]));
  out.push(
    `  (medians of the parts: kill -> backoff ${c.median_parts.kill_to_backoff} ms, backoff -> starting ${c.median_parts.backoff_to_starting} ms, starting -> running ${c.median_parts.starting_to_running} ms)`,
  );
  for (const p of c.problems) out.push(`  problem: ${p}`);
  out.push("");
  const l = r.list_load;
  out.push(
    `3. GET /api/services/list with ${l.services} services: ${l.concurrency} keep-alive loops, ${
      LOAD_DURATION_MS / 1000
    } s after ${LOAD_WARMUP_MS / 1000} s warm-up`,
  );
  out.push(table([
    ["req/s", "p50", "p99", "max", "requests", "errors", "response"],
    [
      String(l.req_per_s),
      ms(l.p50_ms),
      ms(l.p99_ms),
      ms(l.max_ms),
      String(l.requests),
      String(l.errors),
      `${(l.response_bytes / 1024).toFixed(1)} KiB`,
    ],
  ]));
  out.push("");
  const mem = r.memory;
  out.push(`4. Orchestrator memory with ${mem.services} services (/proc/PID)`);
  out.push(table([
    ["", "RSS", "PSS"],
    ["all running", mb(mem.all_running.rss_kb), mb(mem.all_running.pss_kb)],
    ["after the list load", mb(mem.after_load.rss_kb), mb(mem.after_load.pss_kb)],
  ]));
  out.push("");
  out.push(`total ${r.total_s} s`);
  return out.join("\n");
}

// ---------------------------------------------------------------- main

const USAGE = `usage: deno task bench [--json]

  --json       print one JSON document instead of the tables

See bench/README.md for what each figure means.`;

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length > 0) {
    console.error(`error: unknown argument ${JSON.stringify(unknown[0])}\n\n${USAGE}`);
    return 2;
  }
  const json = args.includes("--json");
  const permissions = PERMISSIONS;
  const began = performance.now();
  const date = new Date().toISOString();
  const root = await Deno.makeTempDir({ prefix: "edgevisor-bench-" });
  const removeRoot = onCleanup(() => Deno.remove(root, { recursive: true }));

  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress("interrupted; cleaning up");
    cleanUpAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    // First, while this process is small: its own spawns are what is measured.
    progress(`crash -> respawn: ${CRASH_KILLS} SIGKILLs, in-process Supervisor`);
    const crash = await crashRespawn(root);

    progress("warm-up: one orchestrator with 1 service (not measured)");
    await startRun(root, 1, 0, permissions);

    const startStop: StartResult[] = [];
    let load: LoadResult | undefined;
    let memory: MemoryResult | undefined;
    for (const n of START_SIZES) {
      const runs: StartRun[] = [];
      for (let i = 1; i <= START_RUNS; i++) {
        const last = n === 200 && i === START_RUNS;
        progress(`start/stop N=${n}, run ${i} of ${START_RUNS}${last ? " (+ list load)" : ""}`);
        const during = async (orch: Orchestrator) => {
          const allRunning = await memoryOf(orch.pid);
          progress(`list load: ${LOAD_CONCURRENCY} loops, ${LOAD_DURATION_MS / 1000} s`);
          load = await loadList(orch, n);
          memory = { services: n, all_running: allRunning, after_load: await memoryOf(orch.pid) };
        };
        runs.push(await startRun(root, n, i, permissions, last ? during : undefined));
      }
      startStop.push({
        services: n,
        runs,
        median_api_up_ms: round(median(runs.map((r) => r.api_up_ms))),
        median_all_running_ms: round(median(runs.map((r) => r.all_running_ms))),
        median_stop_ms: round(median(runs.map((r) => r.stop_ms))),
      });
    }

    if (!load || !memory) throw new Error("the list load did not run");
    const report: Report = {
      date,
      machine: await machineInfo(),
      orchestrator_permissions: [...permissions],
      start_stop: startStop,
      crash_respawn: crash,
      list_load: load,
      memory,
      total_s: round((performance.now() - began) / 1000),
    };
    console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  } catch (err) {
    if (!interrupted) console.error(`error: ${errorText(err)}`);
    return 1;
  } finally {
    await cleanUpAll();
    await removeRoot();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
