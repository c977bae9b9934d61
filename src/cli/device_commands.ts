/**
 * Commands for running edgevisor on a device: `reload` (re-read the
 * registry of a running orchestrator) and `systemd unit|install|uninstall`.
 *
 * @module
 */
import type { Command } from "commander";
import { EdgevisorError } from "../errors.ts";
import {
  describePlan,
  executePlan,
  machineFacts,
  planInstall,
  planUninstall,
} from "../systemd/install.ts";
import { UNIT, UNIT_DEFAULTS } from "../systemd/unit.ts";
import { describeDiff } from "../supervisor/reload.ts";
import { ApiError } from "./client.ts";
import { clientFor, tokenFileOption, tokenOption } from "./token.ts";

/** What the commands need from the program. */
export interface DeviceCommandContext {
  /** Write to standard output (a newline is added when missing). */
  print(text: string): void;
  /** Write JSON to standard output. */
  printJson(body: unknown): void;
  /** Write to standard error as is. */
  stderr(text: string): void;
  /** Set the exit code of `main`. */
  setExitCode(code: number): void;
  /** Default `--url`. */
  defaultUrl: string;
  /** Parse and normalise a `--url` value (throws a usage error). */
  urlArg(value: string): string;
  /** An environment variable (for `EDGEVISOR_TOKEN`), undefined when unset. */
  env(name: string): string | undefined;
}

// deno-lint-ignore no-explicit-any
type AnyCommand = Command<any, any, any>;

/** Add `reload` and `systemd` to `program`. */
export function addDeviceCommands(program: AnyCommand, ctx: DeviceCommandContext): void {
  program
    .command("reload")
    .description(
      "re-read the registry of a running edgevisor: add, remove and restart what changed",
    )
    .option("--url <url>", "base URL of the edgevisor API", ctx.urlArg, ctx.defaultUrl)
    .option("--json", "print the raw JSON answer")
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .action(
      async (options: { url: string; json?: boolean; token?: string; tokenFile?: string }) => {
        try {
          const body = await clientFor(options, ctx.env).reload();
          if (options.json) ctx.printJson(body);
          else ctx.print(`reloaded: ${describeDiff(body)}`);
        } catch (error) {
          // An invalid registry: every problem is in the message; exit 2 as `validate` does.
          if (!(error instanceof ApiError) || error.kind !== "invalid") throw error;
          ctx.stderr(`error: ${error.message}\n`);
          ctx.setExitCode(2);
        }
      },
    );

  const systemd = program
    .command("systemd")
    .description("install edgevisor as a systemd service, or print its unit");

  systemd
    .command("unit")
    .description("print the systemd unit (for installing by hand)")
    .action(() => ctx.print(UNIT));

  systemd
    .command("install")
    .description(
      "write the unit, create the user and directories, daemon-reload and enable (as root)",
    )
    .option("--user <name>", "user the orchestrator and its services run as", UNIT_DEFAULTS.user)
    .option(
      "--registry <path>",
      "registry file (created empty when missing)",
      UNIT_DEFAULTS.registry,
    )
    .option("--now", "also start the service")
    .option("--dry-run", "print the steps without doing anything")
    .action(
      async (options: { user: string; registry: string; now?: boolean; dryRun?: boolean }) => {
        const plan = planInstall(options, await machineFacts(options));
        if (options.dryRun) return ctx.print(describePlan(plan));
        requireRoot("install");
        await executePlan(plan, (line) => ctx.print(line));
      },
    );

  systemd
    .command("uninstall")
    .description("disable and stop the service and remove its unit (keeps registry, logs, state)")
    .option("--dry-run", "print the steps without doing anything")
    .action(async (options: { dryRun?: boolean }) => {
      const plan = planUninstall();
      if (options.dryRun) return ctx.print(describePlan(plan));
      requireRoot("uninstall");
      await executePlan(plan, (line) => ctx.print(line));
    });
}

function requireRoot(action: string): void {
  if (Deno.uid() !== 0) {
    throw new EdgevisorError(
      `"edgevisor systemd ${action}" must run as root; use --dry-run to see the steps`,
    );
  }
}
