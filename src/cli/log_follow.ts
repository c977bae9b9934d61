/**
 * `edgevisor logs`: the last lines of a service in time order
 * (`--since` for those after a time), and with `--follow` the lines as
 * they are written, over the API's log stream (Server-Sent Events),
 * reconnecting whenever it drops, until Ctrl-C.
 *
 * Each connection first asks for the lines (and the start and exit markers)
 * since the last one printed, then follows from there: a line printed is
 * not printed again (lines of the same millisecond are told apart by their
 * text), and markers of what happened while the stream was down come with
 * the lines of that time.
 *
 * @module
 */
import { MAX_LOG_LINES } from "../api/params.ts";
import { pathOf } from "../api/paths.ts";
import type { ErrorBody, LogsBody } from "../api/wire.ts";
import { EdgevisorError } from "../errors.ts";
import { lineTimes } from "../logs/times.ts";
import type { LogLines, LogStream, MergedLogEntry } from "../types.ts";
import { type ApiClient, ApiError, authorization } from "./client.ts";
import { formatLogEntry, formatLogs } from "./format.ts";
import { eventStream } from "./sse_reader.ts";

/** Options of {@linkcode runLogs}. */
export interface LogsCommandOptions {
  /** Client of the API (its base URL). */
  client: ApiClient;
  /** API token, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Service name. */
  name: string;
  /** Last lines of each stream. */
  lines: number;
  /** Stream(s). */
  stream: LogStream;
  /** Only lines at or after this time: ISO 8601, or a duration before now (`10m`). */
  since?: string;
  /** Go on with the lines as they are written, until `signal` is aborted. */
  follow: boolean;
  /** Print the API's bodies (and, following, one batch of lines a line) as JSON. */
  json: boolean;
  /** Colour the output. @default false */
  color?: boolean;
  /** Standard output. */
  stdout(text: string): void;
  /** Standard error (the reconnection notices). */
  stderr(text: string): void;
  /** Ends a follow. @default SIGINT or SIGTERM */
  signal?: AbortSignal;
  /** Milliseconds before a reconnection, until the server's `retry:` says otherwise. @default 1000 */
  retryMs?: number;
}

/**
 * Run `edgevisor logs` and resolve to its exit code: 0, also when a follow
 * ends with Ctrl-C. Throws what the API answers at the first request, and
 * while following, an answer that retrying cannot mend (an unknown service,
 * a refused token).
 */
export async function runLogs(options: LogsCommandOptions): Promise<number> {
  const body = await tail(options, options.since);
  if (!options.follow) {
    if (options.json) options.stdout(JSON.stringify(body, null, 2) + "\n");
    else print(options, formatLogs(body, options));
    return 0;
  }
  const stop = new AbortController();
  const signal = options.signal ?? stop.signal;
  const signals = options.signal ? [] : (["SIGINT", "SIGTERM"] as const);
  const abort = () => stop.abort();
  for (const name of signals) Deno.addSignalListener(name, abort);
  try {
    await new LogFollower(options, signal).run(body);
  } finally {
    for (const name of signals) Deno.removeSignalListener(name, abort);
  }
  return 0;
}

/** Write `text` and a newline, unless it is empty. */
function print(options: Pick<LogsCommandOptions, "stdout">, text: string): void {
  if (text !== "") options.stdout(text.endsWith("\n") ? text : text + "\n");
}

/** `GET /api/services/logs/{name}` with `since`, through the client (its timeout and its errors). */
function tail(
  options: Pick<LogsCommandOptions, "client" | "name" | "lines" | "stream">,
  since: string | undefined,
  lines = options.lines,
): Promise<LogsBody> {
  return options.client.logs(options.name, { lines, stream: options.stream, since });
}

/** Milliseconds that live batches wait, so that those of both streams come out in time order. */
const GATHER_MS = 50;

/** Whether retrying may mend `error`: the API unreachable, busy or failing, not a refusal. */
function retryable(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429;
  if (error instanceof EdgevisorError) return error.kind === "unavailable";
  return !(error instanceof Deno.errors.NotCapable);
}

/**
 * What has been printed, so that a line is printed once, per source (each
 * stream, and the markers): the time of its newest entry printed, and what
 * was printed at that millisecond. Per source, because the streams come in
 * batches of their own: a stderr line may arrive after a later stdout line
 * was printed, and is still new.
 */
export class PrintedLog {
  #last = new Map<string, { ms: number; seen: Map<string, number> }>();
  #any = false;

