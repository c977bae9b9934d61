/**
 * `edgevisor run`: load the registry, listen, supervise until a signal.
 *
 * @module
 */
import { createApp } from "./api/app.ts";
import { parseListenAddress } from "./api/listen.ts";
import { isLoopback, MAX_BODY_BYTES, planAccess } from "./api/auth.ts";
import { type HttpServer, serveHttp } from "./api/http_server.ts";
import { RegistryError } from "./errors.ts";
import { loadRegistry, warningLines } from "./registry/load.ts";
import { procReadable } from "./supervisor/process.ts";
import { Supervisor } from "./supervisor/supervisor.ts";
import { reloadOnSignal } from "./supervisor/reload.ts";
import { systemdReadiness } from "./systemd/readiness.ts";
import { lockStateDirectory, type StateLock } from "./state_lock.ts";
import { VERSION } from "./version.ts";
import { trimMemory } from "./memory_trim.ts";
import { provideRequire } from "./node_require.ts";
import type { NatsPublisherOptions } from "./nats/publisher.ts";
import type { FleetFollowOptions } from "./nats/fleet_config.ts";

/** Options of `edgevisor run`. */
export interface RunOptions {
  /** Registry file (JSON, or YAML by extension). */
  registry: string;
  /** `HOST:PORT` the API listens on. @default "127.0.0.1:8080" */
  listen: string;
  /** Directory of the service log files. */
  logDir: string;
  /** Directory where pids of children are remembered across orchestrator restarts. */
  stateDir: string;
  /** Where the orchestrator's own log lines go. @default stderr */
  log?: (line: string) => void;
  /** Publish on NATS (and serve control when `nats.control`); off when undefined. */
  nats?: NatsPublisherOptions;
  /**
   * Follow a fleet group's configuration over NATS (needs `nats`; see
   * docs/fleet.md): local registry changes then answer 409. Registries
   * expand `${EDGEVISOR_NODE}` to `nats.node`. Off when undefined.
   */
  fleet?: FleetFollowOptions;
  /** API token: mutating HTTP requests (and reads off loopback) must carry it as `Authorization: Bearer <token>`. It never travels over NATS. */
  token?: string;
  /** Let anyone read (list, status, logs, events, metrics) on a non-loopback address. @default false */
  publicRead?: boolean;
  /** Listen on a non-loopback address even without a token (logs a warning). @default false */
  insecure?: boolean;
  /** Give start-up memory back to the kernel once every service was started (see `memory_trim.ts`). @default true */
  trimMemory?: boolean;
  /**
   * Put each service in a cgroup v2 of its own when the system allows it
   * (`false` with `--no-cgroup`: process groups, sessions, output pipes and a
   * child subreaper instead; see `supervisor/containment.ts`). @default true
   */
  cgroup?: boolean;
  /**
   * Most connections the API keeps open at once (`--max-connections`); one more answers 503. Never
   * more than a quarter of the open-file limit, which stays for the services' pipes and logs.
   * @default a quarter of the soft open-file limit
   */
  maxConnections?: number;
  /** Origins (`scheme://host[:port]`) whose pages may call the API from a browser (`--allow-origin`). @default [] */
  allowOrigins?: string[];
  /** Host names a loopback listener answers besides loopback ones (`--allow-host`). @default [] */
  allowHosts?: string[];
}

/** A SIGINT or SIGTERM this soon after the previous one of its kind is the same request, delivered twice. */
const DUPLICATE_SIGNAL_MS = 250;

/** How long after the start of every service the start-up memory is given back. */
const TRIM_DELAY_MS = 2_000;

/** Exit codes of `edgevisor run`. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A line on stderr; with a timestamp unless journald adds its own. */
function stderrLog(line: string): void {
  const stamp = Deno.env.get("JOURNAL_STREAM") ? "" : `${new Date().toISOString()} `;
  console.error(`${stamp}edgevisor: ${line}`);
}

/**
 * Run the orchestrator until SIGTERM or SIGINT; resolves to the exit code:
 * 0 after a clean stop, 1 on a runtime failure (port taken, state directory
 * in use), 2 for an invalid registry or bad options. Nothing is started
 * unless the registry is valid and the API listens.
 */
