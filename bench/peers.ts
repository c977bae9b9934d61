/**
 * `deno task bench:peers`: edgevisor side by side with supervisord, PM2 and
 * runit, on one workload, in one run.
 *
 * Each supervisor that is installed (it installs nothing) runs N services
 * (N = 50 and 200 by default) of one tiny child, `startrep`: a C program
 * compiled here with `cc` (a bash script when there is no `cc`) that sends
 * one UDP datagram `s NAME PID NS` to the bench when it starts and
 * `x NAME PID NS` when SIGTERM or SIGINT ends it, then waits in `pause()`.
 * Times are taken with `performance.now()` in the bench when a datagram
 * arrives (loopback UDP adds microseconds).
 *
 * For every supervisor and N:
 * 1. start-all: from the spawn of the supervisor (for PM2: of `pm2 start`)
 *    to the N-th distinct start report;
 * 2. after `--settle` seconds (60: the tail of start-up is over by then,
 *    V8's memory reducer included, which collects garbage about 30 s after
 *    start), RSS and PSS
 *    (with the pages of the Deno executable, which this script shares with
 *    edgevisor, counted whole) (`/proc/PID/smaps_rollup`) of the
 *    supervisor processes: edgevisor's Deno process, supervisord, PM2's God
 *    daemon, runit's runsvdir plus every runsv (summed);
 * 3. idle CPU of the same processes over `--idle` seconds (on-CPU time of
 *    every thread from `/proc/PID/task/TID/schedstat`), in % of one core;
 * 4. crash → respawn: `--kills` times, SIGKILL one service's child (a
 *    different service each time, all up for more than 1 s) and time until
 *    the new child of that service reports its start;
 * 5. for edgevisor at the largest N: `GET /api/services/list` throughput
 *    and p99 latency under `wrk` (16 connections, 2 threads, `--load`
 *    seconds), or under 16 in-script keep-alive fetch loops without `wrk`;
 * 6. stop-all: from the stop request (edgevisor and supervisord: SIGTERM;
 *    PM2: `pm2 kill`; runit: SIGHUP to runsvdir) until every child and every
 *    supervisor process is gone.
 *
 * Minimum restart delay everywhere: edgevisor `backoff.initial: 0`,
 * `start_grace: 0`, `restart_policy: always`, high `max_restarts` and
 * `crash_loop.max_crashes`, metrics sampling on (the default 2 s);
 * supervisord `startsecs=0`, `autorestart=true`; PM2 `restart_delay: 0`,
 * `min_uptime: 0`, `autorestart: true`; runit as it is (runsv waits until
 * 1 s has passed since the previous start of a service).
 *
 * Options: `--sizes 50,200`, `--settle 60`, `--idle 30`, `--kills 20`, `--load 5`,
 * `--only edgevisor,runit`, `--deno-flags="--allow-all --v8-flags=..."` (the
 * runtime flags of edgevisor; default: those of `deno task start`), `--edgevisor-args="..."`
 * (more arguments of `edgevisor run`, such as `--no-memory-trim`), `--entry bundle|source|PATH`
 * (what edgevisor runs from: the bundle of `deno task bundle`, built first, which `deno task
 * compile` ships (default); `main.ts`; or a script), `--json`. Nothing is asserted; progress goes to
 * stderr, the table (or JSON) to stdout.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { runArgs, startTaskFlags } from "../tests/harness.ts";
import { percentile } from "./stats.ts";

const USAGE = `usage: deno task bench:peers [--sizes 50,200] [--settle 60] [--idle 30] [--kills 20]
                             [--load 5] [--only edgevisor,runit,...] [--deno-flags "..."]
                             [--edgevisor-args "..."] [--entry bundle|source|PATH] [--json]

Runs the same workload under edgevisor and, where installed, supervisord, PM2 and runit, and
prints one table with ratios to runit. See bench/README.md.`;

function parseFlags() {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        sizes: { type: "string", default: "50,200" },
        settle: { type: "string", default: "60" },
        idle: { type: "string", default: "30" },
        kills: { type: "string", default: "20" },
        load: { type: "string", default: "5" },
        only: { type: "string" },
        "deno-flags": { type: "string" },
        "edgevisor-args": { type: "string" },
        entry: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}

const flags = parseFlags();
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const SIZES = flags.sizes.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
const IDLE_S = Number(flags.idle);
const KILLS = Number(flags.kills);
const LOAD_S = Number(flags.load);
const SETTLE_MS = Number(flags.settle) * 1000;
const WAIT_LIMIT_MS = 60_000;
const RESPAWN_LIMIT_MS = 10_000;
const LOAD_CONNECTIONS = 16;
const REPO_DIR = fileURLToPath(new URL("..", import.meta.url));
const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

// ---------------------------------------------------------------- helpers

function progress(line: string): void {
  console.error(`peers: ${line}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Output of a command, or undefined when it cannot run or fails. */
