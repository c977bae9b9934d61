/**
 * `edgevisor systemd install` and `uninstall`: a plan of steps (pure, from
 * the options and a few facts about the machine), printed with `--dry-run`
 * or carried out one by one.
 *
 * @module
 */
import { resolve } from "../path.ts";
import { EdgevisorError } from "../errors.ts";
import { loadRegistry } from "../registry/load.ts";
import { timeoutStopFor, UNIT_DEFAULTS, unitText } from "./unit.ts";

/** Options of `edgevisor systemd install`. */
export interface InstallOptions {
  /** User (and group) to run as; created when missing. @default "edgevisor" */
  user?: string;
  /** Registry file; an empty registry is written when it is missing. @default "/etc/edgevisor/registry.json" */
  registry?: string;
  /** Also start the unit now. @default false */
  now?: boolean;
}

/** What the plan depends on. */
export interface MachineFacts {
  /** Path of the running executable. */
  execPath: string;
  /** Whether the running executable is a compiled edgevisor (not `deno`). */
  compiled: boolean;
  /** Whether the user exists. */
  userExists: boolean;
  /** Whether `/usr/local/bin/edgevisor` exists. */
  binExists: boolean;
  /** Whether the registry file exists. */
  registryExists: boolean;
  /** Largest `stop_timeout` of the registry, seconds (0 when unknown). */
  largestStopTimeout: number;
}

/** One step of a plan. */
export type Step =
  /** Run a command. */
  | { kind: "run"; argv: string[] }
  /** Write a file (mode in octal). */
  | { kind: "write"; path: string; text: string; mode: number }
  /** Remove a file if it exists. */
  | { kind: "remove"; path: string };

/** A plan: the steps, and what to tell the user after them. */
export interface Plan {
  steps: Step[];
  notes: string[];
}

const EMPTY_REGISTRY = '{\n  "services": []\n}\n';

/** The steps of `systemd install`. */
export function planInstall(options: InstallOptions, facts: MachineFacts): Plan {
  const user = options.user ?? UNIT_DEFAULTS.user;
  const registry = resolve(options.registry ?? UNIT_DEFAULTS.registry);
  const registryDir = registry.slice(0, Math.max(1, registry.lastIndexOf("/")));
  const bin = UNIT_DEFAULTS.bin;
  const unitPath = `${UNIT_DEFAULTS.dir}/${UNIT_DEFAULTS.name}`;
  const steps: Step[] = [];
  const notes: string[] = [];
  if (facts.compiled && facts.execPath !== bin) {
    steps.push({ kind: "run", argv: ["install", "-m", "0755", facts.execPath, bin] });
  } else if (!facts.compiled && !facts.binExists) {
    notes.push(
      `${bin} does not exist: copy the edgevisor binary there (deno task compile) before the unit starts`,
    );
  }
  if (!facts.userExists && user !== "root") {
    steps.push({
      kind: "run",
      argv: [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        UNIT_DEFAULTS.stateDir,
        "--shell",
        "/usr/sbin/nologin",
        user,
      ],
    });
  }
  for (const dir of [registryDir, UNIT_DEFAULTS.stateDir, UNIT_DEFAULTS.logDir]) {
    steps.push({
      kind: "run",
      argv: ["install", "-d", "-m", "0750", "-o", user, "-g", user, dir],
    });
  }
  if (!facts.registryExists) {
    steps.push({ kind: "write", path: registry, text: EMPTY_REGISTRY, mode: 0o640 });
  }
  steps.push({ kind: "run", argv: ["chown", `${user}:${user}`, registry] });
  const text = unitText({
    user,
    registry,
    bin,
    timeoutStopSec: timeoutStopFor(facts.largestStopTimeout),
  });
  steps.push({ kind: "write", path: unitPath, text, mode: 0o644 });
  steps.push({ kind: "run", argv: ["systemctl", "daemon-reload"] });
  steps.push({
    kind: "run",
    argv: ["systemctl", "enable", ...(options.now ? ["--now"] : []), UNIT_DEFAULTS.name],
  });
  if (!options.now) notes.push(`start it with: systemctl start ${UNIT_DEFAULTS.name}`);
  return { steps, notes };
}

