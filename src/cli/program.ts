/**
 * The `edgevisor` command line: `run`, `validate`, and the client commands
 * (`ls`, `status`, `start`, `stop`, `restart`, `logs`, `health`) that talk to
 * a running orchestrator over HTTP.
 *
 * `main` never exits the process: it resolves to the exit code (0 ok,
 * 1 runtime failure, 2 usage error or invalid registry) and leaves exiting
 * to `main.ts`.
 *
 * @module
 */
import { usage } from "./usage.ts";
import { Command, CommanderError, Option } from "commander";
import { parseListenAddress } from "../api/listen.ts";
import { parseHostName, parseOrigin } from "../api/request_guard.ts";
import { parseMaxConnections } from "../api/http_server.ts";
import type { ActionBody } from "../api/wire.ts";
import {
  DEFAULT_LOG_LINES,
  LOG_STREAMS,
  PARAMS,
  parseLines,
  parseParam,
  parseServiceName,
} from "../api/params.ts";
import { RegistryError, type RegistryProblem } from "../errors.ts";
import { type RunOptions, runOrchestrator } from "../orchestrator.ts";
import { loadRegistry } from "../registry/load.ts";
import { VERSION } from "../version.ts";
import { runDefaults } from "../systemd/defaults.ts";
import { ApiClient } from "./client.ts";
import {
  clientFor,
  insecureOption,
  publicReadOption,
  tokenFileOption,
  tokenFileRunOption,
  tokenOf,
  tokenOption,
} from "./token.ts";
import { DEFAULT_LISTEN, reportFailure, runOptionsOf } from "./run_fast.ts";
import { processEnv, writer } from "./io.ts";
import { formatGraph } from "./graph.ts";
import { runLogs } from "./log_follow.ts";
import { runTop, TOP_HELP } from "./top.ts";
import { addDeviceCommands } from "./device_commands.ts";
import { addNatsRunOptions, NATS_ENV_HELP, natsRunOptions, registerFleet } from "./fleet.ts";
import {
  formatHealth,
  formatOrchestrator,
  formatServices,
  formatState,
  formatStatus,
} from "./format.ts";

/** Where the CLI writes, and what it knows about its environment. */
export interface ProgramIo {
  /** Write text to standard output as is (the text carries its own newlines). */
  stdout(text: string): void;
  /** Write text to standard error as is. */
  stderr(text: string): void;
  /** Whether standard output is a terminal (enables colour unless `NO_COLOR` is set). @default false */
  isTerminal?: boolean;
  /** Environment variables to use instead of the process environment (for tests). */
  env?: Record<string, string | undefined>;
  /** What `run` runs with its options (for tests). @default runOrchestrator */
  runOrchestrator?: (options: RunOptions) => Promise<number>;
}

/** Default base URL of the client commands. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

export { DEFAULT_LISTEN };

/** The real standard output and error of this process. */
export function denoIo(): ProgramIo {
  return {
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
    isTerminal: Deno.stdout.isTerminal(),
  };
}

/**
 * Run the command line with `args` (without the program name) and resolve to
 * the exit code. Never calls `Deno.exit`.
 *
 * @example
 * ```ts
 * if (import.meta.main) Deno.exit(await main(Deno.args, denoIo()));
 * ```
 */
export async function main(args: string[], io: ProgramIo = denoIo()): Promise<number> {
  const state = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(args, { from: "user" });
    return state.exitCode;
  } catch (error) {
    // Commander has already printed its message (or the help, or the version).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    return reportFailure(error, io.stderr);
  }
}

