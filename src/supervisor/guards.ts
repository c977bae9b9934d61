/**
 * Resource guards applied at spawn: `nice` and `cpu_affinity` run the
 * service's command through `nice` and `taskset`, which exec it in place (the
 * pid and the process group stay the service's).
 *
 * @module
 */
import type { Launcher } from "../../health/mod.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import { trackSpawn } from "./reaper.ts";

/** The program and arguments to spawn, and warnings for the orchestrator log. */
export interface Launch {
  /** Program to spawn. */
  cmd: string;
  /** Its arguments. */
  args: string[];
  /** Guards that could not be applied, for the log. */
  warnings: string[];
}

/** Where to look for `taskset` and `nice`. */
const SEARCH = ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"];

const found = new Map<string, string | undefined>();
/** Absolute path of `program` in the usual directories, or undefined. */
export function findProgram(program: string): string | undefined {
  if (!found.has(program)) {
    let path: string | undefined;
    for (const dir of SEARCH) {
      try {
        if (Deno.statSync(`${dir}/${program}`).isFile) {
          path = `${dir}/${program}`;
          break;
        }
      } catch {
        // not there
      }
    }
    found.set(program, path);
  }
  return found.get(program);
}

/**
 * Wrap the service's command: `taskset -c LIST` for `cpu_affinity`, then
 * `nice -n N` for `nice`. A missing `taskset` or `nice` is a warning, and the
 * command runs without that guard.
 */
export function launchCommand(
  spec: Pick<ServiceSpec, "cmd" | "args" | "nice" | "cpu_affinity">,
  find: (program: string) => string | undefined = findProgram,
): Launch {
  let cmd = spec.cmd;
  let args = [...spec.args];
  const warnings: string[] = [];
  if (spec.nice !== undefined) {
    const nice = find("nice");
    if (nice) {
      args = ["-n", String(spec.nice), cmd, ...args];
      cmd = nice;
    } else warnings.push(`"nice" not found; running without nice ${spec.nice}`);
  }
  if (spec.cpu_affinity !== undefined) {
    const taskset = find("taskset");
    if (taskset) {
      args = ["-c", spec.cpu_affinity.join(","), cmd, ...args];
      cmd = taskset;
    } else {
      warnings.push(
        `"taskset" not found; running without cpu_affinity ${spec.cpu_affinity.join(",")}`,
      );
    }
  }
  return { cmd, args, warnings };
}

/**
 * How to spawn a command so that it runs in a session (and process group) of
 * its own: program, arguments, whether Deno itself must make the session
 * (`detached: true`), and the registration of the spawned pid (so that the
 * orphan reaper leaves Deno's own children alone, see `reaper.ts`). What the
 * health checks' {@linkcode Launcher} gives.
 */
export type SessionLaunch = ReturnType<Launcher>;

/**
 * Spawn `cmd` in a new session, whose id and group id are its pid.
 *
 * Through `setsid`, which calls setsid(2) and execs the command in place (the
 * pid stays the service's): Deno then spawns with posix_spawn (vfork), whereas
 * `detached: true` makes it fork the whole orchestrator, page tables and
 * hundreds of open pipes included (with 200 services, about 4 ms a spawn
 * against under 1 ms). Without `setsid` on the machine, `detached: true`.
 */
export function inOwnSession(
  cmd: string,
  args: string[],
  find: (program: string) => string | undefined = findProgram,
): SessionLaunch {
  const setsid = find("setsid");
  return setsid
    ? { cmd: setsid, args: ["--", cmd, ...args], detached: false, spawned: trackSpawn }
    : { cmd, args, detached: true, spawned: trackSpawn };
}

/**
 * {@linkcode inOwnSession} for `program`, after checking that `command` (the
 * service's or hook's own, which `program` may wrap) can start in `cwd` with
 * `PATH` `path` (the orchestrator's by default): through `setsid` the spawn
 * itself would succeed and the failure would only show as an exit code.
 * Throws as {@linkcode assertSpawnable} does.
 */
export function sessionLaunch(
  program: string,
  args: string[],
  command: { cmd: string; cwd?: string; path?: string },
): SessionLaunch {
  const launch = inOwnSession(program, args);
  if (!launch.detached) {
    assertSpawnable(command.cmd, command.cwd, command.path ?? Deno.env.get("PATH"));
  }
  return launch;
}

/**
 * Throw what `Deno.Command#spawn()` would throw for a command that cannot be
 * started, for launches through a wrapper (whose own spawn succeeds): a
 * missing working directory (`NotFound`, the message names the cwd), a
 * command not found on the PATH of its environment or at its path (relative
 * to the working directory), or one that is not an executable file
 * (`PermissionDenied`).
 */
export function assertSpawnable(
  cmd: string,
  cwd: string | undefined,
  pathVar: string | undefined,
): void {
  const dir = cwd ?? Deno.cwd();
  if (cwd !== undefined && !isDirectory(cwd)) {
    throw new Deno.errors.NotFound(`No such cwd: ${cwd}`);
  }
  if (cmd.includes("/")) {
    const path = cmd.startsWith("/") ? cmd : `${dir}/${cmd}`;
    const kind = executableKind(path);
    if (kind === "missing") throw new Deno.errors.NotFound(`No such file: ${cmd}`);
    if (kind === "not executable") {
      throw new Deno.errors.PermissionDenied(`${cmd} is not an executable file`);
    }
    return;
  }
  // Where it was found last time: one stat instead of a search (each miss costs an exception).
  const key = `${cmd}\0${dir}\0${pathVar}`;
  const known = resolved.get(key);
  if (known !== undefined && executableKind(known) === "ok") return;
  let denied = false;
  for (const entry of (pathVar ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const path = `${entry === "" ? dir : entry.startsWith("/") ? entry : `${dir}/${entry}`}/${cmd}`;
    const kind = executableKind(path);
    if (kind === "ok") {
      if (resolved.size >= 256) resolved.clear();
      resolved.set(key, path);
      return;
    }
    if (kind === "not executable") denied = true;
  }
  if (denied) throw new Deno.errors.PermissionDenied(`${cmd} is not an executable file`);
  throw new Deno.errors.NotFound(`${cmd} not found on PATH`);
}

/** Command, directory and PATH → where {@linkcode assertSpawnable} found the command. */
const resolved = new Map<string, string>();

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function executableKind(path: string): "ok" | "missing" | "not executable" {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return "missing";
  }
  if (!info.isFile) return "not executable";
  return info.mode !== null && (info.mode & 0o111) === 0 ? "not executable" : "ok";
}
