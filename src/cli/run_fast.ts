/**
 * `edgevisor run` without the command-line library. The library and the
 * Node layer of Deno that it loads stay in memory for the life of the
 * orchestrator (several MiB), so a plain `run` is parsed here: the options
 * below, as `--name value` or `--name=value`. Anything else (help, NATS
 * options or `EDGEVISOR_NATS`, an unknown or invalid option) is left to the
 * full command line (`program.ts`), which defines every option of `run`
 * for `--help` and words every usage error; a test keeps both parsers in
 * agreement.
 *
 * @module
 */
import { parseListenAddress } from "../api/listen.ts";
import { parseHostName, parseOrigin } from "../api/request_guard.ts";
import { parseMaxConnections } from "../api/http_server.ts";
import { checkToken, readTokenFile, TokenFileError } from "../api/auth.ts";
import { EdgevisorError } from "../errors.ts";
import type { RunOptions } from "../orchestrator.ts";
import { runDefaults } from "../systemd/defaults.ts";

/** Default listen address of `edgevisor run`. */
export const DEFAULT_LISTEN = "127.0.0.1:8080";

/** The options of `run` but the NATS ones, as both command-line parsers give them. */
export interface RunFlags {
  /** `--registry`. */
  registry: string;
  /** `--listen`. */
  listen: string;
  /** `--log-dir`. */
  logDir: string;
  /** `--state-dir`. */
  stateDir: string;
  /** `--token-file`. */
  tokenFile?: string;
  /** `--public-read`. */
  publicRead?: boolean;
  /** `--insecure`. */
  insecure?: boolean;
  /** `false` with `--no-memory-trim`. */
  memoryTrim?: boolean;
  /** `false` with `--no-cgroup`. */
  cgroup?: boolean;
  /** `--allow-origin`, each in its normal form. */
  allowOrigin?: string[];
  /** `--allow-host`, each in its normal form. */
  allowHost?: string[];
  /** `--max-connections`. */
  maxConnections?: number;
}

/** Environment lookup where an empty value counts as unset. */
export type EnvLookup = (name: string) => string | undefined;

type ValueKey = "registry" | "listen" | "logDir" | "stateDir" | "tokenFile";

const VALUE_OPTIONS: Record<string, ValueKey> = {
  "--registry": "registry",
  "--listen": "listen",
  "--log-dir": "logDir",
  "--state-dir": "stateDir",
  "--token-file": "tokenFile",
};

/** Options that may be given more than once, with the parser of their values. */
const LIST_OPTIONS: Record<string, ["allowOrigin" | "allowHost", (value: string) => string]> = {
  "--allow-origin": ["allowOrigin", parseOrigin],
  "--allow-host": ["allowHost", parseHostName],
};

const SWITCHES: Record<string, (flags: RunFlags) => void> = {
  "--public-read": (flags) => (flags.publicRead = true),
  "--insecure": (flags) => (flags.insecure = true),
  "--no-memory-trim": (flags) => (flags.memoryTrim = false),
  "--no-cgroup": (flags) => (flags.cgroup = false),
};

/**
 * The flags of `args` (the command line without the program name) when it
 * is a plain `run` this parser understands; `undefined` otherwise.
 */
export function parsePlainRun(args: readonly string[], env: EnvLookup): RunFlags | undefined {
  if (args[0] !== "run" || env("EDGEVISOR_NATS") !== undefined) return undefined;
  const defaults = runDefaults(env);
  const flags: RunFlags = { ...defaults, listen: DEFAULT_LISTEN, memoryTrim: true };
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    const switchOn = SWITCHES[arg];
    if (switchOn) {
      switchOn(flags);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = equals < 0 ? arg : arg.slice(0, equals);
    const key = VALUE_OPTIONS[name];
    const list = LIST_OPTIONS[name];
    const count = name === "--max-connections";
    if (key === undefined && list === undefined && !count) return undefined;
    const value = equals < 0 ? args[++i] : arg.slice(equals + 1);
    if (value === undefined || (equals < 0 && value.startsWith("-"))) return undefined;
    if (key !== undefined) {
      flags[key] = value;
      continue;
    }
    if (count) {
      try {
        flags.maxConnections = parseMaxConnections(value);
      } catch {
        return undefined; // the full command line words the usage error
      }
      continue;
    }
    const [listKey, parse] = list!;
    try {
      (flags[listKey] ??= []).push(parse(value));
    } catch {
      return undefined; // the full command line words the usage error
    }
  }
  try {
    parseListenAddress(flags.listen);
  } catch {
    return undefined; // the full command line words the usage error
  }
  return flags;
}

/**
 * The `RunOptions` of `flags`, but NATS: the token of `--token-file`, else
 * `EDGEVISOR_TOKEN`. Throws `TokenFileError` for an unreadable (exit 1) or
 * empty (exit 2) token file, and for a token holding whitespace or control
 * characters (exit 2), which could never match.
 */
export function runOptionsOf(flags: RunFlags, env: EnvLookup): RunOptions {
  const variable = env("EDGEVISOR_TOKEN");
  const token = flags.tokenFile !== undefined
    ? readTokenFile(flags.tokenFile)
    : variable === undefined
    ? undefined
    : checkToken(variable, "EDGEVISOR_TOKEN");
  return {
    registry: flags.registry,
    listen: flags.listen,
    logDir: flags.logDir,
    stateDir: flags.stateDir,
    publicRead: flags.publicRead === true,
    insecure: flags.insecure === true,
    trimMemory: flags.memoryTrim !== false,
    cgroup: flags.cgroup !== false,
    allowOrigins: flags.allowOrigin ?? [],
    allowHosts: flags.allowHost ?? [],
    ...(flags.maxConnections === undefined ? {} : { maxConnections: flags.maxConnections }),
    ...(token === undefined ? {} : { token }),
  };
}

/**
 * Report `error` as `error: <message>` on `stderr` and give its exit code:
 * a token file's own, 2 for an invalid registry, else 1.
 */
export function reportFailure(error: unknown, stderr: (text: string) => void): number {
  stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof TokenFileError) return error.exitCode;
  return error instanceof EdgevisorError && error.kind === "invalid" ? 2 : 1;
}

/**
 * Run a plain `edgevisor run` (see the module documentation) and resolve to
 * its exit code; `undefined`, having done nothing, for any other command line.
 */
export async function runPlain(
  args: readonly string[],
  env: EnvLookup,
  stderr: (text: string) => void,
): Promise<number | undefined> {
  const flags = parsePlainRun(args, env);
  if (!flags) return undefined;
  try {
    const options = runOptionsOf(flags, env);
    const { runOrchestrator } = await import("../orchestrator.ts");
    return await runOrchestrator(options);
  } catch (error) {
    return reportFailure(error, stderr);
  }
}
