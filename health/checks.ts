/**
 * The check kinds: `tcp`, `http`, `exec`, `file` and `log`. Each check takes
 * an `AbortSignal` and gives up when it aborts; {@linkcode runCheck} adds the
 * timeout so that no check outlives it.
 *
 * @module
 */
import type {
  Check,
  CheckResult,
  CheckSpec,
  ExecCheckSpec,
  FileCheckSpec,
  HttpCheckSpec,
  LogCheckSpec,
  TcpCheckSpec,
} from "./types.ts";

/**
 * How to spawn a command in a process group of its own: the program and
 * arguments to run, whether Deno must make the group itself
 * (`detached: true`) or the program does (`setsid`, for instance), and
 * `spawned`, called with the pid right after the spawn (its result is called
 * once the process has been waited for).
 */
export type Launcher = (
  cmd: string,
  args: string[],
) => {
  cmd: string;
  args: string[];
  detached: boolean;
  spawned?: (pid: number) => () => void;
};

/** The default {@linkcode Launcher}: the command itself, `detached: true`. */
export const detachedLaunch: Launcher = (cmd, args) => ({ cmd, args, detached: true });

/** Options of {@linkcode createCheck}. */
export interface CreateCheckOptions {
  /** What a `log` check reads: the output of the service's current run. */
  logWatch?: LogWatch;
  /** How an `exec` check's command is spawned. @default {@linkcode detachedLaunch} */
  launch?: Launcher;
}

/** Build the check function of `spec`. */
export function createCheck(spec: CheckSpec, options: CreateCheckOptions = {}): Check {
  switch (spec.type) {
    case "tcp":
      return (signal) => tcpCheck(spec, signal);
    case "http":
      return (signal) => httpCheck(spec, signal);
    case "exec":
      return (signal) => execCheck(spec, signal, options.launch);
    case "file":
      return () => fileCheck(spec);
    case "log": {
      const watch = options.logWatch;
      return () => Promise.resolve(watch ? watch.result() : { ok: false, message: "no output" });
    }
  }
}

/**
 * Run `check` with a timeout: when it has not settled after `timeoutMs`, its
 * signal aborts and the result is a failure `timed out after …`. Never rejects.
 */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult> {
  const abort = new AbortController();
  const { promise: timedOut, resolve } = Promise.withResolvers<CheckResult>();
  const timer = setTimeout(() => {
    resolve({ ok: false, message: `timed out after ${timeoutMs / 1000}s` });
    abort.abort(new DOMException("check timed out", "TimeoutError"));
  }, timeoutMs);
  try {
    return await Promise.race([
      check(abort.signal).catch((err): CheckResult => ({ ok: false, message: errorText(err) })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
    if (!abort.signal.aborted) abort.abort();
  }
}

/** Connect to `host:port` and close at once. */
export async function tcpCheck(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const hostname = spec.host ?? "127.0.0.1";
  const where = `${hostname}:${spec.port}`;
  const connecting = Deno.connect({ hostname, port: spec.port });
  const aborted = abortPromise(signal);
  try {
    const conn = await Promise.race([connecting, aborted.promise]);
    conn.close();
    return { ok: true, message: `connected to ${where}` };
  } catch (err) {
    // A connection that completes after the abort is closed at once.
    connecting.then((conn) => conn.close(), () => {});
    if (signal.aborted) throw err;
    return { ok: false, message: `cannot connect to ${where}: ${errorText(err)}` };
  } finally {
    aborted.dispose();
  }
}

/** The URL an `http` check requests. */
export function httpCheckUrl(spec: HttpCheckSpec): string {
  if (spec.url) return spec.url;
  const path = spec.path ?? "/";
  return `http://${spec.host ?? "127.0.0.1"}:${spec.port ?? 80}${
    path.startsWith("/") ? "" : "/"
  }${path}`;
}

/** Request the URL; healthy when the status is in range (and the body holds the text). */
export async function httpCheck(spec: HttpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const url = httpCheckUrl(spec);
  const [low, high] = spec.expected_status ?? [200, 399];
  let response: Response;
  try {
    response = await fetch(url, { method: spec.method ?? "GET", signal, redirect: "manual" });
  } catch (err) {
    if (signal.aborted) throw err;
    return { ok: false, message: `${url}: ${errorText(err)}` };
  }
  const status = response.status;
  if (status < low || status > high) {
    await response.body?.cancel();
    return { ok: false, message: `HTTP ${status} (expected ${low}-${high})` };
  }
  if (spec.body_contains !== undefined) {
    const body = await response.text();
    if (!body.includes(spec.body_contains)) {
      return {
        ok: false,
        message: `HTTP ${status}; body lacks ${JSON.stringify(spec.body_contains)}`,
      };
    }
    return {
      ok: true,
      message: `HTTP ${status}; body contains ${JSON.stringify(spec.body_contains)}`,
    };
  }
  await response.body?.cancel();
  return { ok: true, message: `HTTP ${status}` };
}

/**
 * Run the command in a process group of its own (spawned by `launch`); exit
 * code 0 is healthy. The group is killed on abort.
 */
export async function execCheck(
  spec: ExecCheckSpec,
  signal: AbortSignal,
  launch: Launcher = detachedLaunch,
): Promise<CheckResult> {
  let child: Deno.ChildProcess;
  let release: (() => void) | undefined;
  try {
    const how = launch(spec.command, spec.args ?? []);
    child = new Deno.Command(how.cmd, {
      args: how.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: how.detached,
    }).spawn();
    release = how.spawned?.(child.pid);
  } catch (err) {
    return { ok: false, message: `cannot run ${JSON.stringify(spec.command)}: ${errorText(err)}` };
  }
  const kill = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Not in its own group yet (a launcher that makes it itself), or gone already.
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  };
  signal.addEventListener("abort", kill, { once: true });
  try {
    const out = await child.output();
    const text = firstLine(out.stderr) || firstLine(out.stdout);
    if (out.success) return { ok: true, message: text || "exit code 0" };
    const how = out.signal ? `killed by ${out.signal}` : `exit code ${out.code}`;
    return { ok: false, message: text ? `${how}: ${text}` : how };
  } finally {
    signal.removeEventListener("abort", kill);
    release?.();
  }
}

/** The file exists (and is recent enough). */
export async function fileCheck(spec: FileCheckSpec, nowMs = Date.now()): Promise<CheckResult> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(spec.path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { ok: false, message: `${spec.path} does not exist` };
    }
    return { ok: false, message: `${spec.path}: ${errorText(err)}` };
  }
  if (spec.max_age !== undefined) {
    const ageMs = nowMs - (info.mtime?.getTime() ?? 0);
    if (ageMs > spec.max_age * 1000) {
      return {
        ok: false,
        message: `${spec.path} last modified ${
          Math.round(ageMs / 1000)
        }s ago (max_age ${spec.max_age}s)`,
      };
    }
  }
  return { ok: true, message: `${spec.path} exists` };
}