async function run(cmd: string, args: string[], env?: Record<string, string>) {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Absolute path of `cmd` on PATH, or undefined. */
function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const path = `${dir}/${cmd}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Parent pid of `pid`, or undefined. */
function ppidOf(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Children of `parent`, from one scan of `/proc`. */
function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (Number.isInteger(pid) && ppidOf(pid) === parent) pids.push(pid);
  }
  return pids;
}

/** A `Key:   1234 kB` field of a `/proc` file, in kB (0 when unreadable). */
function procKb(path: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readText(path) ?? "");
  return match ? Number(match[1]) : 0;
}

/** Summed RSS and PSS of `pids`, in MiB. */
function memoryOf(pids: readonly number[]): { rss_mib: number; pss_mib: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += procKb(`/proc/${pid}/status`, "VmRSS");
    pss += pssAloneKb(pid);
  }
  return { rss_mib: round(rss / 1024), pss_mib: round(pss / 1024) };
}

/**
 * PSS of `pid` in KiB, with the pages of the Deno executable counted whole:
 * this script runs on the same executable, so plain PSS would give half of
 * those pages to it, whereas on a device edgevisor's Deno runs alone.
 * Other mappings (libc, for instance) keep their share.
 */
function pssAloneKb(pid: number): number {
  const text = readText(`/proc/${pid}/smaps`);
  if (text === undefined) return 0;
  const deno = Deno.execPath();
  let total = 0;
  let ownRuntime = false;
  let rssKb = 0;
  for (const line of text.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      ownRuntime = header[1] === deno;
      continue;
    }
    const field = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    if (field[1] === "Rss") rssKb = kb;
    else total += ownRuntime ? rssKb : kb;
  }
  return total;
}

/** On-CPU nanoseconds of every thread of `pids`. */
function cpuNs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
        const text = readText(`/proc/${pid}/task/${task.name}/schedstat`);
        if (text) total += Number(text.split(" ")[0]);
      }
    } catch {
      // gone
    }
  }
  return total;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

// ---------------------------------------------------------------- the child

const C_SOURCE = `#include <libgen.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd;
static struct sockaddr_in to;
static char name[256];

static void report(const char *kind) {
  struct timespec ts;
  char buf[384];
  clock_gettime(CLOCK_REALTIME, &ts);
  int n = snprintf(buf, sizeof buf, "%s %s %d %lld%09ld", kind, name, (int)getpid(),
                   (long long)ts.tv_sec, ts.tv_nsec);
  sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
}

static void on_stop(int sig) {
  (void)sig;
  report("x");
  _exit(0);
}

/* startrep PORT NAME, or with no arguments (a runit ./run): port from
   STARTREP_PORT, name from the working directory. */
int main(int argc, char **argv) {
  const char *port = argc >= 3 ? argv[1] : getenv("STARTREP_PORT");
  if (argc >= 3) {
    snprintf(name, sizeof name, "%s", argv[2]);
  } else {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    snprintf(name, sizeof name, "%s", basename(cwd));
  }
  if (!port) return 2;
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)atoi(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  report("s");
  for (;;) pause();
}
`;

/** Fallback without `cc`: bash's /dev/udp, and a builtin `read` on a FIFO nobody writes to. */
const BASH_SOURCE = `#!/bin/bash
port=\${1:-$STARTREP_PORT}
name=\${2:-$(basename "$PWD")}
report() { echo "$1 $name $$ $(date +%s%N)" > /dev/udp/127.0.0.1/$port; }
trap 'report x; exit 0' TERM INT
report s
exec 3<>"$(dirname "$0")/hold"
while :; do read -r -u 3 _; done
`;

/** Build the child in `dir`; its path and kind. */
async function buildChild(dir: string): Promise<{ path: string; kind: string }> {
  const cc = which("cc") ?? which("gcc");
  if (cc) {
    await Deno.writeTextFile(`${dir}/startrep.c`, C_SOURCE);
    const out = await run(cc, ["-O2", "-o", `${dir}/startrep`, `${dir}/startrep.c`]);
    if (out !== undefined) return { path: `${dir}/startrep`, kind: "C (cc -O2)" };
    progress("cc failed; using the bash child");
  }
  await run("mkfifo", [`${dir}/hold`]);
  await Deno.writeTextFile(`${dir}/startrep`, BASH_SOURCE, { mode: 0o755 });
  return { path: `${dir}/startrep`, kind: "bash" };
}

// ---------------------------------------------------------------- reports

/** Latest start report of each service, and the pids that reported their exit. */
class Reports {
  readonly starts = new Map<string, { pid: number; at: number }>();
  readonly exited = new Set<number>();
  #waiters = new Set<() => void>();
  #socket: Deno.DatagramConn;
  readonly port: number;

  constructor() {
    this.#socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    this.port = (this.#socket.addr as Deno.NetAddr).port;
    this.#receive();
  }

  async #receive(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const [data] of this.#socket) {
        const at = performance.now();
        const [kind, name, pid] = decoder.decode(data).split(" ");
        if (!name || !pid) continue;
        if (kind === "s") this.starts.set(name, { pid: Number(pid), at });
        if (kind === "x") this.exited.add(Number(pid));
        for (const wake of this.#waiters) wake();
      }
    } catch {
      // closed
    }
  }

  reset(): void {
    this.starts.clear();
    this.exited.clear();
  }

  /** Resolve with `check()`'s value once it is defined; checked on every report and every 5 ms. */
  async until<T>(check: () => T | undefined, limitMs: number, what: string): Promise<T> {
    const deadline = performance.now() + limitMs;
    let wake = () => {};
    const waiter = () => wake();
    this.#waiters.add(waiter);
    try {
      while (true) {
        const value = check();
        if (value !== undefined) return value;
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 5);
        });
      }
    } finally {
      this.#waiters.delete(waiter);
    }
  }

  close(): void {
    this.#socket.close();
  }
}

// ---------------------------------------------------------------- peers

/** A supervisor running N services. */
interface Running {
  /** Its own processes, whose memory and CPU count. */
  supervisorPids(): number[];
  /** Ask it to stop everything; resolves once it has exited. */
  stop(): Promise<void>;
  /** Kill whatever is left (after an error). */
  destroy(): Promise<void>;
  /** Base URL of the edgevisor API. */
  url?: string;
}

interface Peer {
  name: string;
  version: string;
  /** Spawn the supervisor; returns right after the spawn (PM2: after `pm2 start`). */
  start(n: number, dir: string, child: string, port: number): Promise<Running>;
}

/** A spawned supervisor process with output discarded. */
function spawn(cmd: string, args: string[], env: Record<string, string>, cwd?: string) {
  return new Deno.Command(cmd, {
    args,
    env,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function killChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await child.status;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);

/**
 * The script edgevisor runs from: by default (`--entry bundle`) the bundle
 * that `deno task bundle` makes, built now (what `deno task compile`
 * ships); `--entry source` for `main.ts`; or a path.
 */
async function edgevisorEntry(): Promise<string> {
  const entry = flags.entry ?? "bundle";
  if (entry === "source") return MAIN_TS;
  if (entry !== "bundle") return entry;
  progress("building the bundle (deno task bundle)");
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bundle"],
    cwd: REPO_DIR,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (built.code !== 0) {
    throw new Error(`deno task bundle failed: ${new TextDecoder().decode(built.stderr)}`);
  }
  return fileURLToPath(new URL("../dist/edgevisor/main.js", import.meta.url));
}

function edgevisorPeer(entry: string): Peer {
  const runFlags = flags["deno-flags"]?.split(/\s+/).filter(Boolean) ?? startTaskFlags();
  const script = entry.startsWith(REPO_DIR)
    ? entry.slice(REPO_DIR.length).replace(/^\//, "")
    : entry;
  return {
    name: "edgevisor",
    version: `${
      JSON.parse(Deno.readTextFileSync(`${REPO_DIR}/deno.json`)).version
    } (Deno ${Deno.version.deno}, \`deno run ${runFlags.join(" ")} ${script}\`)`,
    start(n, dir, child, port) {
      const registry = {
        services: names(n).map((name) => ({
          name,
          cmd: child,
          args: [String(port), name],
          restart_policy: "always",
          max_restarts: 1_000_000,
          start_grace: 0,
          backoff: { initial: 0 },
          crash_loop: { max_crashes: 1_000_000 },
          stop_timeout: 10,
        })),
      };
      Deno.writeTextFileSync(`${dir}/registry.json`, JSON.stringify(registry));
      const apiPort = freePort();
      const proc = spawn(
        Deno.execPath(),
        [
          "run",
          ...runFlags,
          entry,
          ...runArgs(`${dir}/registry.json`, apiPort, dir),
          ...(flags["edgevisor-args"]?.split(/\s+/).filter(Boolean) ?? []),
        ],
        { NO_COLOR: "1" },
        REPO_DIR,
      );
      return Promise.resolve({
        url: `http://127.0.0.1:${apiPort}`,
        supervisorPids: () => [proc.pid],
        async stop() {
          proc.kill("SIGTERM");
          await proc.status;
        },
        destroy: () => killChild(proc),
      });
    },
  };
}

