/**
 * How the page words the events of a service's history
 * (`GET /api/services/history/{name}`). Pure: the timeline and the charts
 * that draw the history are in `history_view.ts`.
 *
 * @module
 */
import { describeExit } from "../supervisor/policy.ts";
import type { HistoryEvent, ServiceState } from "../types.ts";

/** How an event reads: `bad` (a crash, a failure), `warn`, `ok` or `idle`. */
export type Tone = "bad" | "warn" | "ok" | "idle";

/** An event in words: a short label, a sentence, and a tone. */
export interface EventWording {
  /** `state`, `exit`, `health` or `action`. */
  label: string;
  /** What happened. */
  text: string;
  /** How it reads. */
  tone: Tone;
}

const STATE_TONE: Record<ServiceState, Tone> = {
  failed: "bad",
  cooldown: "bad",
  backoff: "warn",
  starting: "warn",
  stopping: "warn",
  running: "ok",
  exited: "idle",
  stopped: "idle",
};

const pidText = (pid: number | null) => pid === null ? "" : ` (pid ${pid})`;

/**
 * An event of the history in words.
 *
 * @example
 * ```ts
 * describeEvent({ at: "…", type: "exit", pid: 12, code: 1, signal: null });
 * // { label: "exit", text: "exited with code 1 (pid 12)", tone: "bad" }
 * ```
 */
export function describeEvent(event: HistoryEvent): EventWording {
  switch (event.type) {
    case "state":
      return {
        label: "state",
        text: `${event.from} → ${event.to}${pidText(event.pid)}${
          event.reason ? `: ${event.reason}` : ""
        }`,
        tone: STATE_TONE[event.to] ?? "idle",
      };
    case "exit":
      return {
        label: "exit",
        text: describeExit({ code: event.code, signal: event.signal }) + pidText(event.pid),
        tone: event.code === 0 ? "idle" : "bad",
      };
    case "health":
      return {
        label: "health",
        text: `${event.role} ${event.from} → ${event.to}${
          event.message ? `: ${event.message}` : ""
        }`,
        tone: event.to === "unhealthy" ? "bad" : event.to === "healthy" ? "ok" : "idle",
      };
    case "action":
      return { label: "action", text: `${event.action} requested`, tone: "idle" };
    default: {
      const other = event as { type?: unknown };
      return { label: String(other.type), text: "", tone: "idle" };
    }
  }
}
