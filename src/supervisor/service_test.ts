/**
 * `Service` carrying out the lifecycle through faked processes and a faked
 * clock: no process is spawned and no real time passes, so every timer
 * (start_grace, backoff, stop_timeout) is checked to the millisecond.
 */
import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { EventBus } from "../events.ts";
import { parseRegistry } from "../registry/load.ts";
import type { StateEvent, SupervisorEvent } from "../types.ts";
import type { RunScope } from "./containment.ts";
import { PidStore } from "./pid_store.ts";
import { Service, type ServiceContainment, type ServiceProcess, type Spawn } from "./service.ts";

const realTimeout = globalThis.setTimeout;

/** A process that ends when told to (or on a signal it does not ignore). */
class FakeProcess implements ServiceProcess {
  static #nextPid = 4_000_001;
  readonly pid = FakeProcess.#nextPid++;
  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly status: Promise<Deno.CommandStatus>;
  readonly signals: string[] = [];
  ignoresTerm = false;
  #controllers: ReadableByteStreamController[] = [];
  #resolve!: (status: Deno.CommandStatus) => void;
  #ended = false;

  constructor(readonly cmd: string, readonly options: Deno.CommandOptions) {
    const stream = (): ReadableStream<Uint8Array> =>
      new ReadableStream({
        type: "bytes",
        start: (controller: ReadableByteStreamController) =>
          void this.#controllers.push(controller),
      });
    this.stdout = stream();
    this.stderr = stream();
    this.status = new Promise((resolve) => (this.#resolve = resolve));
  }

  exit(code: number | null, signal: Deno.Signal | null = null): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const controller of this.#controllers) {
      controller.close();
      controller.byobRequest?.respond(0); // a read waiting for bytes ends
    }
    this.#resolve({ success: code === 0, code: code ?? 128, signal });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** What the fake scope sends it. */
  receive(signal: Deno.Signal): void {
    this.signals.push(signal);
    if (signal === "SIGKILL" || !this.ignoresTerm) this.exit(null, signal);
  }
}

/** The processes spawned so far, and the containment over them. */
function fakes() {
  const spawned: FakeProcess[] = [];
  const spawn: Spawn = (cmd, options) => {
    const process = new FakeProcess(cmd, options);
    spawned.push(process);
    return process;
  };
  const byPid = (pid: number) => spawned.find((p) => p.pid === pid)!;
  const containment: ServiceContainment = {
    wrap: (_name, launch) => launch,
    begin(_name, pid): RunScope {
      const process = byPid(pid);
      return {
        pid,
        cgroup: undefined,
        pipes: [],
        escapees: [],
        startTime: 1,
        spawnedBy: 0,
        signal: (signal) => process.receive(signal),
        exited() {},
        alive: () => !process.ended,
        kill: () => process.receive("SIGKILL"),
        waitGone: () => Promise.resolve(true),
        endPipeHolders: () => Promise.resolve(0),
        end() {},
      };
    },
    release: () => Promise.resolve(),
  };
  return { spawned, spawn, containment };
}

Deno.test("Service carries out the lifecycle through a faked process and clock: grace, backoff, stop, stop_timeout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_service_" });
  const clock = FakeTimers.withGlobal(globalThis).install({
    now: Date.UTC(2026, 0, 1),
    toFake: ["setTimeout", "clearTimeout", "Date"],
  });
  const { spawned, spawn, containment } = fakes();
  const events = new EventBus<SupervisorEvent>();
  const states: StateEvent[] = [];
  events.subscribe((e) => e.type === "state" && states.push(e));
  const lines: string[] = [];
  const registry = parseRegistry(
    JSON.stringify({
      services: [{
        name: "web",
        cmd: "/bin/true",
        args: ["--port", "80"],
        start_grace: 2,
        stop_timeout: 5,
        restart_policy: "always",
        backoff: { initial: 1, factor: 2, max: 10 },
        log: { timestamps: false },
      }],
    }),
    { env: {} },
  );
  const service = new Service(registry.services[0]!, {
    logDir: `${dir}/logs`,
    events,
    pids: new PidStore(`${dir}/state`),
    containment,
    log: (line) => lines.push(line),
    random: () => 0.5,
    spawn,
  });
  /** Let the exit handling (promises, and the log files' real I/O) run, with no fake time passing. */
  const settle = async (what: () => boolean, message: string) => {
    for (let i = 0; i < 500 && !what(); i++) {
      await clock.tickAsync(0);
      await new Promise((resolve) => realTimeout(resolve, 1));
    }
    assert.ok(what(), message);
  };
  try {
    await Deno.mkdir(`${dir}/state`, { recursive: true });
    await service.start();
    assert.equal(spawned.length, 1);
    assert.deepEqual(spawned[0]!.options.args?.slice(-2), ["--port", "80"]);
    assert.equal(service.state, "starting");
    assert.equal(service.pid, spawned[0]!.pid);
    await clock.tickAsync(1999);
    assert.equal(service.state, "starting", "start_grace is 2 s");
    await clock.tickAsync(1);
    assert.equal(service.state, "running");

    // A crash: backoff of 1 s (jitter 0 at random 0.5), then a new process.
    spawned[0]!.exit(1);
    await settle(() => service.state === "backoff", "backoff after the crash");
    const crashedAt = Date.now();
    const status = service.status();
    assert.equal(status.crash_count, 1);
    assert.equal(status.next_restart_at, new Date(crashedAt + 1000).toISOString());
    assert.deepEqual(status.last_exit, {
      code: 1,
      signal: null,
      at: new Date(crashedAt).toISOString(),
    });
    await clock.tickAsync(999);
    assert.equal(spawned.length, 1, "no spawn before the backoff ends");
    await clock.tickAsync(1);
    await settle(() => spawned.length === 2, "spawned again after 1 s");
    assert.equal(service.state, "starting");
    assert.equal(service.status().restarts, 1);

    // A stop: the stop signal; the process ends on it.
    await service.stop();
    assert.deepEqual(spawned[1]!.signals, ["SIGTERM"]);
    assert.equal(service.state, "stopped");
    assert.equal(service.status().reason, "stopped by request (killed by SIGTERM)");
    assert.equal(service.held, true);

    // A process that ignores SIGTERM gets SIGKILL after stop_timeout, not before.
    await service.start();
    const stubborn = spawned[2]!;
    stubborn.ignoresTerm = true;
    const stopped = service.stop();
    await clock.tickAsync(4999);
    assert.deepEqual(stubborn.signals, ["SIGTERM"]);
    assert.equal(service.state, "stopping");
    await clock.tickAsync(1);
    await stopped;
    assert.deepEqual(stubborn.signals, ["SIGTERM", "SIGKILL"]);
    assert.equal(service.state, "stopped");
    assert.ok(lines.some((l) => /still running after stop_timeout 5s; sending SIGKILL/.test(l)));

    assert.deepEqual(states.map((e) => `${e.from}>${e.to}`), [
      "stopped>starting",
      "starting>running",
      "running>backoff",
      "backoff>starting",
      "starting>stopping",
      "stopping>stopped",
      "stopped>starting",
      "starting>stopping",
      "stopping>stopped",
    ]);
    assert.equal(states[2]!.exit?.code, 1);
    assert.equal(states[2]!.next_restart_at, new Date(crashedAt + 1000).toISOString());
  } finally {
    await service.close();
    clock.uninstall();
    await Deno.remove(dir, { recursive: true });
  }
});
