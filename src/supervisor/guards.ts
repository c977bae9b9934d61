/**
 * Resource guards applied at spawn: `nice` and `cpu_affinity` run the
 * service's command through `nice` and `taskset`, which exec it in place (the
 * pid and the process group stay the service's).
 *
 * @module
 */
import type { ServiceSpec } from "../registry/schema.ts";

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