function supervisordPeer(path: string, version: string): Peer {
  return {
    name: "supervisord",
    version,
    start(n, dir, child, port) {
      const lines = [
        "[supervisord]",
        "nodaemon=true",
        `logfile=${dir}/supervisord.log`,
        `pidfile=${dir}/supervisord.pid`,
        `childlogdir=${dir}`,
        "",
      ];
      for (const name of names(n)) {
        lines.push(
          `[program:${name}]`,
          `command=${child} ${port} ${name}`,
          "startsecs=0",
          "autorestart=true",
          "startretries=1000000",
          "stopwaitsecs=10",
          "",
        );
      }
      Deno.writeTextFileSync(`${dir}/supervisord.conf`, lines.join("\n"));
      const proc = spawn(path, ["-n", "-c", `${dir}/supervisord.conf`], {});
      return Promise.resolve({
        supervisorPids: () => [proc.pid],
        async stop() {
          proc.kill("SIGTERM");
          await proc.status;
        },
        destroy: () => killChild(proc),
      });
    },
  };
}

function pm2Peer(path: string, version: string): Peer {
  return {
    name: "PM2",
    version,
    start(n, dir, child, port) {
      const home = `${dir}/pm2home`;
      const env = { PM2_HOME: home };
      const apps = names(n).map((name) => ({
        name,
        script: child,
        args: [String(port), name],
        interpreter: "none",
        exec_mode: "fork",
        autorestart: true,
        restart_delay: 0,
        min_uptime: 0,
        max_restarts: 1_000_000,
      }));
      Deno.writeTextFileSync(
        `${dir}/ecosystem.config.js`,
        `module.exports = ${JSON.stringify({ apps })};\n`,
      );
      const godPid = () => Number(readText(`${home}/pm2.pid`)?.trim() ?? 0);
      const started = run(path, ["start", `${dir}/ecosystem.config.js`], env);
      return Promise.resolve({
        supervisorPids: () => (godPid() ? [godPid()] : []),
        async stop() {
          await started;
          const pid = godPid();
          await run(path, ["kill"], env);
          while (pid && alive(pid)) await sleep(5);
        },
        async destroy() {
          await started;
          await run(path, ["kill"], env);
          const pid = godPid();
          if (pid && alive(pid)) Deno.kill(pid, "SIGKILL");
        },
      });
    },
  };
}

