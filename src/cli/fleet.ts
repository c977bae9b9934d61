/**
 * NATS on the command line: the options of `edgevisor run` that publish an
 * orchestrator on NATS (and make it follow a fleet group's configuration),
 * and the `edgevisor fleet` commands (`ls`, `status`, `start`, `stop`,
 * `restart`, `watch`, `setup`, `apply`, `config`, `diff`, `rollback`) that
 * need only a NATS server.
 *
 * @module
 */
import { provideRequire } from "../node_require.ts";
import { usage } from "./usage.ts";
import { type Command, Option } from "commander";
import { parseServiceName } from "../api/params.ts";
import type { NatsConnectOptions } from "../nats/connection.ts";
import { DEFAULT_NATS_URL, parseServers } from "../nats/servers.ts";
import type { EventMessage, NatsPublisherOptions } from "../nats/publisher.ts";
import type { FleetClient, FleetListing, FleetNode, FleetOptions } from "../nats/fleet.ts";
import type { FleetFollowOptions } from "../nats/fleet_config.ts";
import type { ConfigClient, DeviceConfig } from "../nats/config_client.ts";
import { EdgevisorError, RegistryError } from "../errors.ts";
import { describeOutcome, type DeviceOutcome, problemLine } from "../fleet/report.ts";
import { STORAGE_DEFAULTS, type StorageOptions } from "../nats/jetstream.ts";
import {
  DEFAULT_PREFIX,
  MAX_HEARTBEAT_INTERVAL_S,
  MIN_HEARTBEAT_INTERVAL_S,
  nodeFromHostname,
  subjectToken,
} from "../nats/subjects.ts";
import type { RegistryDiff, ServiceStatus } from "../types.ts";
import {
  formatDuration,
  formatServices,
  formatState,
  formatStatus,
  formatTable,
} from "./format.ts";

/** What the fleet commands need from the program. */
export interface FleetContext {
  /** Write to standard output as is. */
  stdout(text: string): void;
  /** Write to standard error as is (warnings). @default the process's standard error */
  stderr?(text: string): void;
  /** An environment variable, undefined when unset or empty. */
  env(name: string): string | undefined;
  /** Colour the states. */
  color: boolean;
}

/** Lines added to the program's `Environment:` help. */
export const NATS_ENV_HELP =
  `  EDGEVISOR_NATS      default --nats of run and fleet (fleet: ${DEFAULT_NATS_URL})
  EDGEVISOR_NODE      default --node of run (the host name)
  EDGEVISOR_NATS_PREFIX  default --nats-prefix of run and fleet (edgevisor)
  EDGEVISOR_TOKEN     API token (--token-file of run takes precedence): run requires it for
                      changes over HTTP (and for reads off loopback); the client commands
                      send it. It never travels over NATS: NATS permissions decide who
                      may send control requests`;

// deno-lint-ignore no-explicit-any
type AnyCommand = Command<any, any, any>;

const tokenArg = (what: string) => usage((value: string) => subjectToken(value, what));
const urlArg = usage((value: string) => (parseServers(value), value));
const secondsArg = usage((value: string) => {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0 && n <= 86_400)) {
    throw new RangeError(
      `expected seconds from 0 to 86400 (exclusive of 0); got ${JSON.stringify(value)}`,
    );
  }
  return n;
});
const heartbeatArg = usage((value: string) => {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= MIN_HEARTBEAT_INTERVAL_S && n <= MAX_HEARTBEAT_INTERVAL_S)) {
    throw new RangeError(
      `expected seconds from ${MIN_HEARTBEAT_INTERVAL_S} to ${MAX_HEARTBEAT_INTERVAL_S}; got ${
        JSON.stringify(value)
      }`,
    );
  }
  return n;
});

const windowArg = usage((value: string) => {
  const n = Number(value);
  if (!(Number.isFinite(n) && n >= 0 && n <= 86_400) || value.trim() === "") {
    throw new RangeError(`expected seconds from 0 to 86400; got ${JSON.stringify(value)}`);
  }
  return n;
});