export async function runOrchestrator(options: RunOptions): Promise<number> {
  const log = options.log ?? stderrLog;
  // Lets registries run demo services with the Deno that runs edgevisor.
  if (!Deno.env.get("DENO_EXEC_PATH")) Deno.env.set("DENO_EXEC_PATH", Deno.execPath());

  if (!procReadable()) {
    log(
      'error: edgevisor needs "/proc" (process groups, pids, start times) and Deno grants it only with --allow-all; run it as "deno run --allow-all" or a binary compiled with --allow-all',
    );
    return EXIT.failure;
  }
  let address;
  try {
    address = parseListenAddress(options.listen);
  } catch (err) {
    log(`error: invalid --listen ${JSON.stringify(options.listen)}: ${(err as Error).message}`);
    return EXIT.usage;
  }
  const access = planAccess({ hostname: address.hostname, ...options });
  if (!access.ok) {
    log(`error: ${access.error}`);
    return EXIT.usage;
  }
  if (access.warning) log(access.warning);
  if (options.nats?.node) Deno.env.set("EDGEVISOR_NODE", options.nats.node);
  let registry;
  try {
    registry = await loadRegistry(options.registry);
  } catch (err) {
    if (err instanceof RegistryError) {
      log(`error: ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
  for (const line of warningLines(registry)) log(line);
  // The NATS client is loaded only when NATS is used.
  const natsModule = options.nats
    ? await provideRequire().then(() => import("./nats/publisher.ts"))
    : undefined;
  const natsCheck = options.nats && natsModule?.checkNatsOptions(options.nats, options.insecure);
  if (natsCheck?.error) {
    log(`error: ${natsCheck.error}`);
    return EXIT.usage;
  }
  if (natsCheck?.warning) log(natsCheck.warning);
  if (options.fleet && !options.nats) {
    log("error: --fleet-group needs NATS (--nats or EDGEVISOR_NATS)");
    return EXIT.usage;
  }

  try {
    await Deno.mkdir(options.logDir, { recursive: true });
    await Deno.mkdir(options.stateDir, { recursive: true });
  } catch (err) {
    log(`error: cannot create directories: ${(err as Error).message}`);
    return EXIT.failure;
  }
  let lock: StateLock;
  try {
    lock = lockStateDirectory(options.stateDir);
  } catch (err) {
    log(`error: ${(err as Error).message}`);
    return EXIT.failure;
  }

  // A device of a fleet group boots with the configuration it applied last.
  const fleet = options.fleet && options.nats && await import("./nats/fleet_config.ts");
  const follower = fleet && await fleet.ConfigFollower.open({
    ...options.fleet!,
    node: options.nats!.node,
    prefix: options.nats!.prefix,
    stateDir: options.stateDir,
    shipped: registry,
    log,
  });
  if (follower) registry = follower.registry;

  let endedEverything = false;
  const supervisor = new Supervisor(registry, {
    logDir: options.logDir,
    stateDir: options.stateDir,
    log,
    cgroup: options.cgroup !== false,
    subreaper: true,
    onShutdownEverything: (service, reason) => {
      endedEverything = true;
      log(
        `service "${service}" ended (${reason}); on_exit "shutdown_everything": stopping everything`,
      );
      requestStop();
    },
  });
  const control = follower ? follower.guard(supervisor) : supervisor; // managed: no local edits
  const nats = options.nats && natsModule &&
    new natsModule.NatsPublisher({
      control: supervisor,
      events: supervisor.events,
      config: follower,
    }, {
      log,
      ...options.nats,
    });
  const closing = new AbortController(); // ends the event streams, so that the server can shut down
  const app = createApp(control, {
    log,
    live: { signal: closing.signal },
    auth: access.auth,
    guard: {
      loopback: isLoopback(address.hostname),
      allowOrigins: options.allowOrigins,
      allowHosts: options.allowHosts,
    },
  });
  let server: HttpServer;
  try {
    server = serveHttp({
      hostname: address.hostname,
      port: address.port,
      handler: app.fetch,
      maxConnections: options.maxConnections,
      maxBodyBytes: MAX_BODY_BYTES,
      log,
    });
  } catch (err) {
    const why = err instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : (err as Error).message;
    log(`error: cannot listen on ${options.listen}: ${why}`);
    lock.release();
    return EXIT.failure;
  }
  log(
    `edgevisor ${VERSION} (pid ${Deno.pid}): ${registry.services.length} services from ${registry.source}; API on http://${options.listen}`,
  );

  let signals = 0;
  const lastSignalMs = new Map<Deno.Signal, number>();
  const { promise: stopRequested, resolve: requestStop } = Promise.withResolvers<void>();
  const onStopSignal = (signal: Deno.Signal) => () => {
    // One Ctrl-C (or a `kill` of the whole group) reaches every process of the group, and
    // `deno task` forwards it too: the same signal within DUPLICATE_SIGNAL_MS is one request.
    const now = performance.now();
    const duplicate = now - (lastSignalMs.get(signal) ?? -Infinity) < DUPLICATE_SIGNAL_MS;
    lastSignalMs.set(signal, now);
    if (duplicate) return;
    signals++;
    if (signals === 1) {
      log(`${signal}: stopping every service`);
      requestStop();
    } else {
      log(`${signal} again: killing every service now`);
      supervisor.kill();
    }
  };
  const onHangup = () => void reloadOnSignal(control, log);
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStopSignal("SIGTERM")],
    ["SIGINT", onStopSignal("SIGINT")],
    ["SIGHUP", onHangup],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);

  const systemd = systemdReadiness(supervisor, log);
  try {
    nats?.start();
    await supervisor.boot();
    follower?.start(supervisor, options.nats!);
    await systemd.ready();
    if (options.trimMemory !== false) trimAfterStart(closing.signal, log);
    await stopRequested;
    await systemd.stopping();
    await follower?.close();
    await supervisor.shutdown();
    await nats?.close();
    closing.abort();
    await server.shutdown();
  } finally {
    systemd.close();
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    lock.release();
  }
  log("stopped");
  return signals > 1 || endedEverything ? EXIT.failure : EXIT.ok;
}

/** Give the start-up memory back to the kernel in a moment, unless `signal` aborts first. */
function trimAfterStart(signal: AbortSignal, log: (line: string) => void): void {
  const timer = setTimeout(() => {
    const result = trimMemory();
    if (result) {
      log(
        `gave start-up memory back to the kernel: ${
          (result.executableBytes / 1_048_576).toFixed(1)
        } MiB of executable pages${result.heapReleased ? ", and free heap" : ""}`,
      );
    }
  }, TRIM_DELAY_MS);
  Deno.unrefTimer(timer);
  signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
}