function runitPeer(path: string, version: string): Peer {
  return {
    name: "runit",
    version,
    start(n, dir, child, port) {
      const svdir = `${dir}/service`;
      for (const name of names(n)) {
        Deno.mkdirSync(`${svdir}/${name}`, { recursive: true });
        Deno.symlinkSync(child, `${svdir}/${name}/run`);
      }
      const proc = spawn(path, [svdir], { STARTREP_PORT: String(port) });
      return Promise.resolve({
        supervisorPids: () => [proc.pid, ...childrenOf(proc.pid)],
        async stop() {
          const runsv = childrenOf(proc.pid);
          proc.kill("SIGHUP");
          await proc.status;
          while (runsv.some(alive)) await sleep(5);
        },
        async destroy() {
          const runsv = childrenOf(proc.pid);
          await killChild(proc);
          for (const pid of runsv) {
            try {
              Deno.kill(pid, "SIGTERM");
            } catch {
              // gone
            }
          }
        },
      });
    },
  };
}

/** Every peer present on this machine, with its version. */
async function findPeers(
  only: string[] | undefined,
  entry: string,
): Promise<{ peers: Peer[]; missing: string[] }> {
  const peers: Peer[] = [edgevisorPeer(entry)];
  const missing: string[] = [];
  const supervisord = which("supervisord");
  if (supervisord) {
    const v = (await run(supervisord, ["--version"]))?.trim() ?? "?";
    peers.push(supervisordPeer(supervisord, `supervisor ${v}`));
  } else missing.push("supervisord");
  const pm2 = which("pm2");
  if (pm2) {
    // The version from package.json: `pm2 --version` would start a daemon.
    let v = "?";
    try {
      const pkg = new URL("../package.json", `file://${Deno.realPathSync(pm2)}`);
      v = JSON.parse(Deno.readTextFileSync(pkg)).version;
    } catch {
      // unknown
    }
    const node = (await run("node", ["--version"]))?.trim() ?? "?";
    peers.push(pm2Peer(pm2, `pm2 ${v} (Node ${node})`));
  } else missing.push("PM2");
  const runsvdir = which("runsvdir");
  if (runsvdir) {
    const dpkg = await run("dpkg-query", ["-W", "-f", "${Version}", "runit"]);
    peers.push(runitPeer(runsvdir, `runit ${dpkg?.trim() || "?"}`));
  } else missing.push("runit");
  const wanted = only ? peers.filter((p) => only.includes(p.name.toLowerCase())) : peers;
  return { peers: wanted, missing };
}