function buildProgram(io: ProgramIo, state: { exitCode: number }) {
  const env = (name: string): string | undefined => {
    if (!io.env) return processEnv(name);
    const value = io.env[name];
    return value === "" ? undefined : value;
  };
  const color = io.isTerminal === true && env("NO_COLOR") === undefined;
  const print = (text: string) => {
    if (text !== "") io.stdout(text.endsWith("\n") ? text : text + "\n");
  };
  const printJson = (body: unknown) => io.stdout(JSON.stringify(body, null, 2) + "\n");

  const program = new Command()
    .name("edgevisor")
    .description("Supervise the services of an edge device, with an OmegaOS-compatible HTTP API")
    .version(
      `edgevisor ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})`,
      "-V, --version",
      "print the version",
    )
    .helpOption("-h, --help", "print this help")
    .helpCommand("help [command]", "print the help of a command")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(text),
    })
    .showSuggestionAfterError()
    .addHelpText(
      "after",
      `
Environment:
  EDGEVISOR_URL       default --url of the client commands (${DEFAULT_URL})
  EDGEVISOR_REGISTRY  default --registry of run (service_registry.json)
  LOGS_DIRECTORY      default --log-dir of run (logs)
  STATE_DIRECTORY     default --state-dir of run (.edgevisor)
  INVOCATION_ID       set by systemd: run then defaults to /etc/edgevisor/registry.json,
                      /var/log/edgevisor and /var/lib/edgevisor
${NATS_ENV_HELP}
  NO_COLOR            never colour the output

Exit codes: 0 ok, 1 runtime failure, 2 usage error or invalid registry`,
    );

  program
    .command("run")
    .description(
      "load the registry, serve the API and the web page (/services), and supervise the services until SIGTERM",
    )
    .option(
      "--registry <file>",
      "registry file (JSON, or YAML by extension)",
      runDefaults(env).registry,
    )
    .option("--listen <host:port>", "address of the HTTP API", listenArg, DEFAULT_LISTEN)
    .option("--log-dir <dir>", "directory of the service logs", runDefaults(env).logDir)
    .option(
      "--state-dir <dir>",
      "directory of the orchestrator's state",
      runDefaults(env).stateDir,
    )
    .addOption(tokenFileRunOption())
    .addOption(publicReadOption())
    .addOption(insecureOption())
    .addOption(
      new Option(
        "--allow-origin <origin>",
        "let pages of this origin (scheme://host[:port]) call the API from a browser; repeatable",
      ).argParser(collect(usage(parseOrigin))).default([] as string[], "none"),
    )
    .addOption(
      new Option(
        "--allow-host <name>",
        "on a loopback --listen, answer this Host name too (a proxy's or tunnel's); repeatable",
      ).argParser(collect(usage(parseHostName))).default([] as string[], "none"),
    )
    .addOption(
      new Option(
        "--max-connections <n>",
        "most API connections open at once (503 past it); at most a quarter of the open-file limit",
      ).argParser(usage(parseMaxConnections)),
    )
    .option(
      "--no-cgroup",
      "do not put each service in a cgroup (v2) of its own; follow its processes through their process group, session and output pipes, as a child subreaper",
    )
    .option(
      "--no-memory-trim",
      "keep what only start-up used in memory (by default it goes back to the kernel 2 s after start)",
    )
    .action(async (options, command) => {
      const nats = natsRunOptions(command.opts(), { stdout: io.stdout, env, color });
      state.exitCode = await (io.runOrchestrator ?? runOrchestrator)({
        ...nats,
        ...runOptionsOf(options, env),
      });
    });

  program
    .command("validate")
    .description("check a registry file and list every problem found")
    .argument("<file>", "registry file (JSON, or YAML by extension)")
    .option("--json", "print the result as JSON")
    .action(async (file, options) => {
      try {
        const registry = await loadRegistry(file, io.env ? { env: io.env } : undefined);
        const names = registry.services.map((s) => s.name);
        const { warnings } = registry;
        if (options.json) printJson({ ok: true, file, services: names, warnings });
        else {
          print(
            `${file}: valid, ${plural(names.length, "service")}${
              names.length ? ` (${names.join(", ")})` : ""
            }`,
          );
          if (warnings.length > 0) {
            io.stderr(`${file}: ${plural(warnings.length, "warning")}\n${problemLines(warnings)}`);
          }
        }
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        state.exitCode = 2;
        if (options.json) {
          printJson({ ok: false, file, problems: error.problems });
          return;
        }
        io.stderr(
          `${file}: ${plural(error.problems.length, "problem")}\n${problemLines(error.problems)}`,
        );
      }
    });

  program
    .command("graph")
    .description(
      "print the dependency graph of a registry as Graphviz DOT (colour: readiness check)",
    )
    .argument("<file>", "registry file (JSON, or YAML by extension)")
    .action(async (file) => {
      io.stdout(formatGraph(await loadRegistry(file, io.env ? { env: io.env } : undefined)));
    });

  const urlOption = () =>
    new Option("--url <url>", "base URL of the edgevisor API")
      .argParser(urlArg)
      .default(env("EDGEVISOR_URL") ?? DEFAULT_URL);
  const jsonOption = () => new Option("--json", "print the raw JSON answer");
  /** A command of the API client: `--url`, `--token`, `--token-file` and `--json` come with it. */
  const clientCommand = (name: string) =>
    program
      .command(name)
      .addOption(urlOption())
      .addOption(tokenOption())
      .addOption(tokenFileOption())
      .addOption(jsonOption());
  const nameArgument = "service name";

  clientCommand("ls")
    .alias("list")
    .description(
      "list every service with its state, problems first (failed, cooldown, backoff, unhealthy, then by name)",
    )
    .action(async (options) => {
      const body = await clientFor(options, env).list();
      if (options.json) printJson(body);
      else print(formatServices(body.services, { color }));
    });

  clientCommand("status")
    .description("show every field of one service")
    .argument("<name>", nameArgument, nameArg)
    .action(async (name, options) => {
      const body = await clientFor(options, env).status(name);
      if (options.json) printJson(body);
      else print(formatStatus(body, { color }));
    });

  const actionSummary = (body: ActionBody) =>
    `${body.message}: ${formatState(body.status, { color })}${
      body.pid === null ? "" : `, pid ${body.pid}`
    }`;

  clientCommand("start")
    .description("start a service that is not running")
    .argument("<name>", nameArgument, nameArg)
    .action(async (name, options) => {
      const body = await clientFor(options, env).start(name);
      if (options.json) printJson(body);
      else print(actionSummary(body));
    });

  clientCommand("job")
    .description('start one run of a job (kind "job") and print its run id')
    .argument("<name>", nameArgument, nameArg)
    .action(async (name, options) => {
      const body = await clientFor(options, env).runJob(name);
      if (options.json) printJson(body);
      else print(body.message);
    });

  clientCommand("stop")
    .description("stop a service and its whole process group")
    .argument("<name>", nameArgument, nameArg)
    .option("--force", "kill the process group at once instead of the graceful stop")
    .action(async (name, options) => {
      const body = await clientFor(options, env).stop(name, { force: options.force === true });
      if (options.json) printJson(body);
      else print(actionSummary(body));
    });

  clientCommand("restart")
    .description("stop a service (if running) and start it again")
    .argument("<name>", nameArgument, nameArg)
    .action(async (name, options) => {
      const body = await clientFor(options, env).restart(name);
      if (options.json) printJson(body);
      else print(actionSummary(body));
    });

  clientCommand("logs")
    .description(
      "print the last lines of a service's output in time order, with its starts and exits",
    )
    .argument("<name>", nameArgument, nameArg)
    .addOption(
      new Option("-n, --lines <n>", "number of lines, 0 to 10000")
        .argParser(linesArg)
        .default(DEFAULT_LOG_LINES),
    )
    .addOption(
      new Option("--stream <stream>", "which output to print").choices(LOG_STREAMS).default(
        "both" as const,
      ),
    )
    .addOption(
      new Option(
        "--since <time>",
        "only lines at or after this time: ISO 8601, or a duration before now (90s, 10m, 2h, 1d)",
      ).argParser(sinceArg),
    )
    .option("-f, --follow", "go on printing lines as they are written, until Ctrl-C")
    .action(async (name, options) => {
      state.exitCode = await runLogs({
        client: clientFor(options, env),
        token: tokenOf(options, env),
        name,
        lines: options.lines,
        stream: options.stream,
        since: options.since,
        follow: options.follow === true,
        json: options.json === true,
        color,
        stdout: io.stdout,
        stderr: io.stderr,
      });
    });

  clientCommand("health")
    .description("show the orchestrator's health, or one service's health check")
    .argument("[name]", "service name (omit for the orchestrator)", nameArg)
    .action(async (name, options) => {
      const client = clientFor(options, env);
      if (name === undefined) {
        const body = await client.health();
        if (options.json) printJson(body);
        else print(formatOrchestrator(body, client.baseUrl));
        return;
      }
      const body = await client.serviceHealth(name);
      if (options.json) printJson(body);
      else print(`${body.name}: ${formatHealth(body)}`);
    });

  program
    .command("top")
    .description("live table of every service, problems first, with keys to filter and act")
    .addOption(urlOption())
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .addHelpText("after", TOP_HELP)
    .action(async (options) => {
      state.exitCode = await runTop({
        client: clientFor(options, env),
        token: tokenOf(options, env),
        isTerminal: io.isTerminal === true,
        color,
        stdout: io.stdout,
      });
    });

  addNatsRunOptions(program, { stdout: io.stdout, stderr: io.stderr, env, color });
  registerFleet(program, { stdout: io.stdout, stderr: io.stderr, env, color });

  addDeviceCommands(program, {
    print,
    printJson,
    stderr: io.stderr,
    setExitCode: (code) => (state.exitCode = code),
    defaultUrl: env("EDGEVISOR_URL") ?? DEFAULT_URL,
    urlArg,
    env,
  });
  return program;
}

const nameArg = usage(parseServiceName);

/** A repeatable option's parser: each value parsed, then added to the list. */
function collect(parse: (value: string) => string) {
  return (value: string, previous: string[]) => [...previous, parse(value)];
}
const linesArg = usage(parseLines);
const sinceArg = usage((value: string) => parseParam(PARAMS.since, value) ?? value);
const listenArg = usage((value: string) => (parseListenAddress(value), value));
const urlArg = usage((value: string) => new ApiClient(value).baseUrl);

/** Problems or warnings of a registry, one indented line each. */
function problemLines(problems: readonly RegistryProblem[]): string {
  return problems.map((p) => `  ${p.path ? `${p.path}: ` : ""}${p.message}\n`).join("");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
