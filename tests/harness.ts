/**
 * Shared helpers of the integration and end-to-end tests: temporary
 * directories and registries, free ports, polling with a deadline, `/proc`
 * inspection that treats zombies as dead, a real `edgevisor run` subprocess,
 * and the `edgevisor` CLI as a subprocess.
 *
 * Nothing here synchronises by sleeping: every wait polls a condition until
 * a deadline and fails with a message that says what was awaited.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { checkAnswer } from "../src/api/answer_check.ts";

/** Absolute path of the repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** Absolute path of `main.ts`. */
export const MAIN: string = `${ROOT}/main.ts`;

/** Permissions the orchestrator and the CLI run with. */
export const PERMISSIONS: readonly string[] = ["--allow-all"];

/**
 * The runtime flags of `deno task start` (permissions and V8 flags), read from
 * `deno.json`, for runs that measure what users run.
 */
export function startTaskFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const task = String(config.tasks?.start ?? "");
  const match = /deno run (.*?)main\.ts/.exec(task);
  return match ? match[1]!.trim().split(/\s+/) : [...PERMISSIONS];
}

// ---------------------------------------------------------------------------
// Waiting

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds. @default 10_000 */
  timeoutMs?: number;
  /** Milliseconds between two polls. @default 20 */
  intervalMs?: number;
  /** What was awaited, for the failure message. */
  message?: string;
}

/** `T` without its falsy members. */
export type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/** Thrown by a {@linkcode waitFor} condition to fail at once instead of polling on. */
export class StopWaiting extends Error {
  /** Create the error. */
  constructor(message: string) {
    super(message);
    this.name = "StopWaiting";
  }
}

/**
 * Poll `condition` until it returns a truthy value (which is returned) or the
 * deadline passes, then throw an error that names what was awaited and the
 * last value seen (or the last error thrown by the condition). A condition
 * that throws `StopWaiting` ends the wait at once with that error.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Truthy<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, message = "condition" } = options;
  const deadline = performance.now() + timeoutMs;
  let last: unknown = undefined;
  let lastError: unknown = undefined;
  while (true) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
      last = value;
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const detail = lastError !== undefined
    ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
    : `last value: ${safeJson(last)}`;
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message} (${detail})`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------
// Files, ports, registries

/** A fresh temporary directory. */
export function tempDir(prefix = "edgevisor_test_"): Promise<string> {
  return Deno.makeTempDir({ prefix });
}

/** Remove a directory tree; never throws. */
export async function removeDir(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch {
    // already gone
  }
}

/** A TCP port that was free a moment ago: bind port 0 on loopback, read it, close. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * `cmd` and `args` of a service run by `sh -c script`. Registry strings
 * expand `${VAR}` and turn `$$` into `$`: write `$$$$` for the shell's `$$`.
 */
export function sh(script: string): { cmd: string; args: string[] } {
  return { cmd: "sh", args: ["-c", script] };
}

const uniqueBase = Math.floor(Math.random() * 9_000_000);
let uniqueCount = 0;

/**
 * A number no other test uses, for distinctive command lines such as
 * `sleep 31337123` that can be counted in `/proc` without confusion.
 */
export function uniqueSeconds(): number {
  return 30_000_000 + ((uniqueBase + 7919 * uniqueCount++) % 9_000_000);
}

/** Fast timings for services under test (seconds), merged under each service. */
export const FAST = {
  start_grace: 0,
  stop_timeout: 1,
  backoff: { initial: 0.05, factor: 2, max: 0.2 },
  crash_loop: { max_crashes: 100, window: 60, cooldown: 1 },
} as const;

/** Write `registry` as JSON to `{dir}/{file}`; returns the path. */
export async function writeRegistry(
  dir: string,
  registry: unknown,
  file = "registry.json",
): Promise<string> {
  const path = `${dir}/${file}`;
  await Deno.writeTextFile(path, JSON.stringify(registry, null, 2) + "\n");
  return path;
}

/** Whether a file exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// /proc
//
// Read through `/bin/sh`, independently of the code under test.

/** One row of the process table, from `/proc/PID/stat`. */
export interface ProcRow {
  /** Process id. */
  pid: number;
  /** State letter; `Z` is a zombie. */
  state: string;
  /** Parent pid. */
  ppid: number;
  /** Process group. */
  pgrp: number;
}

/** Run a `/bin/sh` script with `args` (and `input` on stdin); its standard output. */
async function shell(script: string, args: string[] = [], input?: string): Promise<string> {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", script, "sh", ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  return new TextDecoder().decode(out.stdout);
}

