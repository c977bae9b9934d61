/**
 * Lifecycle hooks (`pre_start`, `post_start`, `post_stop`): a command run in
 * the service's directory and environment, in a process group of its own,
 * killed with its group at its timeout.
 *
 * @module
 */
import { errorText } from "../errors.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import { type SessionLaunch, sessionLaunch } from "./guards.ts";
import { delay, signalChild, signalGroup } from "./process.ts";

/** Names of the hooks. */
export type HookName = "pre_start" | "post_start" | "post_stop";

/** A hook as the registry defines it. */
export type HookSpec = NonNullable<ServiceSpec["pre_start"]>;

/** How a hook ended. */
export interface HookResult {
  /** Exit code 0 within the timeout. */
  ok: boolean;
  /** Exit code, or null. */
  code: number | null;
  /** Signal that ended it, or null. */
  signal: string | null;
  /** It was killed at its timeout. */
  timedOut: boolean;
  /** Last part of its output (both streams), trimmed. */
  output: string;
  /** One line for people: `exit code 1: no database`, `timed out after 30s`. */
  summary: string;
}

/** Largest output kept, in characters. */
const OUTPUT_KEPT = 2000;
/** How long the output is read after the hook exited. */
const OUTPUT_DRAIN_MS = 1000;

/**
 * Run `hook` for service `spec` and resolve once it ended (never rejects).
 * The environment holds the service's `env` plus `EDGEVISOR_SERVICE` and
 * `EDGEVISOR_HOOK`. Aborting `signal` kills the hook's group. `wrap` adapts
 * the launch (to spawn the hook inside the service's cgroup).
 */
export async function runHook(
  name: HookName,
  hook: HookSpec,
  spec: Pick<ServiceSpec, "name" | "env" | "working_dir">,
  signal?: AbortSignal,
  wrap: (launch: SessionLaunch) => SessionLaunch = (launch) => launch,
): Promise<HookResult> {
  let child: Deno.ChildProcess;
  let release: (() => void) | undefined;
  const env: Record<string, string> = {
    ...spec.env,
    EDGEVISOR_SERVICE: spec.name,
    EDGEVISOR_HOOK: name,
  };
  try {
    const launch = wrap(sessionLaunch(hook.cmd, hook.args ?? [], {
      cmd: hook.cmd,
      cwd: spec.working_dir,
      path: env.PATH,
    }));
    child = new Deno.Command(launch.cmd, {
      args: launch.args,
      cwd: spec.working_dir,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: launch.detached,
    }).spawn();
    release = launch.spawned?.(child.pid);
  } catch (err) {
    return {
      ok: false,
      code: null,
      signal: null,
      timedOut: false,
      output: "",
      summary: `cannot run ${JSON.stringify(hook.cmd)}: ${errorText(err)}`,
    };
  }
  let timedOut = false;
  const kill = () => signalChild(child.pid, "SIGKILL");
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, (hook.timeout ?? 30) * 1000);
  signal?.addEventListener("abort", kill, { once: true });
  let output = "";
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const collect = async (reader: ReadableStreamDefaultReader<Uint8Array>) => {
    const decoder = new TextDecoder();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      output = (output + decoder.decode(read.value, { stream: true })).slice(-OUTPUT_KEPT);
    }
  };
  try {
    const reading = Promise.all(readers.map((reader) => collect(reader).catch(() => {})));
    const status = await child.status;
    release?.();
    // Leftovers of the group go with the hook (and close the pipes).
    signalGroup(child.pid, "SIGKILL");
    // A process that left the group may hold the pipes: stop reading after a while.
    const drained = new AbortController();
    await Promise.race([reading, delay(OUTPUT_DRAIN_MS, drained.signal)]);
    drained.abort();
    for (const reader of readers) reader.cancel().catch(() => {}); // closes the pipes
    await reading;
    const trimmed = output.trim();
    const how = timedOut
      ? `timed out after ${hook.timeout ?? 30}s`
      : status.signal
      ? `killed by ${status.signal}`
      : `exit code ${status.code}`;
    const last = trimmed.split("\n").slice(-3).join(" / ");
    return {
      ok: status.success && !timedOut,
      code: status.signal ? null : status.code,
      signal: status.signal ?? null,
      timedOut,
      output: trimmed,
      summary: last ? `${how}: ${last}` : how,
    };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", kill);
  }
}
