/**
 * `edgevisor run`: load the registry, listen, supervise until a signal.
 *
 * @module
 */
import { createApp } from "./api/app.ts";
import { parseListenAddress } from "./api/listen.ts";
import { planAccess } from "./api/auth.ts";
import { RegistryError } from "./errors.ts";
import { loadRegistry } from "./registry/load.ts";
import { procReadable, readProcStat } from "./supervisor/process.ts";
import { Supervisor } from "./supervisor/supervisor.ts";
import { reloadOnSignal } from "./supervisor/reload.ts";
import { systemdReadiness } from "./systemd/readiness.ts";
import { VERSION } from "./version.ts";
import { trimMemory } from "./memory_trim.ts";
import { provideRequire } from "./node_require.ts";
import type { NatsPublisherOptions } from "./nats/publisher.ts";

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
  /** API token: mutating HTTP requests and NATS control requests must carry it as `Authorization: Bearer <token>`. */
  token?: string;
  /** Let anyone read (list, status, logs, events, metrics) on a non-loopback address. @default false */
  publicRead?: boolean;
  /** Listen on a non-loopback address even without a token (logs a warning). @default false */
  insecure?: boolean;
  /** Give start-up memory back to the kernel once every service was started (see `memory_trim.ts`). @default true */
  trimMemory?: boolean;
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
  // The NATS client is loaded only when NATS is used.
  const natsModule = options.nats
    ? await provideRequire().then(() => import("./nats/publisher.ts"))
    : undefined;
  const natsProblem = options.nats && natsModule?.natsOptionsProblem(options.nats);
  if (natsProblem) {
    log(`error: ${natsProblem}`);
    return EXIT.usage;
  }

  try {
    await Deno.mkdir(options.logDir, { recursive: true });
    await Deno.mkdir(options.stateDir, { recursive: true });
  } catch (err) {
    log(`error: cannot create directories: ${(err as Error).message}`);
    return EXIT.failure;
  }
  const lock = takeLock(options.stateDir);
  if (typeof lock === "string") {
    log(`error: ${lock}`);
    return EXIT.failure;
  }

  let endedEverything = false;
  const supervisor = new Supervisor(registry, {
    logDir: options.logDir,
    stateDir: options.stateDir,
    log,
    onShutdownEverything: (service, reason) => {
      endedEverything = true;
      log(
        `service "${service}" ended (${reason}); on_exit "shutdown_everything": stopping everything`,
      );
      requestStop();
    },
  });
  const nats = options.nats && natsModule &&
    new natsModule.NatsPublisher({ control: supervisor, events: supervisor.events }, {
      log,
      apiToken: options.token,
      ...options.nats,
    });
  const closing = new AbortController(); // ends the event streams, so that the server can shut down
  const app = createApp(supervisor, { log, live: { signal: closing.signal }, auth: access.auth });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      onListen: () => {},
    }, app.fetch);
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
  const onHangup = () => void reloadOnSignal(supervisor, log);
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
    await systemd.ready();
    if (options.trimMemory !== false) trimAfterStart(closing.signal, log);
    await stopRequested;
    await systemd.stopping();
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

/**
 * Make sure no other live orchestrator uses `stateDir`: two would each start
 * a copy of every service. Returns a release function or the reason.
 */
function takeLock(stateDir: string): { release(): void } | string {
  const path = `${stateDir}/edgevisor.lock.json`;
  try {
    const held = JSON.parse(Deno.readTextFileSync(path)) as { pid: number; start_time: number };
    const stat = readProcStat(held.pid);
    if (held.pid !== Deno.pid && stat && stat.startTime === held.start_time && stat.state !== "Z") {
      return `another edgevisor (pid ${held.pid}) uses the state directory "${stateDir}"`;
    }
  } catch {
    // no lock, or an unreadable one: take it
  }
  const own = readProcStat(Deno.pid);
  try {
    Deno.writeTextFileSync(
      path,
      JSON.stringify({ pid: Deno.pid, start_time: own?.startTime ?? 0 }) + "\n",
    );
  } catch (err) {
    return `cannot write "${path}": ${(err as Error).message}`;
  }
  return {
    release() {
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    },
  };
}
