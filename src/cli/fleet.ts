/**
 * NATS on the command line: the options of `edgevisor run` that publish an
 * orchestrator on NATS, and the `edgevisor fleet` commands (`ls`, `status`,
 * `start`, `stop`, `restart`, `watch`) that need only a NATS server.
 *
 * @module
 */
import { provideRequire } from "../node_require.ts";
import { usage } from "./usage.ts";
import { type Command, Option } from "commander";
import { parseServiceName } from "../api/params.ts";
import { readTokenFile } from "../api/auth.ts";
import type { NatsConnectOptions } from "../nats/connection.ts";
import { DEFAULT_NATS_URL, parseServers } from "../nats/servers.ts";
import type { EventMessage, NatsPublisherOptions } from "../nats/publisher.ts";
import type { FleetClient, FleetNode } from "../nats/fleet.ts";
import { DEFAULT_PREFIX, subjectToken } from "../nats/subjects.ts";
import type { ServiceStatus } from "../types.ts";
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
                      changes over HTTP and NATS (and for reads off loopback); the client
                      and fleet commands send it`;

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
    new Option("--nats-control", "answer control requests over NATS"),
    new Option("--heartbeat-interval <seconds>", "seconds between NATS heartbeats")
      .argParser(secondsArg).default(5),
    new Option("--snapshot-interval <seconds>", "seconds between NATS snapshots of every service")
      .argParser(secondsArg).default(60),
    new Option("--nats-outbox <n>", "messages kept while NATS is unreachable")
      .argParser(countArg(1)).default(10_000),
  ];
  for (const option of options) run.addOption(option);
}

/**
 * The `nats` and `token` fields of `RunOptions` from the parsed options of
 * `run` (and the environment); no `nats` when no URL is given.
 */
export function natsRunOptions(
  flags: Record<string, unknown>,
  ctx: FleetContext,
): { nats?: NatsPublisherOptions; token?: string } {
  const f = flags as ConnectionFlags & {
    node?: string;
    natsControl?: boolean;
    heartbeatInterval?: number;
    snapshotInterval?: number;
    natsOutbox?: number;
  };
  const url = f.nats ?? ctx.env("EDGEVISOR_NATS");
  const token = ctx.env("EDGEVISOR_TOKEN");
  const result: { nats?: NatsPublisherOptions; token?: string } = {};
  if (token !== undefined) result.token = token;
  if (url === undefined) return result;
  if (f.natsCreds !== undefined) {
    try {
      Deno.statSync(f.natsCreds);
    } catch (err) {
      throw new Error(
        `Cannot read --nats-creds ${JSON.stringify(f.natsCreds)}: ${(err as Error).message}`,
      );
    }
  }
  const node = f.node ?? ctx.env("EDGEVISOR_NODE");
  if (node !== undefined) subjectToken(node, "node");
  result.nats = {
    ...connectOptions(f, url),
    prefix: f.natsPrefix ?? DEFAULT_PREFIX,
    control: f.natsControl === true,
    heartbeatIntervalMs: (f.heartbeatInterval ?? 5) * 1000,
    snapshotIntervalMs: (f.snapshotInterval ?? 60) * 1000,
    outboxSize: f.natsOutbox ?? 10_000,
  };
  if (node !== undefined) result.nats.node = node;
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
  const printJson = (body: unknown) => ctx.stdout(JSON.stringify(body, null, 2) + "\n");
  const fleet = program
    .command("fleet")
    .description("watch and drive every orchestrator publishing on a NATS server")
    .addHelpText(
      "after",
      `
Nodes are alive, stale (2 heartbeats missed) or expired (3 missed). Control
requests need the nodes to run with --nats-control; --token, --token-file or
EDGEVISOR_TOKEN is sent as "Authorization: Bearer <token>".`,
    );

  const common = (command: AnyCommand) => {
    for (const option of connectionOptionList(ctx, ctx.env("EDGEVISOR_NATS") ?? DEFAULT_NATS_URL)) {
      command.addOption(option);
    }
    command.addOption(new Option("--token <token>", "API token for control requests"));
    command.addOption(new Option("--token-file <file>", "file holding the API token"));
    command.addOption(
      new Option("--timeout <seconds>", "give up on a connection or request after this long")
        .argParser(secondsArg).default(5),
    );
    command.addOption(new Option("--json", "print JSON"));
    return command;
  };
  const withClient = async <T>(
    flags: Record<string, unknown>,
    use: (client: FleetClient) => Promise<T>,
  ): Promise<T> => {
    const f = flags as ConnectionFlags & { token?: string; tokenFile?: string; timeout?: number };
    await provideRequire();
    const { FleetClient } = await import("../nats/fleet.ts"); // the NATS client, only when used
    const client = await FleetClient.connect({
      ...connectOptions(f, f.nats ?? DEFAULT_NATS_URL),
      prefix: f.natsPrefix ?? DEFAULT_PREFIX,
      apiToken: f.token ??
        (f.tokenFile !== undefined ? readTokenFile(f.tokenFile) : ctx.env("EDGEVISOR_TOKEN")),
      timeoutMs: (f.timeout ?? 5) * 1000,
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
      .description("every node with its last heartbeat and counts by state")
      .option("--services", "every service on every node instead")
      .addOption(
        new Option("--stale-after <n>", "missed heartbeats before a node is stale")
          .argParser(countArg(1)).default(2),
      )
      .addOption(
        new Option("--expire-after <n>", "missed heartbeats before a node is expired")
          .argParser(countArg(1)).default(3),
      ),
  ).action(act(async (command) => {
    const o = command.opts() as {
      services?: boolean;
      staleAfter: number;
      expireAfter: number;
      json?: boolean;
    };
    const nodes = await withClient(command.opts(), (client) =>
      client.nodes({
        services: o.services === true,
        staleAfter: o.staleAfter,
        expireAfter: o.expireAfter,
      }));
    if (o.json) printJson({ ok: true, nodes });
    else if (o.services) print(formatFleetServices(nodes, ctx.color));
    else print(formatNodes(nodes));
  }));

  common(
    fleet
      .command("status")
      .description("the latest status of one service")
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
      .description("print lifecycle events of every node as they happen")
      .addOption(new Option("--node <name>", "only this node").argParser(tokenArg("node")))
      .addOption(
        new Option("--service <name>", "only this service").argParser(usage(parseServiceName)),
      )
      .addOption(new Option("--count <n>", "exit after n events").argParser(countArg(1))),
  ).action(act(async (command) => {
    const o = command.opts() as {
      node?: string;
      service?: string;
      count?: number;
      json?: boolean;
    };
    await withClient(command.opts(), async (client) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      let seen = 0;
      const sub = client.watch({ node: o.node, service: o.service }, (event) => {
        // Events delivered in the same batch after the last one wanted are dropped.
        if (o.count !== undefined && seen >= o.count) return;
        print(o.json ? JSON.stringify(event) : formatEvent(event));
        seen++;
        if (o.count !== undefined && seen >= o.count) resolve();
      });
      await client.connection.flush();
      if (o.count !== undefined) await promise;
      else await client.connection.closed();
      sub.unsubscribe();
    });
  }));
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
