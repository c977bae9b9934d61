/**
 * Soak run: a real `edgevisor run` subprocess supervises about 20 services
 * that write log lines, while the run SIGKILLs services at random, restarts
 * others through the API and keeps the read-only API busy. After a warm-up
 * it notes the orchestrator's RSS and open file descriptors; at the end it
 * prints the RSS growth, whether the descriptors are back to their count,
 * zombies and orphans, and whether every kill shows in `restarts` and
 * `crash_count`.
 *
 * ```sh
 * deno task soak                # 10 minutes
 * deno task soak --minutes 30
 * deno task soak --seconds 20
 * deno task soak --minutes 10 --warmup 60 --services 40 --seed 2
 * ```
 *
 * It prints figures and asserts nothing; the exit code is 0 when the run
 * completed. `tests/soak_test.ts` runs a short one with assertions.
 *
 * @module
 */
import {
  api,
  FAST,
  type Orchestrator,
  prng,
  type ProcRow,
  procTable,
  rssKiB,
  sh,
  startOrchestrator,
  startTaskFlags,
  waitFor,
} from "../tests/harness.ts";
import { median } from "./stats.ts";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** Total length of the run in milliseconds, warm-up included. @default 600_000 */
  durationMs?: number;
  /** Number of services. @default 20 */
  services?: number;
  /** Seed of the random choices. @default 1 */
  seed?: number;
  /**
   * Warm-up before the first RSS and descriptor figures, milliseconds (V8
   * sizes its heap in the first minutes under a steady load).
   * @default a quarter of the run, at least 3 s and at most 3 minutes
   */
  warmupMs?: number;
  /** Progress lines go here. @default nothing */
  progress?: (line: string) => void;
}

/** Figures of one soak run. */
export interface SoakReport {
  /** Length of the run in seconds. */
  seconds: number;
  /** Length of the warm-up in seconds. */
  warmupSeconds: number;
  /** Services supervised. */
  services: number;
  /** SIGKILLs sent to services. */
  kills: number;
  /** Restarts requested through the API. */
  apiRestarts: number;
  /** Read-only API requests answered. */
  apiRequests: number;
  /** Read-only API requests that failed or did not answer 200. */
  apiErrors: number;
  /** Slowest read-only API answer in milliseconds. */
  apiSlowestMs: number;
  /** Sum of `restarts` over every service at the end. */
  restarts: number;
  /** Sum of `crash_count` over every service at the end. */
  crashCount: number;
  /** Orchestrator RSS after the warm-up, KiB. */
  rssWarmKiB: number;
  /** Orchestrator RSS at the end, KiB. */
  rssEndKiB: number;
  /** Highest RSS sampled after the warm-up, KiB. */
  rssMaxKiB: number;
  /** `(rssEnd - rssWarm) / rssWarm`, in percent. */
  rssGrowthPercent: number;
  /** Least-squares slope of the RSS samples taken after the warm-up, KiB per minute. */
  rssSlopeKiBPerMin: number;
  /** Open descriptors of the orchestrator after the warm-up (all services running). */
  fdsWarm: number;
  /** Open descriptors at the end (all services running again). */
  fdsEnd: number;
  /** Kinds of descriptor more numerous at the end than after the warm-up, e.g. `pipe:[N] 40 -> 41`. */
  fdsGrown: string[];
  /** `/proc/{pid}/stat` files the orchestrator still keeps open once every service stopped. */
  statFilesAfterStop: number;
  /** Zombie children of the orchestrator at the end, before shutdown. */
  zombies: number;
  /** Live processes of the services' groups after the orchestrator exited. */
  orphans: number;
  /** Exit code of the orchestrator after SIGTERM. */
  exitCode: number;
}

/**
 * Open file descriptors of `pid`, leaving out `/proc/{pid}/stat` files (the
 * metrics sampler keeps one open per member process of a service, closed when
 * it ends, so their number follows the processes the services run; see
 * {@linkcode statFilesKept}) and the databases of Deno's own cache (opened by
 * `deno run` when it first needs them, one each; a compiled binary has none).
 */
export function openFds(pid: number): number {
  return fdTargets(pid).filter(counted).length;
}

function counted(target: string): boolean {
  return !STAT_FILE.test(target) && !DENO_CACHE.test(target);
}

/**
 * Open file descriptors of `pid` by kind (their target with every number as
 * `N`: `socket:[N]`, `pipe:[N]`, a log file), left out what
 * {@linkcode openFds} leaves out.
 */