// ---------------------------------------------------------------- load

interface LoadResult {
  tool: string;
  req_per_s: number;
  p99_ms: number;
}

async function loadList(url: string): Promise<LoadResult | undefined> {
  const target = `${url}/api/services/list`;
  const wrk = which("wrk");
  if (wrk) {
    const out = await run(wrk, [
      "-t2",
      `-c${LOAD_CONNECTIONS}`,
      `-d${LOAD_S}s`,
      "--latency",
      target,
    ]);
    const rps = out && /Requests\/sec:\s+([\d.]+)/.exec(out);
    const p99 = out && /^\s+99%\s+([\d.]+)(us|ms|s)\b/m.exec(out);
    if (rps && p99) {
      const scale = p99[2] === "us" ? 1e-3 : p99[2] === "s" ? 1e3 : 1;
      return {
        tool: `wrk -t2 -c${LOAD_CONNECTIONS} -d${LOAD_S}s`,
        req_per_s: round(Number(rps[1]), 0),
        p99_ms: round(Number(p99[1]) * scale, 2),
      };
    }
  }
  const client = Deno.createHttpClient({});
  const latencies: number[] = [];
  const end = performance.now() + LOAD_S * 1000;
  const t0 = performance.now();
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      try {
        const res = await fetch(target, { client });
        await res.arrayBuffer();
        if (res.ok) latencies.push(performance.now() - start);
      } catch {
        await sleep(1);
      }
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, loop));
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  return {
    tool: `${LOAD_CONNECTIONS} fetch loops, ${LOAD_S} s`,
    req_per_s: round(latencies.length / seconds, 0),
    p99_ms: round(percentile(latencies, 99), 2),
  };
}