/** Longest partial line kept while waiting for its end. */
const MAX_PARTIAL = 64 * 1024;

/**
 * Watches the output of one run of a service for a regular expression, line
 * by line. Feed it every chunk; {@linkcode LogWatch.reset} at each new run.
 */
export class LogWatch {
  #pattern: RegExp;
  #streams: "stdout" | "stderr" | "both";
  #decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  #partial = { stdout: "", stderr: "" };
  #seen: string | undefined;

  /**
   * @throws {SyntaxError} when `spec.pattern` is not a valid regular expression.
   */
  constructor(spec: Pick<LogCheckSpec, "pattern" | "stream">) {
    this.#pattern = new RegExp(spec.pattern);
    this.#streams = spec.stream ?? "both";
  }

  /** Whether the pattern was seen since the last reset. */
  get seen(): boolean {
    return this.#seen !== undefined;
  }

  /** Forget what was seen (a new run begins). */
  reset(): void {
    this.#seen = undefined;
    this.#partial = { stdout: "", stderr: "" };
    this.#decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  }

  /** Look at one chunk of output. */
  feed(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    if (this.#seen !== undefined) return;
    if (this.#streams !== "both" && this.#streams !== stream) return;
    const text = this.#partial[stream] + this.#decoders[stream].decode(chunk, { stream: true });
    const lines = text.split("\n");
    const rest = lines.pop() ?? "";
    for (const line of lines) {
      if (this.#pattern.test(line)) {
        this.#seen = line.slice(0, 200);
        return;
      }
    }
    // A partial line may already match (a prompt without a newline).
    if (this.#pattern.test(rest)) {
      this.#seen = rest.slice(0, 200);
      return;
    }
    this.#partial[stream] = rest.length > MAX_PARTIAL ? rest.slice(-MAX_PARTIAL) : rest;
  }

  /** The check's result now. */
  result(): CheckResult {
    return this.#seen !== undefined
      ? { ok: true, message: `seen ${JSON.stringify(this.#seen)}` }
      : { ok: false, message: `${this.#pattern} not seen yet` };
  }
}

function abortPromise(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

function firstLine(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 4096)).trim();
  return (text.split("\n")[0] ?? "").slice(0, 200);
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\(os error \d+\)/, "");
}