export function fdKinds(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const target of fdTargets(pid)) {
    if (!counted(target)) continue;
    const kind = target.replace(/\d+/g, "N");
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

function total(kinds: Map<string, number>): number {
  let sum = 0;
  for (const n of kinds.values()) sum += n;
  return sum;
}

/** The kinds of descriptor more numerous in `after` than in `before`, as `kind a -> b`. */
function grownKinds(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after]
    .filter(([kind, n]) => n > (before.get(kind) ?? 0))
    .map(([kind, n]) => `${kind} ${before.get(kind) ?? 0} -> ${n}`);
}

/**
 * `/proc/{n}/stat` files held open by `pid` (the metrics sampler keeps them
 * for the member processes it found at its last sample).
 */
export function statFilesKept(pid: number): number {
  return fdTargets(pid).filter((target) => STAT_FILE.test(target)).length;
}

const STAT_FILE = /^\/proc\/\d+\/stat$/;
const DENO_CACHE = /\/[a-z0-9_]+_cache_v\d+(-wal|-shm|-journal)?$/;

/** Targets of the open file descriptors of `pid` ("" for one closed meanwhile). */
function fdTargets(pid: number): string[] {
  const targets: string[] = [];
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      targets.push(Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`));
    } catch {
      targets.push("");
    }
  }
  return targets;
}

interface Status {
  name: string;
  status: string;
  pid: number | null;
  restarts: number;
  crash_count: number;
  memory_rss_bytes: number | null;
}

async function list(url: string, client: Deno.HttpClient): Promise<Status[]> {
  const answer = await api(url, "GET", "/api/services/list", client);
  if (answer.status !== 200) throw new Error(`GET /api/services/list: HTTP ${answer.status}`);
  return answer.body.services as Status[];
}

async function allRunning(url: string, client: Deno.HttpClient): Promise<Status[]> {
  let waiting: unknown[] = [];
  try {
    return await waitFor(async () => {
      const services = await list(url, client);
      // Sampled too: the metrics of a new process (and the files they keep open) come with it.
      waiting = services.filter((s) =>
        s.status !== "running" || s.pid === null || s.memory_rss_bytes === null
      );
      return waiting.length === 0 && services;
    }, { timeoutMs: 30_000, message: "every service running and sampled" });
  } catch (error) {
    throw new Error(`${(error as Error).message}; not running: ${JSON.stringify(waiting)}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sampleRss(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push((await rssKiB(pid)) ?? 0);
    await sleep(300);
  }
  return median(samples);
}

/** The registry of a soak run: services that print lines at various rates. */
export function soakRegistry(count: number): unknown {
  const services = [];
  for (let i = 0; i < count; i++) {
    const pause = [0.01, 0.05, 0.2, 1][i % 4];
    services.push({
      ...FAST,
      name: `soak${i}`,
      ...sh(`while :; do echo "soak${i} line $$$$ $(date +%s%N)"; sleep ${pause}; done`),
      restart_policy: "always",
      max_restarts: 1_000_000,
      crash_loop: { max_crashes: 1000, window: 60, cooldown: 1 },
      log: { max_size_mb: 1, keep: 1 },
    });
  }
  return { services };
}

/** Run one soak and return its figures; every process it started is gone at the end. */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const durationMs = options.durationMs ?? 600_000;
  const count = options.services ?? 20;
  const random = prng(options.seed ?? 1);
  const progress = options.progress ?? (() => {});
  const warmupMs = options.warmupMs ?? Math.min(180_000, Math.max(3000, durationMs * 0.25));

  // Run as `deno task start` runs it: the RSS figures are those of the V8 settings users get.
  const orch: Orchestrator = await startOrchestrator({
    registry: soakRegistry(count),
    flags: startTaskFlags(),
  });
  // The soak's own client, closed (with its keep-alive connections) before the descriptors are
  // counted at the end, so that sockets the orchestrator still holds are its own.
  const http = Deno.createHttpClient({});
  let httpOpen = true;
  const closeHttp = () => {
    if (httpOpen) http.close();
    httpOpen = false;
  };
  const groups = new Set<number>();
  /** Pids already SIGKILLed: until the orchestrator has handled the exit, a status may still show one. */
  const killed = new Set<number>();
  let load = true;
  let apiRequests = 0;
  let apiErrors = 0;
  let apiSlowestMs = 0;
  let kills = 0;
  let apiRestarts = 0;
  try {
    for (const s of await allRunning(orch.url, http)) groups.add(s.pid!);
    const names = Array.from({ length: count }, (_, i) => `soak${i}`);

    // Read-only API load in the background for the whole run.
    const paths = [
      "/api/services/list",
      "/api/health",
      ...names.map((n) => `/api/services/status/${n}`),
      ...names.map((n) => `/api/services/logs/${n}?lines=50`),
    ];
    const loader = (async () => {
      while (load) {
        const path = paths[Math.floor(random() * paths.length)]!;
        const t0 = performance.now();
        try {
          const answer = await api(orch.url, "GET", path, http);
          if (answer.status !== 200) apiErrors++;
        } catch {
          apiErrors++;
        }
        apiSlowestMs = Math.max(apiSlowestMs, performance.now() - t0);
        apiRequests++;
        await sleep(5);
      }
    })();

    const t0 = performance.now();
    let rssWarmKiB = 0;
    let fdsWarm = 0;
    let kindsWarm = new Map<string, number>();
    let rssMaxKiB = 0;
    const rssSamples: [number, number][] = [];
    let lastReport = t0;
    let warm = false;
    while (performance.now() - t0 < durationMs) {
      if (!warm && performance.now() - t0 >= warmupMs) {
        // Same conditions as at the end: every service running.
        await allRunning(orch.url, http);
        rssWarmKiB = await sampleRss(orch.pid);
        kindsWarm = fdKinds(orch.pid);
        fdsWarm = total(kindsWarm);
        rssMaxKiB = rssWarmKiB;
        rssSamples.push([(performance.now() - t0) / 60_000, rssWarmKiB]);
        warm = true;
        progress(`warm-up done: RSS ${rssWarmKiB} KiB, ${fdsWarm} open fds`);
      }
      // Act only on a running service, so that a restart through the API never
      // replaces the automatic restart that follows a kill; and never twice on one process: its
      // status reads `running` until the orchestrator has handled its exit (a dead leader not yet
      // reaped still takes a group signal, which would count a kill twice).
      const name = names[Math.floor(random() * names.length)]!;
      const s = (await list(orch.url, http)).find((x) => x.name === name);
      if (s?.status === "running" && s.pid !== null && !killed.has(s.pid)) {
        groups.add(s.pid);
        if (random() < 0.75) {
          try {
            Deno.kill(-s.pid, "SIGKILL");
            killed.add(s.pid);
            kills++;
          } catch {
            // gone already: not counted
          }
        } else {
          const answer = await api(orch.url, "POST", `/api/services/restart/${name}`, http);
          if (answer.status === 200) apiRestarts++;
        }
      }
      await sleep(50 + random() * 200);
      if (warm && performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        const rss = (await rssKiB(orch.pid)) ?? 0;
        rssMaxKiB = Math.max(rssMaxKiB, rss);
        rssSamples.push([(lastReport - t0) / 60_000, rss]);
        progress(
          `${
            Math.round((lastReport - t0) / 1000)
          } s: ${kills} kills, ${apiRestarts} API restarts, ` +
            `${apiRequests} API requests, RSS ${rss} KiB, ${openFds(orch.pid)} fds`,
        );
      }
    }
    load = false;
    await loader;

    // Settle: every service running again, then measure.
    const final = await allRunning(orch.url, http);
    for (const s of final) groups.add(s.pid!);
    const rssEndKiB = await sampleRss(orch.pid);
    rssMaxKiB = Math.max(rssMaxKiB, rssEndKiB);
    rssSamples.push([(performance.now() - t0) / 60_000, rssEndKiB]);
    closeHttp();
    // Descriptors of finished requests and reaped processes close asynchronously.
    // Compared kind by kind: the warm-up count includes the soak's own connections.
    let fdsEnd = 0;
    let fdsGrown: string[] = [];
    try {
      await waitFor(() => {
        const kinds = fdKinds(orch.pid);
        fdsEnd = total(kinds);
        fdsGrown = grownKinds(kindsWarm, kinds);
        return fdsEnd <= fdsWarm && fdsGrown.length === 0;
      }, { timeoutMs: 5000, message: "fds back to their count" });
    } catch {
      // reported below
    }
    let zombieRows: ProcRow[] = [];
    try {
      await waitFor(async () => {
        zombieRows = (await procTable()).filter((r) => r.ppid === orch.pid && r.state === "Z");
        return zombieRows.length === 0;
      }, { timeoutMs: 3000, message: "no zombie children" });
    } catch {
      // reported below
    }
    const restarts = final.reduce((sum, s) => sum + s.restarts, 0);
    const crashCount = final.reduce((sum, s) => sum + s.crash_count, 0);

    // Every service stopped: the sampler's next sample closes every stat file it kept.
    await Promise.all(
      names.map((name) => api(orch.url, "POST", `/api/services/stop/${name}`)),
    );
    let statFiles = statFilesKept(orch.pid);
    try {
      await waitFor(() => (statFiles = statFilesKept(orch.pid)) === 0, {
        timeoutMs: 5000,
        message: "no stat file kept once every service stopped",
      });
    } catch {
      // reported below
    }

    const status = await orch.stop();
    const table = await procTable();
    const orphans = table.filter((r) => groups.has(r.pgrp) && r.state !== "Z" && r.state !== "X");

    const seconds = (performance.now() - t0) / 1000;
    return {
      seconds: Math.round(seconds),
      warmupSeconds: Math.round(warmupMs / 1000),
      services: count,
      kills,
      apiRestarts,
      apiRequests,
      apiErrors,
      apiSlowestMs: Math.round(apiSlowestMs),
      restarts,
      crashCount,
      rssWarmKiB,
      rssEndKiB,
      rssMaxKiB,
      rssGrowthPercent: Math.round(((rssEndKiB - rssWarmKiB) / rssWarmKiB) * 1000) / 10,
      rssSlopeKiBPerMin: Math.round(slope(rssSamples)),
      fdsWarm,
      fdsEnd,
      fdsGrown,
      statFilesAfterStop: statFiles,
      zombies: zombieRows.length,
      orphans: orphans.length,
      exitCode: status.code,
    };
  } finally {
    load = false;
    await orch.destroy();
    closeHttp();
  }
}