/** The steps of `systemd uninstall`: the user, registry, logs, state and binary are kept. */
export function planUninstall(): Plan {
  const unitPath = `${UNIT_DEFAULTS.dir}/${UNIT_DEFAULTS.name}`;
  return {
    steps: [
      { kind: "run", argv: ["systemctl", "disable", "--now", UNIT_DEFAULTS.name] },
      { kind: "remove", path: unitPath },
      { kind: "run", argv: ["systemctl", "daemon-reload"] },
    ],
    notes: [
      `kept: the user, the registry, ${UNIT_DEFAULTS.logDir}, ${UNIT_DEFAULTS.stateDir} and ${UNIT_DEFAULTS.bin}`,
    ],
  };
}

/** The plan as text, one step per line; written files are shown indented. */
export function describePlan(plan: Plan): string {
  const lines: string[] = [];
  for (const step of plan.steps) {
    if (step.kind === "run") lines.push(step.argv.map(shellQuote).join(" "));
    else if (step.kind === "remove") lines.push(`rm -f ${shellQuote(step.path)}`);
    else {
      lines.push(`write ${step.path} (mode ${step.mode.toString(8).padStart(4, "0")}):`);
      for (const line of step.text.trimEnd().split("\n")) lines.push(`    ${line}`.trimEnd());
    }
  }
  for (const note of plan.notes) lines.push(`# ${note}`);
  return lines.join("\n") + "\n";
}

/** Carry out the plan, stopping at the first failed step. */
export async function executePlan(plan: Plan, log: (line: string) => void): Promise<void> {
  for (const step of plan.steps) {
    if (step.kind === "write") {
      log(`write ${step.path}`);
      await Deno.writeTextFile(step.path, step.text, { mode: step.mode });
      await Deno.chmod(step.path, step.mode);
    } else if (step.kind === "remove") {
      log(`rm -f ${step.path}`);
      await Deno.remove(step.path).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    } else {
      const line = step.argv.map(shellQuote).join(" ");
      log(line);
      const [cmd, ...args] = step.argv;
      let output: Deno.CommandOutput;
      try {
        output = await new Deno.Command(cmd!, { args, stdin: "null" }).output();
      } catch (error) {
        throw new EdgevisorError(`Cannot run ${JSON.stringify(line)}: ${(error as Error).message}`);
      }
      if (!output.success) {
        const stderr = new TextDecoder().decode(output.stderr).trim();
        throw new EdgevisorError(
          `${JSON.stringify(line)} failed with code ${output.code}${stderr ? `: ${stderr}` : ""}`,
        );
      }
    }
  }
  for (const note of plan.notes) log(note);
}

/** Look at the machine: the running executable, the user, the binary and the registry. */
export async function machineFacts(options: InstallOptions): Promise<MachineFacts> {
  const user = options.user ?? UNIT_DEFAULTS.user;
  const registry = resolve(options.registry ?? UNIT_DEFAULTS.registry);
  const execPath = Deno.execPath();
  let largestStopTimeout = 0;
  let registryExists = exists(registry);
  if (registryExists) {
    try {
      const loaded = await loadRegistry(registry);
      largestStopTimeout = Math.max(0, ...loaded.services.map((s) => s.stop_timeout));
    } catch {
      registryExists = true; // invalid: left as it is, "edgevisor validate" tells why
    }
  }
  let userExists = false;
  try {
    userExists =
      (await new Deno.Command("id", { args: ["-u", user], stdout: "null", stderr: "null" })
        .output()).success;
  } catch {
    userExists = false;
  }
  return {
    execPath,
    compiled: !/(^|\/)deno(\.exe)?$/.test(execPath),
    userExists,
    binExists: exists(UNIT_DEFAULTS.bin),
    registryExists,
    largestStopTimeout,
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