// ---------------------------------------------------------------- measure

interface Figures {
  peer: string;
  services: number;
  start_all_ms: number;
  respawn_p50_ms: number;
  respawn_p95_ms: number;
  respawns: number;
  rss_mib: number;
  pss_mib: number;
  idle_cpu_pct: number;
  stop_all_ms: number;
  list?: LoadResult;
}

async function measure(
  peer: Peer,
  n: number,
  root: string,
  child: string,
  reports: Reports,
  withLoad: boolean,
): Promise<Figures> {
  const dir = await Deno.makeTempDir({ dir: root, prefix: `${peer.name}_${n}_` });
  reports.reset();
  const all = names(n);
  progress(`${peer.name} N=${n}: start`);
  const t0 = performance.now();
  const running = await peer.start(n, dir, child, reports.port);
  try {
    const startAll = await reports.until(
      () => {
        if (reports.starts.size < n) return undefined;
        return Math.max(...[...reports.starts.values()].map((s) => s.at)) - t0;
      },
      WAIT_LIMIT_MS,
      `${n} start reports from ${peer.name}`,
    );
    await sleep(SETTLE_MS);
    const pids = running.supervisorPids();
    const memory = memoryOf(pids);

    progress(`${peer.name} N=${n}: idle ${IDLE_S} s`);
    const cpu0 = cpuNs(pids);
    const idle0 = performance.now();
    await sleep(IDLE_S * 1000);
    const idleCpu = (cpuNs(pids) - cpu0) / 1e6 / (performance.now() - idle0) * 100;

    progress(`${peer.name} N=${n}: ${KILLS} kills`);
    const respawns: number[] = [];
    const step = Math.max(1, Math.floor(n / Math.max(1, KILLS)));
    for (let k = 0; k < KILLS; k++) {
      const name = all[(k * step) % n]!;
      const before = reports.starts.get(name)!.pid;
      const t = performance.now();
      Deno.kill(before, "SIGKILL");
      try {
        const at = await reports.until(
          () => {
            const s = reports.starts.get(name)!;
            return s.pid !== before ? s.at : undefined;
          },
          RESPAWN_LIMIT_MS,
          `respawn of ${name}`,
        );
        respawns.push(at - t);
      } catch {
        progress(`${peer.name}: ${name} not respawned within ${RESPAWN_LIMIT_MS} ms`);
      }
    }

    let list: LoadResult | undefined;
    if (withLoad && running.url && LOAD_S > 0) {
      progress(`${peer.name} N=${n}: list load`);
      list = await loadList(running.url);
    }

    progress(`${peer.name} N=${n}: stop`);
    await sleep(1_100); // every service up for 1 s again (runit would delay a restart otherwise)
    const childPids = [...reports.starts.values()].map((s) => s.pid);
    const t1 = performance.now();
    await running.stop();
    await reports.until(
      () => childPids.every((pid) => reports.exited.has(pid) || !alive(pid)) || undefined,
      WAIT_LIMIT_MS,
      "every child to exit",
    );
    const stopAll = performance.now() - t1;
    return {
      peer: peer.name,
      services: n,
      start_all_ms: round(startAll),
      respawn_p50_ms: round(percentile(respawns, 50), 2),
      respawn_p95_ms: round(percentile(respawns, 95), 2),
      respawns: respawns.length,
      rss_mib: memory.rss_mib,
      pss_mib: memory.pss_mib,
      idle_cpu_pct: round(idleCpu, 3),
      stop_all_ms: round(stopAll),
      list,
    };
  } catch (err) {
    await running.destroy();
    for (const { pid } of reports.starts.values()) {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
    }
    throw err;
  }
}

// ---------------------------------------------------------------- report