function parseStatLine(line: string): ProcRow | undefined {
  const pid = Number.parseInt(line, 10);
  const close = line.lastIndexOf(")");
  if (!Number.isInteger(pid) || close < 0) return undefined;
  const fields = line.slice(close + 2).split(" ");
  return { pid, state: fields[0] ?? "?", ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** Every process, zombies included. */
export async function procTable(): Promise<ProcRow[]> {
  const text = await shell(
    `for f in /proc/[0-9]*/stat; do read -r line < "$f" && printf '%s\\n' "$line"; done 2>/dev/null`,
  );
  return text.split("\n").map(parseStatLine).filter((row) => row !== undefined);
}

/** `/proc/PID/stat` of one process; undefined when it does not exist. */
export async function stat(pid: number): Promise<ProcRow | undefined> {
  const text = await shell(`read -r line < "/proc/$1/stat" && printf '%s\\n' "$line"`, [
    String(pid),
  ]);
  return parseStatLine(text.trim());
}

function live(row: ProcRow): boolean {
  return row.state !== "Z" && row.state !== "X";
}

/**
 * Whether `pid` exists and is not a zombie. Pid 1 in the test container does
 * not reap orphans, so a killed orphan stays a zombie: it counts as dead.
 */
export async function processAlive(pid: number): Promise<boolean> {
  const row = await stat(pid);
  return row !== undefined && live(row);
}

/** Live (non-zombie) members of process group `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  return (await procTable()).filter((r) => r.pgrp === pgid && live(r)).map((r) => r.pid);
}

/** Live children of `pid`. */
export async function childrenOf(pid: number): Promise<number[]> {
  return (await procTable()).filter((r) => r.ppid === pid && live(r)).map((r) => r.pid);
}

/**
 * Live (non-zombie) processes whose command line contains `token` (no
 * spaces: arguments are NUL-separated in `/proc/PID/cmdline`). The token is
 * passed on stdin so that the searching processes do not match themselves.
 */
export async function processesMatching(token: string): Promise<number[]> {
  if (/\s/.test(token)) throw new TypeError(`Token ${JSON.stringify(token)} holds a space`);
  const text = await shell(`grep -lasF -f /dev/stdin /proc/[0-9]*/cmdline`, [], token + "\n");
  const pids = text.split("\n").map((path) => Number(/^\/proc\/(\d+)\//.exec(path)?.[1]))
    .filter((pid) => Number.isInteger(pid) && pid !== Deno.pid);
  const rows = new Map((await procTable()).map((r) => [r.pid, r]));
  return pids.filter((pid) => {
    const row = rows.get(pid);
    return row !== undefined && live(row);
  }).sort((a, b) => a - b);
}

/** Resident set size of `pid` in KiB, from `/proc/PID/status`; undefined when it is gone. */
export async function rssKiB(pid: number): Promise<number | undefined> {
  const text = await shell(
    `while read -r key value rest; do [ "$key" = VmRSS: ] && echo "$value"; done < "/proc/$1/status"`,
    [String(pid)],
  );
  const kib = Number.parseInt(text, 10);
  return Number.isInteger(kib) ? kib : undefined;
}

/** SIGKILL a process group, ignoring errors. */
export function killGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // gone
  }
}

/** mulberry32: a small deterministic PRNG, so that a random case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The arguments of `edgevisor run` on `registry`, listening on loopback
 * `port`, with logs and state under `dir`.
 */
export function runArgs(registry: string, port: number, dir: string): string[] {
  return [
    "run",
    "--registry",
    registry,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-dir",
    `${dir}/logs`,
    "--state-dir",
    `${dir}/state`,
  ];
}

/** SIGKILL a process, ignoring errors. */
export function killPid(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** SIGKILL every live process whose command line contains `token` (test clean-up). */
export async function killMatching(token: string): Promise<void> {
  for (const pid of await processesMatching(token)) killPid(pid);
}

// ---------------------------------------------------------------------------
// HTTP

/** An answer of the API: status, parsed JSON body and headers. */
export interface ApiAnswer {
  /** HTTP status. */
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  /** Headers of the answer. */
  headers: Headers;
}

/** What {@linkcode api} sends besides method and path. */
export interface ApiRequest {
  /** A JSON body (sent as `application/json`), or a string sent as it is. */
  body?: unknown;
  /** More headers. */
  headers?: Record<string, string>;
  /** Leave the answer unchecked (a request the test knows the document does not describe). @default false */
  unchecked?: boolean;
  /** The HTTP client to send it with. */
  client?: Deno.HttpClient;
}

/**
 * One request to the API over real HTTP (through `options.client`, or the
 * client given as `options`, if any); the body is always consumed, and
 * the answer is checked against the OpenAPI document of the API (its status
 * documented for the operation, its body matching the schema): an answer
 * that drifts from the document fails the test.
 */
export async function api(
  url: string,
  method: string,
  path: string,
  options: ApiRequest | Deno.HttpClient = {},
): Promise<ApiAnswer> {
  const request = options instanceof Deno.HttpClient ? { client: options } : options;
  const headers: Record<string, string> = { ...request.headers };
  let body: string | undefined;
  if (request.body !== undefined) {
    body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(url + path, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(20_000),
    client: request.client,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!request.unchecked) {
    checkAnswer({
      method,
      path,
      status: response.status,
      headers: response.headers,
      body: method === "HEAD" ? undefined : parsed,
    });
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Status of one service, or throw with the answer. */
// deno-lint-ignore no-explicit-any
export async function serviceStatus(url: string, name: string): Promise<any> {
  const answer = await api(url, "GET", `/api/services/status/${name}`);
  if (answer.status !== 200) {
    throw new Error(`status of "${name}": HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

// ---------------------------------------------------------------------------
// Subprocesses

/** Collects a byte stream into text in the background. */
class TextSink {
  #chunks: string[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      try {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          this.#chunks.push(chunk);
        }
      } catch {
        // the process went away
      }
    })();
  }

  get text(): string {
    return this.#chunks.join("");
  }
}

/** Options of {@linkcode startOrchestrator}. */
export interface OrchestratorOptions {
  /** Registry object (written to a file) or the path of an existing registry file. */
  registry: unknown;
  /** More arguments after `run`. */
  extraArgs?: string[];
  /** Flags of `deno run`. @default PERMISSIONS */
  flags?: readonly string[];
  /** Working directory for the temp files; a fresh one by default. */
  dir?: string;
  /** Port of the API; a free one by default. */
  port?: number;
  /** Wait until `GET /api/health` answers. @default true */
  waitHealthy?: boolean;
  /** More environment variables of the orchestrator. */
  env?: Record<string, string>;
  /** A command that runs the orchestrator's command line, e.g. `["prlimit", "--nofile=1024", "--"]`. @default none */
  prefix?: string[];
}

/** A running `edgevisor run` subprocess. */
export interface Orchestrator {
  /** Base URL of its API. */
  url: string;
  /** Its port. */
  port: number;
  /** Its pid. */
  pid: number;
  /** Temp directory holding the registry, logs and state. */
  dir: string;
  /** Registry file. */
  registryPath: string;
  /** Log directory. */
  logDir: string;
  /** State directory. */
  stateDir: string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then wait for the exit (SIGKILL and clean-up if it takes over `timeoutMs`). */
  stop(timeoutMs?: number): Promise<Deno.CommandStatus>;
  /** SIGKILL the orchestrator only (its watchdog then ends its services); waits for its exit. */
  kill(): Promise<Deno.CommandStatus>;
  /** Kill the orchestrator and every service group it started; wait for its exit. */
  destroy(): Promise<void>;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Same as `destroy()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Spawn `deno run <flags> main.ts ...args` with piped output. */
function spawnMain(
  args: string[],
  cwd: string,
  env?: Record<string, string>,
  flags: readonly string[] = PERMISSIONS,
  prefix: readonly string[] = [],
): Deno.ChildProcess {
  const command = [Deno.execPath(), "run", "--quiet", ...flags, MAIN, ...args];
  const [program, ...rest] = [...prefix, ...command];
  return new Deno.Command(program!, {
    args: rest,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Pid records the orchestrator keeps in its state directory. */
function statePids(stateDir: string): number[] {
  const pids: number[] = [];
  try {
    for (const entry of Deno.readDirSync(stateDir)) {
      if (!entry.name.endsWith(".pid.json")) continue;
      try {
        const record = JSON.parse(Deno.readTextFileSync(`${stateDir}/${entry.name}`));
        if (Number.isInteger(record.pid) && record.pid > 1) pids.push(record.pid);
      } catch {
        // half-written or gone
      }
    }
  } catch {
    // no state directory
  }
  return pids;
}

/**
 * Process groups the live children of `pid` lead or are about to lead: a
 * service's group id is its pid. (Not their current group: a child spawned
 * through `setsid` is still in its parent's group for a moment, and that
 * group may hold this test process too.)
 */
async function childGroups(pid: number): Promise<number[]> {
  return (await procTable()).filter((r) => r.ppid === pid && live(r)).map((r) => r.pid);
}

/**
 * Spawn `edgevisor run` on a fresh temp directory and a free port, and wait
 * until `GET /api/health` answers. Fails with its stderr if it exits first.
 */
export async function startOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const dir = options.dir ?? await tempDir();
  const registryPath = typeof options.registry === "string"
    ? options.registry
    : await writeRegistry(dir, options.registry);
  const port = options.port ?? freePort();
  const logDir = `${dir}/logs`;
  const stateDir = `${dir}/state`;
  const child = spawnMain(
    [
      ...runArgs(registryPath, port, dir),
      ...(options.extraArgs ?? []),
    ],
    dir,
    options.env,
    options.flags,
    options.prefix,
  );
  const stdout = new TextSink(child.stdout);
  const stderr = new TextSink(child.stderr);
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then(async (s) => {
    exited = s;
    await Promise.all([stdout.done, stderr.done]);
    return s;
  });
  const url = `http://127.0.0.1:${port}`;
  const seenGroups = new Set<number>();
  /** Note the process groups of its services, to kill them in any case. */
  const remember = async () => {
    const groups = [...statePids(stateDir)];
    if (exited === undefined) groups.push(...await childGroups(child.pid));
    for (const g of groups) seenGroups.add(g);
  };
  const killGroups = async () => {
    await remember();
    for (const g of seenGroups) killGroup(g);
    await waitFor(async () => {
      let left = false;
      for (const g of seenGroups) {
        if ((await groupMembers(g)).length === 0) continue;
        killGroup(g); // a group made after the first kill (setsid had not run yet)
        left = true;
      }
      return !left;
    }, { timeoutMs: 5000, message: `service groups ${[...seenGroups].join(", ")} to vanish` });
  };
  const killAll = async () => {
    await remember();
    killPid(child.pid);
    await status;
    await killGroups();
  };

  const orchestrator: Orchestrator = {
    url,
    port,
    pid: child.pid,
    dir,
    registryPath,
    logDir,
    stateDir,
    status,
    async stop(timeoutMs = 10_000) {
      await remember();
      try {
        Deno.kill(child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = new AbortController();
      const timedOut = new Promise<"timeout">((resolve) => {
        const id = setTimeout(() => resolve("timeout"), timeoutMs);
        timer.signal.addEventListener("abort", () => clearTimeout(id));
      });
      const result = await Promise.race([status, timedOut]);
      timer.abort();
      if (result === "timeout") {
        await killAll();
        throw new Error(
          `edgevisor did not exit within ${timeoutMs} ms of SIGTERM; stderr:\n${stderr.text}`,
        );
      }
      return result;
    },
    async kill() {
      await remember();
      killPid(child.pid);
      return await status;
    },
    async destroy() {
      if (exited === undefined) await killAll();
      else {
        await status;
        await killGroups();
      }
      if (options.dir === undefined) await removeDir(dir);
    },
    stderr: () => stderr.text,
    [Symbol.asyncDispose]() {
      return orchestrator.destroy();
    },
  };

  if (options.waitHealthy ?? true) {
    try {
      await waitFor(async () => {
        if (exited) {
          throw new StopWaiting(`edgevisor exited early (${JSON.stringify(exited)})`);
        }
        try {
          const answer = await api(url, "GET", "/api/health");
          return answer.status === 200;
        } catch (err) {
          if (err instanceof TypeError) return false; // connection refused: not yet listening
          throw err;
        }
      }, { timeoutMs: 20_000, intervalMs: 25, message: `GET ${url}/api/health to answer` });
      await remember();
    } catch (err) {
      await orchestrator.destroy();
      throw new Error(`${(err as Error).message}\nstderr:\n${stderr.text}`);
    }
  }
  return orchestrator;
}

/** Result of a finished subprocess. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Run `main.ts` with `args` to completion (SIGKILL after `timeoutMs`); used
 * for the CLI client commands, `validate`, and `run` cases that must exit.
 */
export async function runMain(
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const child = spawnMain(args, options.cwd ?? ROOT, options.env);
  const stdout = new TextSink(child.stdout);
  const stderr = new TextSink(child.stderr);
  const timer = setTimeout(() => killPid(child.pid), options.timeoutMs ?? 20_000);
  try {
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    return { code: status.code, signal: status.signal, stdout: stdout.text, stderr: stderr.text };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// Assertions that node:assert lacks

/** Fail unless `actual >= expected`. */
export function assertAtLeast(actual: number, expected: number, what: string): void {
  if (!(actual >= expected)) throw new Error(`${what}: expected >= ${expected}, got ${actual}`);
}

/** Fail unless `actual < expected`. */
export function assertBelow(actual: number, expected: number, what: string): void {
  if (!(actual < expected)) throw new Error(`${what}: expected < ${expected}, got ${actual}`);
}

/** Fail unless `fn` rejects with an instance of `type` whose message contains `includes`. */
export async function assertRejectsWith(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => Error,
  includes = "",
): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  if (error === undefined) throw new Error(`expected a ${type.name}; nothing was thrown`);
  if (!(error instanceof type) || !error.message.includes(includes)) {
    throw new Error(
      `expected a ${type.name} with ${JSON.stringify(includes)}; got ${String(error)}`,
    );
  }
}