const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Seconds of a duration: a number of seconds, or a number followed by `s`,
 * `m`, `h` or `d` (`90`, `10m`, `1.5h`, `7d`); throws `RangeError`.
 */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : NaN;
  if (!(seconds > 0)) {
    throw new RangeError(
      `expected a duration such as 90, 90s, 10m, 2h or 7d; got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/**
 * Bytes of a size: a number of bytes, or a number followed by `K`, `M`, `G`
 * or `T` (powers of 1024; `KiB`, `MB` and the like are read the same way);
 * throws `RangeError`.
 */
export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([KMGT])i?)?B?$/i.exec(value.trim());
  const bytes = match
    ? Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? "").toUpperCase()]!)
    : NaN;
  if (!(bytes > 0 && Number.isSafeInteger(bytes))) {
    throw new RangeError(
      `expected a size such as 268435456, 256M or 1G; got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}

const durationArg = usage(parseDuration);
const sizeArg = usage(parseSize);
const countArg = (min: number) =>
  usage((value: string) => {
    const n = Number(value);
    if (!(Number.isInteger(n) && n >= min && n <= 1_000_000)) {
      throw new RangeError(`expected an integer >= ${min}; got ${JSON.stringify(value)}`);
    }
    return n;
  });

/** Options naming the server and credentials, shared by `run` and `fleet`. */
function connectionOptionList(ctx: FleetContext, urlDefault?: string): Option[] {
  const url = new Option("--nats <url>", "NATS server URL(s), comma-separated").argParser(urlArg);
  if (urlDefault !== undefined) url.default(urlDefault);
  return [
    url,
    new Option("--nats-prefix <prefix>", "first token of every subject").argParser(
      tokenArg("prefix"),
    ).default(ctx.env("EDGEVISOR_NATS_PREFIX") ?? DEFAULT_PREFIX),
    new Option("--nats-user <user>", "NATS user name"),
    new Option("--nats-pass <password>", "NATS password"),
    new Option("--nats-token <token>", "NATS authentication token"),
    new Option("--nats-creds <file>", "NATS credentials file (.creds)"),
    new Option("--nats-nkey <file>", "file holding a NATS NKey seed"),
    new Option("--nats-tls-ca <file>", "CA certificate (PEM) that signed the server's"),
    new Option("--nats-tls-cert <file>", "client certificate (PEM) for mutual TLS"),
    new Option("--nats-tls-key <file>", "client key (PEM) for mutual TLS"),
  ];
}

interface ConnectionFlags {
  nats?: string;
  natsPrefix?: string;
  natsUser?: string;
  natsPass?: string;
  natsToken?: string;
  natsCreds?: string;
  natsNkey?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

function connectOptions(flags: ConnectionFlags, url: string): NatsConnectOptions {
  const options: NatsConnectOptions = { url };
  if (flags.natsUser !== undefined) options.user = flags.natsUser;
  if (flags.natsPass !== undefined) options.pass = flags.natsPass;
  if (flags.natsToken !== undefined) options.token = flags.natsToken;
  if (flags.natsCreds !== undefined) options.creds = flags.natsCreds;
  if (flags.natsNkey !== undefined) options.nkey = flags.natsNkey;
  if (flags.natsTlsCa !== undefined) options.tlsCa = flags.natsTlsCa;
  if (flags.natsTlsCert !== undefined) options.tlsCert = flags.natsTlsCert;
  if (flags.natsTlsKey !== undefined) options.tlsKey = flags.natsTlsKey;
  return options;
}

/** Add the NATS options to the `run` command of `program`. */
export function addNatsRunOptions(program: AnyCommand, ctx: FleetContext): void {
  const run = program.commands.find((c) => c.name() === "run");
  if (!run) throw new TypeError('The program has no "run" command');
  const options = [
    ...connectionOptionList(ctx),
    new Option("--node <name>", "node name in the NATS subjects (default: the host name)")
      .argParser(tokenArg("node")),
    new Option(
      "--nats-control",
      "answer control requests over NATS (needs an authenticated connection, or --insecure)",
    ),
    new Option(
      "--nats-domain <domain>",
      "JetStream domain of the stream and KV bucket (a leaf node's)",
    )
      .argParser(tokenArg("JetStream domain")),
    new Option(
      "--nats-provisioned",
      "stream and KV bucket are set up by the operator: no JetStream API call, publish only",
    ),
    ...storageOptionList(", when it creates them"),
    new Option("--heartbeat-interval <seconds>", "seconds between NATS heartbeats (0.1 to 3600)")
      .argParser(heartbeatArg).default(5),
    new Option("--snapshot-interval <seconds>", "seconds between NATS snapshots of every service")
      .argParser(secondsArg).default(60),
    new Option("--nats-outbox <n>", "messages kept while NATS is unreachable")
      .argParser(countArg(1)).default(10_000),
    new Option(
      "--fleet-group <name>",
      "follow the configuration of this fleet group (KV keys group.NAME and node.NODE; needs --nats); local registry changes answer 409",
    ).argParser(tokenArg("fleet group")),
    new Option(
      "--rollback-window <seconds>",
      "seconds the changed services of a new fleet configuration must stay healthy, else it is rolled back",
    ).argParser(windowArg).default(60),
  ];
  for (const option of options) run.addOption(option);
}

/**
 * Limits of the stream and KV bucket, shared by `run` (`when`: they apply
 * only to what it creates) and `fleet setup`.
 */
function storageOptionList(when = ""): Option[] {
  const d = STORAGE_DEFAULTS;
  return [
    new Option(
      "--nats-stream-max-age <duration>",
      "oldest event the stream keeps (10m, 2h, 7d)" + when,
    )
      .argParser(durationArg).default(d.streamMaxAgeMs / 1000, "24h"),
    new Option(
      "--nats-stream-max-bytes <size>",
      "largest size of the stream (bytes, or 256M, 1G)" + when,
    )
      .argParser(sizeArg).default(d.streamMaxBytes, "256M"),
    new Option(
      "--nats-kv-max-age <duration>",
      "KV keys not written for this long are removed" + when,
    )
      .argParser(durationArg).default(d.kvMaxAgeMs / 1000, "24h"),
    new Option("--nats-kv-max-bytes <size>", "largest size of the KV bucket" + when)
      .argParser(sizeArg).default(d.kvMaxBytes, "64M"),
    new Option(
      "--nats-replicas <n>",
      "replicas of the stream and KV bucket (JetStream cluster)" + when,
    )
      .argParser(countArg(1)).default(d.replicas),
  ];
}

interface StorageFlags {
  natsStreamMaxAge?: number;
  natsStreamMaxBytes?: number;
  natsKvMaxAge?: number;
  natsKvMaxBytes?: number;
  natsReplicas?: number;
}

function storageOptions(f: StorageFlags): StorageOptions {
  const d = STORAGE_DEFAULTS;
  return {
    streamMaxAgeMs: (f.natsStreamMaxAge ?? d.streamMaxAgeMs / 1000) * 1000,
    streamMaxBytes: f.natsStreamMaxBytes ?? d.streamMaxBytes,
    kvMaxAgeMs: (f.natsKvMaxAge ?? d.kvMaxAgeMs / 1000) * 1000,
    kvMaxBytes: f.natsKvMaxBytes ?? d.kvMaxBytes,
    replicas: f.natsReplicas ?? d.replicas,
  };
}

/**
 * The `nats`, `fleet` and `token` fields of `RunOptions` from the parsed
 * options of `run` (and the environment); no `nats` when no URL is given,
 * no `fleet` without `--fleet-group`. The node name is always set with
 * `nats` (the host name's first label by default).
 */
export function natsRunOptions(
  flags: Record<string, unknown>,
  ctx: FleetContext,
): { nats?: NatsPublisherOptions; token?: string; fleet?: FleetFollowOptions } {
  const f = flags as ConnectionFlags & StorageFlags & {
    node?: string;
    natsControl?: boolean;
    natsDomain?: string;
    natsProvisioned?: boolean;
    heartbeatInterval?: number;
    snapshotInterval?: number;
    natsOutbox?: number;
    fleetGroup?: string;
    rollbackWindow?: number;
  };
  const url = f.nats ?? ctx.env("EDGEVISOR_NATS");
  const token = ctx.env("EDGEVISOR_TOKEN");
  const result: { nats?: NatsPublisherOptions; token?: string; fleet?: FleetFollowOptions } = {};
  if (token !== undefined) result.token = token;
  if (f.fleetGroup !== undefined) {
    result.fleet = {
      group: f.fleetGroup,
      rollbackWindowMs: Math.round((f.rollbackWindow ?? 60) * 1000),
    };
  }
  if (url === undefined) return result;
  for (const [option, file] of [["--nats-creds", f.natsCreds], ["--nats-nkey", f.natsNkey]]) {
    if (file === undefined) continue;
    try {
      Deno.statSync(file);
    } catch (err) {
      throw new Error(`Cannot read ${option} ${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  }
  const node = f.node ?? ctx.env("EDGEVISOR_NODE") ?? nodeFromHostname(Deno.hostname());
  subjectToken(node, "node");
  result.nats = {
    ...connectOptions(f, url),
    prefix: f.natsPrefix ?? DEFAULT_PREFIX,
    control: f.natsControl === true,
    provisioned: f.natsProvisioned === true,
    ...storageOptions(f),
    heartbeatIntervalMs: (f.heartbeatInterval ?? 5) * 1000,
    snapshotIntervalMs: (f.snapshotInterval ?? 60) * 1000,
    outboxSize: f.natsOutbox ?? 10_000,
    node,
  };
  if (f.natsDomain !== undefined) result.nats.domain = f.natsDomain;
  return result;
}

/** `NODE/SERVICE` → its parts. */
export function parseTarget(value: string): { node: string; service: string } {
  const slash = value.indexOf("/");
  if (slash < 0) {
    throw new TypeError(`Invalid target ${JSON.stringify(value)}: expected NODE/SERVICE`);
  }
  return {
    node: subjectToken(value.slice(0, slash), "node"),
    service: parseServiceName(value.slice(slash + 1)),
  };
}

const targetArg = usage(parseTarget);

/** An action that receives the command and its first argument, whatever commander's typing. */
function act(
  fn: (command: AnyCommand, first: unknown) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return (...args) => fn(args.at(-1) as AnyCommand, args[0]);
}

/** Register `edgevisor fleet` and its subcommands on `program`. */
export function registerFleet(program: AnyCommand, ctx: FleetContext): void {
  const print = (text: string) => {
    if (text !== "") ctx.stdout(text.endsWith("\n") ? text : text + "\n");
  };
  const warn = (line: string) => {
    const text = line + "\n";
    if (ctx.stderr) ctx.stderr(text);
    else Deno.stderr.writeSync(new TextEncoder().encode(text));
  };
  const printJson = (body: unknown) => ctx.stdout(JSON.stringify(body, null, 2) + "\n");
  const fleet = program
    .command("fleet")
    .description("watch and drive every orchestrator publishing on a NATS server")
    .addHelpText(
      "after",
      `
Nodes are alive, stale (2 heartbeats missed), expired (3 missed), or stopped
(shut down cleanly); a node is named by the subject or KV key its messages
arrive on, and a message saying otherwise is ignored and reported. Control
requests need the nodes to run with --nats-control; no API token is sent:
the NATS server's permissions decide who may control which node (see
docs/nats-security.md).`,
    );

  const common = (command: AnyCommand, timeoutDefault = 5) => {
    for (const option of connectionOptionList(ctx, ctx.env("EDGEVISOR_NATS") ?? DEFAULT_NATS_URL)) {
      command.addOption(option);
    }
    command.addOption(
      new Option("--timeout <seconds>", "give up on a connection or request after this long")
        .argParser(secondsArg).default(timeoutDefault),
    );
    command.addOption(new Option("--json", "print JSON"));
    return command;
  };
  const withClient = async <T>(
    flags: Record<string, unknown>,
    use: (client: FleetClient) => Promise<T>,
    extra: Partial<FleetOptions> = {},
  ): Promise<T> => {
    const f = flags as ConnectionFlags & { timeout?: number };
    await provideRequire();
    const { FleetClient } = await import("../nats/fleet.ts"); // the NATS client, only when used
    const client = await FleetClient.connect({
      ...connectOptions(f, f.nats ?? DEFAULT_NATS_URL),
      prefix: f.natsPrefix ?? DEFAULT_PREFIX,
      timeoutMs: (f.timeout ?? 5) * 1000,
      ...extra,
    });
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  };

  common(
    fleet
      .command("ls")
      .alias("list")
      .description(
        "every node with its last heartbeat and counts by state (from the KV bucket, else from live heartbeats)",
      )
      .option("--services", "every service on every node instead")
      .addOption(
        new Option("--stale-after <n>", "missed heartbeats before a node is stale")
          .argParser(countArg(1)).default(2),
      )
      .addOption(
        new Option("--expire-after <n>", "missed heartbeats before a node is expired")
          .argParser(countArg(1)).default(3),
      )
      .addOption(
        new Option("--forget-after <duration>", "leave out nodes silent for longer (90s, 10m, 7d)")
          .argParser(durationArg).default(86_400, "24h"),
      ),
  ).action(act(async (command) => {
    const o = command.opts() as {
      services?: boolean;
      staleAfter: number;
      expireAfter: number;
      forgetAfter: number;
      json?: boolean;
    };
    const listing = await withClient(command.opts(), (client) =>
      client.nodes({
        services: o.services === true,
        staleAfter: o.staleAfter,
        expireAfter: o.expireAfter,
        forgetAfterS: o.forgetAfter,
      }));
    if (o.json) {
      printJson({ ok: true, ...listing });
      return;
    }
    print(o.services ? formatFleetServices(listing.nodes, ctx.color) : formatNodes(listing.nodes));
    for (const line of listingWarnings(listing)) warn(line);
  }));

  common(
    fleet
      .command("status")
      .description(
        "the latest status of one service (from the KV bucket, else asked from the node)",
      )
      .argument("<node/service>", "node and service name", targetArg),
  ).action(act(async (command, first) => {
    const target = first as { node: string; service: string };
    const status = await withClient(
      command.opts(),
      (client) => client.status(target.node, target.service),
    );
    if (command.opts().json) printJson(status);
    else print(`${target.node}/${target.service}\n${formatStatus(status, { color: ctx.color })}`);
  }));

  for (const action of ["start", "stop", "restart"] as const) {
    const command = fleet
      .command(action)
      .description(`${action} a service on a node (needs --nats-control on the node)`)
      .argument("<node/service>", "node and service name", targetArg);
    if (action === "stop") command.option("--force", "kill the process group at once");
    common(command).action(
      act(async (cmd, first) => {
        const target = first as { node: string; service: string };
        const flags = cmd.opts() as { force?: boolean; json?: boolean };
        const body = await withClient(cmd.opts(), (client) =>
          client.control(target.node, action, {
            name: target.service,
            ...(flags.force ? { force: true } : {}),
          }));
        if (flags.json) printJson(body);
        else {
          print(
            `${target.node}: ${body.message}: ${formatState(body.status, { color: ctx.color })}${
              body.pid === null ? "" : `, pid ${body.pid}`
            }`,
          );
        }
      }),
    );
  }

  common(
    fleet
      .command("watch")
      .description("print the events of every node as they happen (or since a time)")
      .addOption(new Option("--node <name>", "only this node").argParser(tokenArg("node")))
      .addOption(
        new Option("--service <name>", "only this service").argParser(usage(parseServiceName)),
      )
      .addOption(
        new Option(
          "--since <duration>",
          "first replay the stored events of this long ago (10m, 2h)",
        )
          .argParser(durationArg),
      )
      .addOption(new Option("--count <n>", "exit after n events").argParser(countArg(1)))
      .addHelpText(
        "after",
        `
With the events stream (JetStream), events are read from it: nothing is missed
across a reconnect. Without it, live events only. A lost connection is retried
for --timeout seconds (30 by default here); then watch exits with code 1.`,
      ),
    30,
  ).action(act(async (command) => {
    const o = command.opts() as {
      node?: string;
      service?: string;
      since?: number;
      count?: number;
      json?: boolean;
      timeout: number;
    };
    await withClient(command.opts(), async (client) => {
      const { promise: counted, resolve } = Promise.withResolvers<void>();
      let seen = 0;
      const watch = await client.watch({
        node: o.node,
        service: o.service,
        ...(o.since === undefined ? {} : { since: new Date(Date.now() - o.since * 1000) }),
        onEvent: (event) => {
          // Events delivered in the same batch after the last one wanted are dropped.
          if (o.count !== undefined && seen >= o.count) return;
          print(o.json ? JSON.stringify(event) : formatEvent(event));
          seen++;
          if (o.count !== undefined && seen >= o.count) resolve();
        },
        onIgnored: (ignored) => warn(`warning: ignored ${ignored.source}: ${ignored.reason}`),
      });
      const lost = client.lost((change) =>
        warn(
          change === "disconnected"
            ? `warning: lost the connection to NATS; reconnecting for up to ${o.timeout}s`
            : `reconnected to NATS${
              watch.from === "subjects" ? " (events published meanwhile are not shown)" : ""
            }`,
        )
      );
      try {
        const outcome = await Promise.race([counted, lost]);
        if (outcome instanceof Error) throw outcome;
      } finally {
        watch.stop();
      }
    }, { reconnect: true });
  }));

  const setup = fleet.command("setup");
  for (const option of storageOptionList()) setup.addOption(option);
  common(
    setup
      .description(
        "create or update the events stream and the KV bucket with the limits given (for the operator)",
      )
      .addOption(
        new Option(
          "--source <domain>",
          "on a hub: source the stream and bucket of this JetStream domain (a leaf node); repeatable",
        ).argParser(collect(tokenArg("JetStream domain"))).default([] as string[], "none"),
      )
      .addOption(
        new Option("--nats-domain <domain>", "JetStream domain to set up (default: the server's)")
          .argParser(tokenArg("JetStream domain")),
      ),
  ).action(act(async (command) => {
    const o = command.opts() as StorageFlags & {
      source: string[];
      natsDomain?: string;
      json?: boolean;
    };
    const result = await withClient(command.opts(), (client) =>
      client.setUp({
        ...storageOptions(o),
        sources: o.source,
        ...(o.natsDomain === undefined ? {} : { domain: o.natsDomain }),
      }));
    if (o.json) printJson({ ok: true, ...result });
    else print(`stream: ${result.stream}\nKV bucket: ${result.bucket}`);
  }));

  registerConfigCommands(fleet, { print, printJson, common, withClient, color: ctx.color });
}

/** What the configuration commands share with the other fleet commands. */
interface ConfigCommandContext {
  print(text: string): void;
  printJson(body: unknown): void;
  common(command: AnyCommand, timeoutDefault?: number): AnyCommand;
  withClient<T>(
    flags: Record<string, unknown>,
    use: (client: FleetClient) => Promise<T>,
  ): Promise<T>;
  color: boolean;
}

const groupOption = () =>
  new Option("--group <name>", "fleet group").argParser(tokenArg("fleet group"));

/** `fleet apply`, `config`, `diff`, `rollback`: the configuration of fleet groups. */
function registerConfigCommands(fleet: AnyCommand, ctx: ConfigCommandContext): void {
  const { print, printJson } = ctx;
  /** The configuration client module, loaded only when used (it brings the NATS client). */
  const configModule = async () => {
    await provideRequire();
    return await import("../nats/config_client.ts");
  };
  const withConfig = <T>(
    flags: Record<string, unknown>,
    use: (config: ConfigClient) => Promise<T>,
  ) =>
    ctx.withClient(flags, async (client) => {
      const { ConfigClient } = await configModule();
      return await use(new ConfigClient(client, { timeoutMs: (flags.timeout as number) * 1000 }));
    });
  /** The file validated; with `--json`, its problems printed as `validate --json` does. */
  const readFile = async (file: string, json: boolean | undefined) => {
    try {
      return await (await configModule()).readFleetRegistry(file);
    } catch (error) {
      if (json && error instanceof RegistryError) {
        printJson({ ok: false, file, problems: error.problems });
      }
      throw error;
    }
  };

  ctx.common(
    fleet
      .command("apply")
      .description("validate a registry file and publish it as the configuration of a fleet group")
      .argument("<file>", "registry file (JSON, or YAML by extension)")
      .addOption(groupOption().makeOptionMandatory())
      .addOption(
        new Option("--canary <n>", "first give it to n devices of the group, then to the group")
          .argParser(countArg(1)),
      )
      .option("--wait", "wait until every alive device of the group reports the revision")
      .addOption(
        new Option("--wait-timeout <duration>", "longest wait for canaries and devices (90s, 10m)")
          .argParser(durationArg).default(300, "5m"),
      )
      .addHelpText(
        "after",
        `
The file is validated here first (exit 2 with every problem), with this
environment and EDGEVISOR_NODE=node unless set; each device validates it again
with its own. With --canary n, the first n alive devices following the group
get it through their node keys; once each reports "applied" (its changed
services stayed healthy for its --rollback-window) it goes to the group. A
canary that rejects it, rolls it back or does not report within --wait-timeout
stops the rollout (exit 1); the group keeps its revision. --wait: exit 1 unless
every alive device of the group applied it.`,
      ),
  ).action(act(async (command, first) => {
    const file = first as string;
    const o = command.opts() as {
      group: string;
      canary?: number;
      wait?: boolean;
      waitTimeout: number;
      json?: boolean;
    };
    const { text } = await readFile(file, o.json);
    const result = await withConfig(command.opts(), (config) =>
      config.apply({
        group: o.group,
        text,
        canary: o.canary,
        wait: o.wait === true,
        waitTimeoutMs: o.waitTimeout * 1000,
        onProgress: o.json ? undefined : print,
      }));
    if (o.json) printJson(result);
    else {
      if (result.devices.length > 0) print(formatOutcomes(result.devices));
      if (result.pinned.length > 0) {
        print(`following their own node key, not given this revision: ${result.pinned.join(", ")}`);
      }
    }
    if (!result.ok) throw new EdgevisorError(result.error ?? "The rollout failed");
  }));

  ctx.common(
    fleet
      .command("config")
      .description(
        "every device following a fleet group: the revision it runs, the state of the last one, its drift",
      )
      .addOption(groupOption()),
  ).action(act(async (command) => {
    const o = command.opts() as { group?: string; json?: boolean };
    const listing = await withConfig(
      command.opts(),
      (config) => config.devices({ group: o.group }),
    );
    if (o.json) printJson({ ok: true, ...listing });
    else {
      print(formatDeviceConfigs(listing.devices));
      for (const i of listing.ignored) print(`warning: ignored ${i.source}: ${i.reason}`);
    }
  }));

  ctx.common(
    fleet
      .command("diff")
      .description("what publishing a registry file to a fleet group would add, remove and change")
      .argument("<file>", "registry file (JSON, or YAML by extension)")
      .addOption(groupOption().makeOptionMandatory()),
  ).action(act(async (command, first) => {
    const file = first as string;
    const o = command.opts() as { group: string; json?: boolean };
    const { registry } = await readFile(file, o.json);
    const { revision, diff } = await withConfig(
      command.opts(),
      (config) => config.diff(o.group, registry),
    );
    if (o.json) printJson({ ok: true, group: o.group, revision, file, ...diff });
    else print(formatConfigDiff(o.group, revision, file, diff));
  }));

  ctx.common(
    fleet
      .command("rollback")
      .description("publish an earlier revision of a fleet group's configuration again")
      .addOption(groupOption().makeOptionMandatory())
      .addOption(
        new Option(
          "--to <revision>",
          "this revision of the key's history (default: the one before the latest)",
        )
          .argParser(countArg(1)),
      ),
  ).action(act(async (command) => {
    const o = command.opts() as { group: string; to?: number; json?: boolean };
    const result = await withConfig(command.opts(), (config) => config.rollback(o.group, o.to));
    if (o.json) printJson({ ok: true, group: o.group, ...result });
    else {
      print(
        `group ${o.group}: revision ${result.revision} restores revision ${result.restored} (replacing ${result.replaced})`,
      );
    }
  }));
}

/** The table of `fleet apply --wait`: each device and what became of the revision there. */
export function formatOutcomes(outcomes: DeviceOutcome[]): string {
  return formatTable([
    ["NODE", "OUTCOME"],
    ...outcomes.map((o) => [o.node, describeOutcome(o)]),
  ]);
}

/** The table of `fleet config`. */
export function formatDeviceConfigs(devices: DeviceConfig[]): string {
  if (devices.length === 0) return "no device follows a fleet group";
  const revision = (r: { revision: number | null; source: string }) =>
    r.revision === null ? r.source : `${r.revision} (${r.source})`;
  return formatTable([
    ["NODE", "STATE", "GROUP", "RUNS", "LAST", "DRIFT", "DETAIL"],
    ...devices.map((d) => {
      const c = d.config;
      const detail = c.reason ?? c.problems?.map(problemLine).join("; ") ??
        (c.until ? `watching until ${c.until}` : "");
      return [
        d.node,
        d.state,
        c.group,
        revision(c.running),
        c.revision === null ? c.state : `${c.state} ${c.revision}`,
        d.drift ? `behind (${d.follows.key} is ${d.follows.revision})` : "no",
        detail,
      ];
    }),
  ]);
}

/** The lines of `fleet diff`. */
export function formatConfigDiff(
  group: string,
  revision: number | null,
  file: string,
  diff: RegistryDiff,
): string {
  const names = (list: string[]) => list.length ? list.join(", ") : "none";
  return [
    `group ${group} (${
      revision === null ? "no configuration yet" : `revision ${revision}`
    }) -> ${file}`,
    `  added: ${names(diff.added)}`,
    `  removed: ${names(diff.removed)}`,
    `  changed: ${names(diff.changed)}`,
    `  untouched: ${diff.untouched.length}`,
  ].join("\n");
}

/** A repeatable option's parser: each value parsed, then added to the list. */
function collect(parse: (value: string) => string) {
  return (value: string, previous: string[]) => [...previous, parse(value)];
}

/** Warning lines of a listing: what was ignored, what was left out. */
export function listingWarnings(listing: FleetListing): string[] {
  const lines = listing.ignored.map((i) => `warning: ignored ${i.source}: ${i.reason}`);
  if (listing.forgotten > 0) {
    lines.push(`${listing.forgotten} node(s) silent for longer than --forget-after not shown`);
  }
  return lines;
}

/** One line per event: `<at> <node>/<service>: <from> -> <to> (<reason>)`. */
export function formatEvent(event: EventMessage): string {
  const e = event as EventMessage & Record<string, unknown>;
  if (e.type === "state") {
    return `${e.at} ${e.node}/${e.service}: ${e.from} -> ${e.to}${
      e.reason ? ` (${e.reason})` : ""
    }`;
  }
  const { schema: _schema, node, service, at, type, ...rest } = e;
  return `${at} ${node}/${service}: ${type} ${JSON.stringify(rest)}`;
}

/** The table of `fleet ls`. */
export function formatNodes(nodes: FleetNode[]): string {
  if (nodes.length === 0) return "no nodes";
  return formatTable([
    ["NODE", "STATE", "HEARTBEAT", "VERSION", "UPTIME", "SERVICES"],
    ...nodes.map((n) => [
      n.node,
      n.state,
      `${formatDuration(n.heartbeat_age)} ago`,
      n.heartbeat.version,
      formatDuration(n.heartbeat.uptime),
      formatCounts(n.heartbeat.services),
    ]),
  ]);
}

/** `3 running, 1 backoff (of 4)`. */
export function formatCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([state, n]) => state !== "total" && n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `${parts.join(", ") || "none"} (of ${counts.total ?? 0})`;
}

/** The tables of `fleet ls --services`: one per node. */
export function formatFleetServices(nodes: FleetNode[], color: boolean): string {
  if (nodes.length === 0) return "no nodes";
  return nodes.map((n) =>
    `${n.node} (${n.state}):\n${
      formatServices((n.services ?? []) as ServiceStatus[], { color }).replace(/^/gm, "  ")
    }`
  ).join("\n\n");
}