function machine(): string[] {
  const cpuinfo = readText("/proc/cpuinfo") ?? "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const memGib = round(Deno.systemMemoryInfo().total / 1024 ** 3, 1);
  const os = /^PRETTY_NAME="?([^"\n]+)/m.exec(readText("/etc/os-release") ?? "")?.[1] ?? "";
  return [
    `date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    `machine: ${navigator.hardwareConcurrency} CPUs, ${cpu}, ${memGib} GiB RAM, ${os}, kernel ${Deno.osRelease()}`,
    `command: deno task bench:peers ${Deno.args.join(" ")}`.trimEnd(),
    `settings: settle ${
      SETTLE_MS / 1000
    } s, idle ${IDLE_S} s, ${KILLS} kills per run, list load ${LOAD_S} s`,
  ];
}

function ratio(value: number, base: number | undefined): string {
  if (base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0) {
    return "";
  }
  return ` (${round(value / base, 2)}×)`;
}

function table(results: Figures[], peers: Peer[]): string {
  const lines: string[] = [];
  const rows: [string, (f: Figures) => number][] = [
    ["start all (ms)", (f) => f.start_all_ms],
    ["crash → respawn p50 (ms)", (f) => f.respawn_p50_ms],
    ["crash → respawn p95 (ms)", (f) => f.respawn_p95_ms],
    ["supervisor RSS (MiB)", (f) => f.rss_mib],
    ["supervisor PSS (MiB)", (f) => f.pss_mib],
    [`idle CPU (% of one core, ${IDLE_S} s)`, (f) => f.idle_cpu_pct],
    ["stop all (ms)", (f) => f.stop_all_ms],
  ];
  for (const n of SIZES) {
    const byPeer = peers.map((p) => results.find((f) => f.peer === p.name && f.services === n));
    const base = results.find((f) => f.peer === "runit" && f.services === n);
    lines.push(`N = ${n}`, "");
    lines.push(`| | ${peers.map((p) => p.name).join(" | ")} |`);
    lines.push(`|---|${peers.map(() => "---:").join("|")}|`);
    for (const [label, get] of rows) {
      const cells = byPeer.map((f) => (f ? `${get(f)}${ratio(get(f), base && get(base))}` : "n/a"));
      lines.push(`| ${label} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }
  for (const f of results) {
    if (f.list) {
      lines.push(
        `edgevisor \`GET /api/services/list\` with ${f.services} services (${f.list.tool}): ` +
          `${f.list.req_per_s} req/s, p99 ${f.list.p99_ms} ms`,
      );
    }
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

if (import.meta.main) {
  const only = flags.only?.split(",").map((s) => s.trim().toLowerCase());
  const { peers, missing } = await findPeers(only, await edgevisorEntry());
  const root = await Deno.makeTempDir({ prefix: "edgevisor_peers_" });
  const reports = new Reports();
  const results: Figures[] = [];
  let failed = false;
  try {
    const child = await buildChild(root);
    progress(`child: ${child.kind}; peers: ${peers.map((p) => p.name).join(", ")}`);
    if (missing.length) progress(`not installed: ${missing.join(", ")}`);
    const largest = Math.max(...SIZES);
    for (const n of SIZES) {
      for (const peer of peers) {
        try {
          results.push(
            await measure(peer, n, root, child.path, reports, n === largest),
          );
        } catch (err) {
          failed = true;
          progress(`${peer.name} N=${n} failed: ${err instanceof Error ? err.message : err}`);
        }
      }
    }
    const header = machine();
    if (flags.json) {
      console.log(JSON.stringify(
        {
          header,
          child: child.kind,
          versions: Object.fromEntries(peers.map((p) => [p.name, p.version])),
          missing,
          results,
        },
        null,
        2,
      ));
    } else {
      console.log(header.join("\n"));
      console.log(`child: ${child.kind}`);
      for (const p of peers) console.log(`${p.name}: ${p.version}`);
      if (missing.length) console.log(`not installed: ${missing.join(", ")}`);
      console.log("");
      console.log(table(results, peers));
    }
  } finally {
    reports.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  Deno.exit(failed ? 1 : 0);
}
