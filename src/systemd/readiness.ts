/**
 * What `edgevisor run` tells systemd: `READY=1` once the API listens and the
 * `autostart` services are launched, a `STATUS=` line with the counts by
 * state whenever they change, `WATCHDOG=1` every `WatchdogSec`/2, and
 * `STOPPING=1` at shutdown. Does nothing outside systemd (`$NOTIFY_SOCKET`
 * unset).
 *
 * @module
 */
import type { EventBus } from "../events.ts";
import type { OrchestratorInfo, SupervisorEvent } from "../types.ts";
import { Notifier, watchdogIntervalMs } from "./notify.ts";

/** What the readiness reports need from the supervisor. */
export interface ReadinessSource {
  /** Counts by state. */
  info(): OrchestratorInfo;
  /** Transitions, to refresh the status line. */
  events: EventBus<SupervisorEvent>;
}

/** The orchestrator's side of the protocol. */
export interface Readiness {
  /** Send `READY=1` with the status line. */
  ready(): Promise<void>;
  /** Send `STOPPING=1`, and stop status updates. */
  stopping(): Promise<void>;
  /** Stop the watchdog timer and close the socket. */
  close(): void;
}

/** The status line: `3 services: 2 running, 1 backoff`. */
export function statusLine(info: OrchestratorInfo): string {
  const { total, ...states } = info.services;
  const parts = Object.entries(states).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`);
  return `${total} service${total === 1 ? "" : "s"}${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/**
 * Start reporting to `$NOTIFY_SOCKET`: the watchdog pings begin at once
 * (when `$WATCHDOG_USEC` is set). Returns a no-op outside systemd.
 */
export function systemdReadiness(
  source: ReadinessSource,
  log: (line: string) => void,
): Readiness {
  const interval = watchdogIntervalMs({
    WATCHDOG_USEC: Deno.env.get("WATCHDOG_USEC"),
    WATCHDOG_PID: Deno.env.get("WATCHDOG_PID"),
  });
  Deno.env.delete("WATCHDOG_USEC");
  Deno.env.delete("WATCHDOG_PID");
  const notifier = Notifier.fromEnv({ log });
  if (!notifier) return { ready: async () => {}, stopping: async () => {}, close: () => {} };

  const timer = interval === undefined
    ? undefined
    : setInterval(() => void notifier.notify({ WATCHDOG: 1 }), interval);
  let ready = false;
  let last = "";
  let pending: ReturnType<typeof setTimeout> | undefined;
  const sendStatus = () => {
    pending = undefined;
    const line = statusLine(source.info());
    if (line === last) return;
    last = line;
    void notifier.notify({ STATUS: line });
  };
  const unsubscribe = source.events.subscribe(() => {
    if (ready && pending === undefined) pending = setTimeout(sendStatus, 100);
  });
  const stopUpdates = () => {
    unsubscribe();
    if (pending !== undefined) clearTimeout(pending);
    pending = undefined;
  };

  return {
    async ready() {
      ready = true;
      last = statusLine(source.info());
      await notifier.notify({ READY: 1, STATUS: last, MAINPID: Deno.pid });
    },
    async stopping() {
      stopUpdates();
      await notifier.notify({ STOPPING: 1, STATUS: "stopping every service" });
    },
    close() {
      stopUpdates();
      if (timer !== undefined) clearInterval(timer);
      notifier.close();
    },
  };
}