  /**
   * Where a reconnection starts, ISO 8601: the oldest of the streams'
   * newest printed times (what comes again from there is told apart; the
   * markers' when no line was printed), or undefined before any entry with
   * a time.
   */
  get since(): string | undefined {
    let oldest: number | undefined;
    for (const [source, { ms }] of this.#last) {
      if (source !== "marker" && (oldest === undefined || ms < oldest)) oldest = ms;
    }
    // Only markers printed so far: from the newest of them.
    oldest ??= this.#last.get("marker")?.ms;
    return oldest === undefined ? undefined : new Date(oldest).toISOString();
  }

  /** Whether anything was printed. */
  get any(): boolean {
    return this.#any;
  }

  /**
   * The entries of `entries` (each source in time order) that were not
   * printed yet, noted as printed now: per source, those after its newest
   * printed, and at that millisecond those beyond the ones printed there
   * before. An entry without a time is always new.
   */
  fresh<E extends MergedLogEntry>(entries: readonly E[]): E[] {
    // What was printed before this call, at each source's newest millisecond, still to be matched.
    const before = new Map([...this.#last].map(([source, last]) => [source, new Map(last.seen)]));
    return entries.filter((entry) => {
      this.#any = true;
      if (entry.at === null) return true;
      const ms = Date.parse(entry.at);
      const source = "marker" in entry ? "marker" : entry.stream;
      const key = "marker" in entry ? `${entry.marker}\0${entry.text}` : entry.line;
      let last = this.#last.get(source);
      if (last !== undefined && ms < last.ms) return false;
      if (last !== undefined && ms === last.ms) {
        const earlier = before.get(source);
        const count = earlier?.get(key) ?? 0;
        if (count > 0) {
          earlier!.set(key, count - 1);
          return false;
        }
      } else {
        last = { ms, seen: new Map() };
        this.#last.set(source, last);
        before.delete(source);
      }
      last.seen.set(key, (last.seen.get(key) ?? 0) + 1);
      return true;
    });
  }
}

/** Whether `body` holds lines without their times (a log kept without them). */
function untimed(body: LogsBody): boolean {
  if (body.merged === undefined) return (body.stdout?.length ?? 0) + (body.stderr?.length ?? 0) > 0;
  return body.merged.some((entry) => !("marker" in entry) && entry.at === null);
}

/**
 * The lines of `batches` and the `markers` as entries in time order (see
 * `times.ts`), each batch's own order kept; a start marker before the lines
 * of its millisecond, an exit marker after them.
 */
function inTimeOrder(
  batches: readonly LogLines[],
  markers: readonly MergedLogEntry[] = [],
): { entry: MergedLogEntry; batch: number; index: number }[] {
  const all = batches.flatMap((batch, b) => {
    const times = lineTimes(batch.at ?? batch.lines.map(() => null));
    return batch.lines.map((line, i) => ({
      ms: times[i]!,
      rank: 0,
      batch: b,
      index: i,
      entry: { at: batch.at?.[i] ?? null, stream: batch.stream, line } as MergedLogEntry,
    }));
  });
  const marks = markers.map((entry, i) => ({
    ms: entry.at === null ? Infinity : Date.parse(entry.at),
    rank: "marker" in entry && entry.marker === "start" ? -1 : 1,
    batch: batches.length,
    index: i,
    entry,
  }));
  return [...all, ...marks].sort((x, y) => x.ms - y.ms || x.rank - y.rank || x.batch - y.batch);
}

/** A follow on the terminal: connections one after the other, until `signal`. */
class LogFollower {
  readonly #options: LogsCommandOptions;
  readonly #signal: AbortSignal;
  readonly #printed = new PrintedLog();
  #retryMs: number;

  constructor(options: LogsCommandOptions, signal: AbortSignal) {
    this.#options = options;
    this.#signal = signal;
    this.#retryMs = options.retryMs ?? 1000;
  }

  /**
   * Print `first`, follow, and on each drop ask for what was missed and
   * follow again. With times, what was missed is asked by time, whatever
   * its number of lines, and nothing is printed twice. Lines without times
   * cannot be told apart: the first connection prints the stream's last
   * lines (not `first`, which may miss what came between the two), and a
   * reconnection only what is new.
   */
  async run(first: LogsBody): Promise<void> {
    let body: LogsBody | undefined = first;
    let connections = 0;
    while (!this.#signal.aborted) {
      let problem = "the log stream ended";
      try {
        const since = this.#printed.since;
        body ??= await tail(this.#options, since ?? this.#options.since, MAX_LOG_LINES);
        if (since !== undefined || !untimed(body)) this.#printBody(body);
        body = undefined;
        await this.#stream(connections++ === 0);
      } catch (error) {
        if (this.#signal.aborted) return;
        if (!retryable(error)) throw error;
        problem = error instanceof Error ? error.message : String(error);
        body = undefined;
      }
      if (this.#signal.aborted) return;
      this.#options.stderr(`edgevisor: ${problem}; reconnecting…\n`);
      await this.#wait(this.#retryMs);
    }
  }

  /** A logs answer: as JSON, or its entries not printed yet. */
  #printBody(body: LogsBody): void {
    const fresh = this.#printed.fresh(body.merged ?? []);
    if (this.#options.json) this.#options.stdout(JSON.stringify(body) + "\n");
    else if (body.merged === undefined) print(this.#options, formatLogs(body, this.#options));
    else this.#printEntries(fresh);
  }

  #printEntries(entries: readonly MergedLogEntry[]): void {
    for (const entry of entries) {
      this.#options.stdout(formatLogEntry(entry, this.#options) + "\n");
    }
  }

  /**
   * Batches of lines: those not printed yet, in time order (as JSON, each
   * batch with the lines not printed yet, when any are).
   */
  #printBatches(batches: readonly LogLines[], markers: readonly MergedLogEntry[] = []): void {
    const ordered = inTimeOrder(batches, markers);
    const fresh = new Set(this.#printed.fresh(ordered.map((o) => o.entry)));
    if (!this.#options.json) {
      this.#printEntries(ordered.map((o) => o.entry).filter((e) => fresh.has(e)));
      return;
    }
    for (const marker of markers) {
      if (fresh.has(marker)) this.#options.stdout(JSON.stringify(marker) + "\n");
    }
    batches.forEach((batch, b) => {
      const kept = new Set(
        ordered.filter((o) => o.batch === b && fresh.has(o.entry)).map((o) => o.index),
      );
      if (kept.size === 0 && batch.skipped === undefined) return;
      const keep = (_: unknown, i: number) => kept.has(i) || batch.skipped !== undefined;
      const out = {
        ...batch,
        lines: batch.lines.filter(keep),
        ...(batch.at ? { at: batch.at.filter(keep) } : {}),
      };
      this.#options.stdout(JSON.stringify(out) + "\n");
    });
  }

  /** One connection to the log stream, until it ends or fails. */
  async #stream(first: boolean): Promise<void> {
    const since = this.#printed.since ?? this.#options.since;
    // With times: all since the last printed (told apart); without: the last lines once, then new ones.
    const lines = this.#printed.since !== undefined
      ? MAX_LOG_LINES
      : first
      ? this.#options.lines
      : 0;
    const url = this.#options.client.baseUrl + pathOf("logs", { name: this.#options.name }, {
      lines,
      stream: this.#options.stream,
      since,
      follow: 1,
    });
    /** The last lines, held until `ready` to be printed in time order. */
    let backlog: LogLines[] | undefined = [];
    // Live batches, gathered a moment: each stream sends its own, the same moment's come together.
    let pending: LogLines[] = [];
    let marks: MergedLogEntry[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const [batches, markers] = [pending, marks];
      [pending, marks] = [[], []];
      if (batches.length + markers.length > 0) this.#printBatches(batches, markers);
    };
    const events = eventStream(url, {
      headers: authorization(this.#options.token),
      signal: this.#signal,
      onRetry: (ms) => (this.#retryMs = ms),
    });
    try {
      for await (const message of events) {
        if (message.event === "error") {
          const body = JSON.parse(message.data) as Partial<ErrorBody>;
          throw new Error(body.error ?? "the log stream failed");
        }
        if (message.event === "ready" && backlog !== undefined) {
          this.#printBatches(backlog);
          backlog = undefined;
        } else if (message.event === "marker") {
          // A start or an exit of the service while it is followed.
          marks.push(JSON.parse(message.data) as MergedLogEntry);
          timer ??= setTimeout(flush, GATHER_MS);
        } else if (message.event === "lines") {
          const batch = JSON.parse(message.data) as LogLines;
          if (backlog !== undefined) backlog.push(batch);
          else {
            pending.push(batch);
            timer ??= setTimeout(flush, GATHER_MS);
          }
        }
      }
    } finally {
      flush();
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#signal.addEventListener("abort", done, { once: true });
    });
  }
}