/** Least-squares slope of `[x, y]` points; 0 for fewer than two. */
function slope(points: [number, number][]): number {
  if (points.length < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The figures as lines of text. */
export function formatSoak(r: SoakReport): string {
  const ok = (b: boolean) => (b ? "ok" : "NOT MET");
  return [
    `soak: ${r.seconds} s (${r.warmupSeconds} s warm-up), ${r.services} services`,
    `  kills (SIGKILL of a service group)  ${r.kills}`,
    `  restarts through the API            ${r.apiRestarts}`,
    `  sum of crash_count                  ${r.crashCount}  (${ok(r.crashCount === r.kills)})`,
    `  sum of restarts                     ${r.restarts}  (kills + API restarts = ${
      r.kills + r.apiRestarts
    }: ${ok(r.restarts === r.kills + r.apiRestarts)})`,
    `  read-only API requests              ${r.apiRequests} (${r.apiErrors} errors, slowest ${r.apiSlowestMs} ms)`,
    `  orchestrator RSS after warm-up      ${r.rssWarmKiB} KiB`,
    `  orchestrator RSS at the end         ${r.rssEndKiB} KiB (max ${r.rssMaxKiB} KiB)`,
    `  RSS growth after warm-up            ${r.rssGrowthPercent}%  (target < 5%: ${
      ok(r.rssGrowthPercent < 5)
    })`,
    `  RSS trend after warm-up             ${r.rssSlopeKiBPerMin} KiB/min (least squares)`,
    `  open fds after warm-up / at end     ${r.fdsWarm} / ${r.fdsEnd}  (${
      ok(r.fdsEnd <= r.fdsWarm && r.fdsGrown.length === 0)
    })${r.fdsGrown.length > 0 ? `; more at the end: ${r.fdsGrown.join(", ")}` : ""}`,
    `  stat files kept, services stopped   ${r.statFilesAfterStop}  (${
      ok(r.statFilesAfterStop === 0)
    })`,
    `  zombie children before shutdown     ${r.zombies}  (${ok(r.zombies === 0)})`,
    `  live processes of service groups    ${r.orphans} after shutdown  (${ok(r.orphans === 0)})`,
    `  orchestrator exit code on SIGTERM   ${r.exitCode}`,
  ].join("\n");
}

function parseArgs(args: string[]): SoakOptions {
  const options: SoakOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.includes("=") ? arg.split("=", 2) as [string, string] : [arg];
    const value = () => Number(inline ?? args[++i]);
    if (flag === "--minutes") options.durationMs = value() * 60_000;
    else if (flag === "--seconds") options.durationMs = value() * 1000;
    else if (flag === "--warmup") options.warmupMs = value() * 1000;
    else if (flag === "--services") options.services = value();
    else if (flag === "--seed") options.seed = value();
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "usage: deno task soak [--minutes N | --seconds N] [--warmup SECONDS] [--services N] [--seed N]\n" +
          "default: 10 minutes, a quarter of it (at most 3 minutes) as warm-up, 20 services, seed 1",
      );
      Deno.exit(0);
    } else throw new TypeError(`Unknown argument ${JSON.stringify(arg)}`);
  }
  for (const [key, v] of Object.entries(options)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`Invalid --${key}: ${v}`);
  }
  return options;
}

if (import.meta.main) {
  try {
    const options = parseArgs(Deno.args);
    const report = await runSoak({
      ...options,
      progress: (line) => console.error(line),
    });
    console.log(formatSoak(report));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
