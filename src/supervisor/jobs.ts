/**
 * One-shot jobs: the history of runs with the tail of each run's output, and
 * the schedule (`{"every": seconds}` or cron) that starts runs, never two at
 * once.
 *
 * @module
 */
import { type Cron, nextCronTime, parseCron } from "../cron.ts";
import type { LogSink } from "../logs/capture.ts";
import type { ServiceSpec } from "../registry/schema.ts";
import type { JobRun } from "../types.ts";

export type { JobRun } from "../types.ts";

/** Runs kept per job. */
export const RUNS_KEPT = 20;
/** Output lines kept per run. */
export const TAIL_LINES = 20;
/** Longest line kept in a tail. */
const MAX_LINE = 500;

/** Keeps the last lines of a run's output. */
export class OutputTail {
  #lines: string[] = [];
  #partial = "";
  #decoder = new TextDecoder();

  /** Add a chunk of output. */
  feed(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    this.#partial = (parts.pop() ?? "").slice(-MAX_LINE);
    for (const line of parts) this.#push(line);
  }

  /** The last lines, the unfinished one included. */
  lines(): string[] {
    return this.#partial === "" ? [...this.#lines] : [...this.#lines, this.#partial].slice(
      -TAIL_LINES,
    );
  }

  #push(line: string): void {
    this.#lines.push(line.replace(/\r$/, "").slice(0, MAX_LINE));
    if (this.#lines.length > TAIL_LINES) this.#lines.shift();
  }
}

/** The runs of one job, newest first. */
export class JobHistory {
  #runs: JobRun[] = [];
  #current: { run: JobRun; startedMs: number; tail: OutputTail } | undefined;
  #next = 1;

  /** Newest first; a run in progress shows its duration so far. */
  runs(nowMs: number = Date.now()): JobRun[] {
    return this.#runs.map((r) => {
      const current = this.#current;
      if (current?.run !== r) return { ...r, output_tail: [...r.output_tail] };
      return {
        ...r,
        duration_ms: Math.max(0, nowMs - current.startedMs),
        output_tail: current.tail.lines(),
      };
    });
  }

  /** The run in progress, if any. */
  get current(): JobRun | undefined {
    return this.#current?.run;
  }

  /** Whether the last finished run exited with code 0 (undefined before any). */
  get lastSucceeded(): boolean | undefined {
    const last = this.#runs.find((r) => r.ended_at !== null);
    return last === undefined ? undefined : last.exit_code === 0;
  }

  /** A run begins; returns its id. */
  begin(startedMs: number): number {
    const run: JobRun = {
      id: this.#next++,
      started_at: new Date(startedMs).toISOString(),
      ended_at: null,
      exit_code: null,
      signal: null,
      duration_ms: 0,
      output_tail: [],
    };
    this.#current = { run, startedMs, tail: new OutputTail() };
    this.#runs.unshift(run);
    this.#runs.length = Math.min(this.#runs.length, RUNS_KEPT);
    return run.id;
  }

  /** A log sink that records the current run's output, then writes to `sink`. */
  tap(sink: LogSink): LogSink {
    return {
      write: (chunk) => {
        this.#current?.tail.feed(chunk);
        return sink.write(chunk);
      },
    };
  }

  /** The current run ended. */
  end(exit: { code: number | null; signal: string | null }, endedMs: number): void {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    Object.assign(current.run, {
      ended_at: new Date(endedMs).toISOString(),
      exit_code: exit.code,
      signal: exit.signal,
      duration_ms: Math.max(0, endedMs - current.startedMs),
      output_tail: current.tail.lines(),
    });
  }
}

/** When a schedule next fires after `afterMs`, or undefined. */
export type NextTime = (afterMs: number) => number | undefined;

/** The next-time function of a job's `schedule`, or undefined without one. */
export function scheduleOf(spec: Pick<ServiceSpec, "schedule">): NextTime | undefined {
  const schedule = spec.schedule;
  if (schedule === undefined) return undefined;
  if (typeof schedule === "string") {
    const cron: Cron = parseCron(schedule);
    return (afterMs) => nextCronTime(cron, afterMs);
  }
  const everyMs = schedule.every * 1000;
  return (afterMs) => afterMs + everyMs;
}

/** What the scheduler needs from a job. */
export interface ScheduledJob {
  /** Job name. */
  readonly name: string;
  /** Whether a run is in progress. */
  readonly busy: boolean;
  /** Start one run. */
  runScheduled(): void;
  /** Where the next scheduled time is shown (null: none). */
  nextRunAtMs: number | null;
}

/**
 * Fires a job at the times of its schedule. A time that comes while a run is
 * still going is skipped (and logged): runs never overlap.
 */
export class JobScheduler {
  #job: ScheduledJob;
  #next: NextTime;
  #log: (line: string) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Create an idle scheduler. */
  constructor(job: ScheduledJob, next: NextTime, log: (line: string) => void) {
    this.#job = job;
    this.#next = next;
    this.#log = log;
  }

  /** Plan the next run after `fromMs`. */
  start(fromMs: number = Date.now()): void {
    this.stop();
    const at = this.#next(fromMs);
    this.#job.nextRunAtMs = at ?? null;
    if (at === undefined) return;
    // Timers cannot wait longer than 2^31-1 ms: wake up early and plan again.
    const wait = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (Date.now() < at) return this.start(fromMs);
      if (this.#job.busy) {
        this.#log(
          `job "${this.#job.name}": scheduled run skipped, the previous run is still going`,
        );
      } else this.#job.runScheduled();
      this.start(Math.max(at, Date.now()));
    }, wait);
  }

  /** Cancel the planned run. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#job.nextRunAtMs = null;
  }
}
