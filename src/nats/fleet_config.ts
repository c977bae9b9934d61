/**
 * The device side of fleet configuration: an orchestrator started with
 * `--fleet-group NAME` follows two keys of the configuration bucket
 * (`{prefix}_config`): `group.{NAME}` and `node.{node}`, the node's key
 * winning whole when it is there. Each value is a registry (JSON).
 *
 * Following a key is a subscription to its subject (`$KV.{bucket}.{key}`),
 * which tells that it changed, and a direct get of its last value
 * (`$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key}`), which gives the
 * value and its revision; both can be allowed for exactly these two keys
 * (see docs/nats-security.md), on a connection of its own whose inboxes are
 * `_INBOX_{node}.>`. The keys are read again after every (re)connect and
 * every `pollMs`.
 *
 * A revision is validated first (exactly like a registry file, `${VAR}`
 * expanded with the orchestrator's environment and `EDGEVISOR_NODE`, the
 * node name): an invalid one is `rejected` with every problem. A valid
 * one is applied like a reload (untouched services keep running), written
 * to `fleet_state.json` in the state directory, and its changed and added
 * services are watched for the rollback window (`applying`); then it is
 * `applied`, or `rolled_back` to the configuration that ran before it. A
 * rejected or rolled back revision is not tried again. The state of the
 * last revision is the `config` field of the heartbeat.
 *
 * @module
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { errorText, RegistryError } from "../errors.ts";
import type { EventBus } from "../events.ts";
import { parseRegistry, type Registry } from "../registry/load.ts";
import { delay } from "../supervisor/process.ts";
import { describeDiff } from "../supervisor/reload.ts";
import type { RegistryDiff, ServiceControl, ServiceStatus, SupervisorEvent } from "../types.ts";
import {
  type AppliedRevision,
  type FleetState,
  fleetStatePath,
  initialFleetState,
  readFleetState,
  withRefused,
  writeFleetState,
} from "../fleet/fleet_state.ts";
import { managedControl } from "../fleet/managed.ts";
import { type ConfigReport, type ConfigRevision, problemLine } from "../fleet/report.ts";
import { type FinalDecision, RollbackWindow } from "../fleet/rollback.ts";
import { keepConnected, type NatsConnectOptions } from "./connection.ts";
import { configBucketName, groupKey, nodeKey } from "./jetstream.ts";
import { DEFAULT_PREFIX, nodeFromHostname, subjectToken } from "./subjects.ts";

/** Options of `edgevisor run --fleet-group` (`RunOptions.fleet`). */
export interface FleetFollowOptions {
  /** The fleet group to follow, a subject token. */
  group: string;
  /**
   * Milliseconds the changed and added services of a new revision are
   * watched before it counts as applied; 0 watches nothing. @default 60000
   */
  rollbackWindowMs?: number;
}

/** Options of {@linkcode ConfigFollower.open}. */
export interface ConfigFollowerOptions extends FleetFollowOptions {
  /** Node name, a subject token. @default the host name's first label */
  node?: string;
  /** Subject prefix. @default "edgevisor" */
  prefix?: string;
  /** The orchestrator's state directory (`fleet_state.json` goes there). */
  stateDir: string;
  /** The registry file's registry: run until a revision is applied, and the last fallback. */
  shipped: Registry;
  /** One line of the orchestrator's log. @default console.error */
  log?: (line: string) => void;
  /**
   * Variables for `${VAR}` expansion in revisions; `EDGEVISOR_NODE` is the
   * node name whatever this says. @default the process environment
   */
  env?: Record<string, string | undefined>;
  /** Milliseconds between two reads of the keys besides those their changes cause. @default 60000 */
  pollMs?: number;
  /** Milliseconds between connection attempts. @default 2000 */
  retryMs?: number;
}

/** What a follower changes: the supervisor. */
export interface ConfigTarget {
  /** Apply a registry like a reload. */
  applyRegistry(next: Registry): Promise<RegistryDiff>;
  /** Status of every service. */
  list(): ServiceStatus[];
  /** Every transition and health change. */
  readonly events: EventBus<SupervisorEvent>;
}

type Which = "group" | "node";

/** The last entry of a key: its revision and value (none for a deletion). */
interface KeyEntry {
  revision: number;
  value?: string;
}

/** How many times a key is read again after a change that the stream did not show yet. */
const NOTIFIED_READS = 25;

/** Follows the configuration of one fleet group; see the module documentation. */
export class ConfigFollower {
  /** The fleet group. */
  readonly group: string;
  /** The node name. */
  readonly node: string;
  /** Name of the configuration bucket. */
  readonly bucket: string;
  /** Path of `fleet_state.json`. */
  readonly path: string;
  #options: ConfigFollowerOptions;
  #log: (line: string) => void;
  #state: FleetState;
  #registry: Registry;
  #listeners = new Set<(report: ConfigReport) => void>();
  #entries: Record<Which, KeyEntry | undefined> = { group: undefined, node: undefined };
  #target: ConfigTarget | undefined;
  #window: RollbackWindow | undefined;
  #queue: Promise<void> = Promise.resolve();
  #jsm: JetStreamManager | undefined;
  #readFailure = "";
  /** Refused revisions already logged as skipped. */
  #skipped = new Set<number>();
  #closing = false;
  #stop = new AbortController();
  #poll: ReturnType<typeof setInterval> | undefined;
  #loop: Promise<void> | undefined;
  #nc: NatsConnection | undefined;
  #subscriptions: Subscription[] = [];

  private constructor(options: ConfigFollowerOptions, state: FleetState, registry: Registry) {
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
    this.group = options.group;
    this.node = options.node ?? nodeFromHostname(Deno.hostname());
    this.bucket = configBucketName(options.prefix ?? DEFAULT_PREFIX);
    this.path = fleetStatePath(options.stateDir);
    this.#state = state;
    this.#registry = registry;
  }

  /**
   * Read `fleet_state.json` and choose the registry to boot with: the
   * configuration it holds when it is of this group, else the registry
   * file. Nothing is connected yet.
   */
  static async open(options: ConfigFollowerOptions): Promise<ConfigFollower> {
    subjectToken(options.group, "fleet group");
    if (options.node !== undefined) subjectToken(options.node, "node");
    const log = options.log ?? ((line: string) => console.error(line));
    const path = fleetStatePath(options.stateDir);
    let state = initialFleetState(options.group);
    try {
      const read = await readFleetState(path);
      if (read && read.group !== options.group) {
        log(
          `fleet: ${path} holds the configuration of group "${read.group}", not "${options.group}": starting with the registry file`,
        );
      } else if (read) state = read;
    } catch (err) {
      log(`fleet: cannot read ${path} (${errorText(err)}): starting with the registry file`);
    }
    const follower = new ConfigFollower(options, state, options.shipped);
    const stored = state.current && follower.#parseStored(state.current);
    if (state.current && stored) {
      follower.#registry = stored;
      log(
        `fleet: starting with revision ${state.current.revision} (${state.current.source}) of group "${options.group}" from ${path}`,
      );
    } else {
      if (state.current) {
        follower.#state = { ...initialFleetState(options.group), refused: state.refused };
      }
      log(`fleet: no revision of group "${options.group}" applied yet: running the registry file`);
    }
    return follower;
  }

  /** The registry to boot with. */
  get registry(): Registry {
    return this.#registry;
  }

  /** The state of the last revision handled (the heartbeat's `config`). */
  get report(): ConfigReport {
    return this.#state.report;
  }

  /** Call `listener` with every new report; returns the unsubscribe function. */
  subscribe(listener: (report: ConfigReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `control` with local registry changes refused: `managed by fleet group NAME` (409). */
  guard<T extends ServiceControl>(control: T): T {
    return managedControl(control, this.group);
  }

  /**
   * Start following: watch again the services of a revision whose window
   * had not ended, then read the keys over a connection of its own made
   * with `nats` (retried forever), or over `nats.connection` (the caller's,
   * left open at close).
   */
  start(target: ConfigTarget, nats: NatsConnectOptions | { connection: NatsConnection }): void {
    if (this.#target) return;
    this.#target = target;
    this.#log(
      `fleet: following group "${this.group}" (keys "${groupKey(this.group)}" and "${
        nodeKey(this.node)
      }" of bucket "${this.bucket}")`,
    );
    const { current, watching } = this.#state;
    if (current && watching.length > 0) {
      void this.#enqueue(async () => {
        this.#log(
          `fleet: revision ${current.revision} was in its rollback window: watching ${
            watching.join(", ")
          } again`,
        );
        await this.#commit(
          { ...this.#state },
          { ...this.#about(current), state: "applying", until: this.#until() },
        );
        this.#openWindow(target, watching);
      });
    }
    this.#poll = setInterval(
      () => this.#refresh(["group", "node"]),
      this.#options.pollMs ?? 60_000,
    );
    if ("connection" in nats) void this.#attach(nats.connection);
    else this.#loop = this.#run(nats);
  }

  /** Stop following (what is being applied finishes); close its own connection. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#stop.abort();
    clearInterval(this.#poll);
    this.#window?.stop();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    if (this.#loop) {
      await this.#nc?.close().catch(() => {});
      await Promise.race([this.#loop, delay(1000)]);
    }
  }

  #run(options: NatsConnectOptions): Promise<void> {
    return keepConnected(options, {
      name: `edgevisor ${this.node} config`,
      extra: { inboxPrefix: `_INBOX_${this.node}` },
      retryMs: this.#options.retryMs,
      signal: this.#stop.signal,
      log: this.#log,
      label: "fleet",
    }, async (nc) => {
      this.#nc = nc;
      await this.#attach(nc);
    }, () => {
      this.#nc = undefined;
      this.#jsm = undefined;
      this.#subscriptions = [];
    });
  }

  /** Subscribe to both keys' subjects on `nc` and read them, now and after every reconnect. */
  async #attach(nc: NatsConnection): Promise<void> {
    try {
      this.#jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
    } catch (err) {
      this.#log(`fleet: cannot use JetStream: ${errorText(err)}`);
      return;
    }
    for (const which of ["group", "node"] as const) {
      const subject = `$KV.${this.bucket}.${this.#key(which)}`;
      this.#subscriptions.push(nc.subscribe(subject, {
        callback: (err) => {
          if (err) this.#log(`fleet: cannot subscribe to ${subject}: ${err.message}`);
          else this.#refresh([which], true);
        },
      }));
    }
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "reconnect") this.#refresh(["group", "node"]);
      }
    })().catch(() => {});
    await nc.flush().catch(() => {});
    this.#refresh(["group", "node"]);
  }

  #key(which: Which): string {
    return which === "group" ? groupKey(this.group) : nodeKey(this.node);
  }

  /**
   * Read `keys` again, then apply what they say. After a change (`notified`),
   * read until the revision moves: the change may be seen before the stream
   * has stored it.
   */
  #refresh(keys: Which[], notified = false): void {
    void this.#enqueue(async () => {
      const jsm = this.#jsm;
      if (!jsm || this.#closing) return;
      try {
        for (const which of keys) {
          const before = this.#entries[which]?.revision ?? 0;
          for (let read = 1;; read++) {
            this.#entries[which] = await this.#read(jsm, which);
            const now = this.#entries[which]?.revision ?? 0;
            if (!notified || now > before || read >= NOTIFIED_READS) break;
            await delay(40, this.#stop.signal);
          }
        }
      } catch (err) {
        const why = /no responders|timeout/i.test(errorText(err))
          ? `no answer (${errorText(err)}): no such bucket yet, or no JetStream`
          : errorText(err);
        const failure =
          `fleet: cannot read bucket "${this.bucket}": ${why}; waiting for a change of its keys`;
        if (failure !== this.#readFailure) this.#log(failure);
        this.#readFailure = failure;
        return;
      }
      this.#readFailure = "";
      await this.#consider();
    });
  }

  async #read(jsm: JetStreamManager, which: Which): Promise<KeyEntry | undefined> {
    const m = await jsm.direct.getMessage(`KV_${this.bucket}`, {
      last_by_subj: `$KV.${this.bucket}.${this.#key(which)}`,
    });
    if (!m) return undefined;
    const operation = m.header.get("KV-Operation");
    if (operation === "DEL" || operation === "PURGE") return { revision: m.seq };
    return { revision: m.seq, value: m.string() };
  }

  /** Apply the entry of the node's key, else the group's, unless it runs or was refused. */
  async #consider(): Promise<void> {
    const target = this.#target;
    if (!target || this.#closing) return;
    const { node, group } = this.#entries;
    const [source, entry] = node?.value !== undefined
      ? ["node" as const, node]
      : group?.value !== undefined
      ? ["group" as const, group]
      : [undefined, undefined];
    if (!source || entry.value === undefined) return;
    if (entry.revision === this.#state.current?.revision) return;
    if (this.#state.refused.includes(entry.revision)) {
      if (!this.#skipped.has(entry.revision)) {
        this.#log(
          `fleet: not trying revision ${entry.revision} (${source}) again: it was rejected or rolled back here`,
        );
      }
      this.#skipped.add(entry.revision);
      return;
    }
    await this.#apply(target, { revision: entry.revision, source, value: entry.value });
  }

  async #apply(
    target: ConfigTarget,
    next: { revision: number; source: "group" | "node"; value: string },
  ): Promise<void> {
    const about = { revision: next.revision, source: next.source };
    const label = `revision ${next.revision} (${next.source})`;
    let registry: Registry;
    let published: unknown;
    try {
      registry = this.#parse(next.value, `${this.#key(next.source)} revision ${next.revision}`);
      published = JSON.parse(next.value);
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      this.#log(
        `fleet: ${label} rejected: ${err.problems.map(problemLine).join("; ")}`,
      );
      await this.#commit(
        { ...this.#state, refused: withRefused(this.#state.refused, next.revision) },
        { ...about, state: "rejected", problems: [...err.problems] },
      );
      return;
    }
    this.#window?.stop();
    this.#window = undefined;
    // The configuration that passed its window is what a rollback goes back to.
    const stable = this.#state.watching.length === 0 ? this.#state.current : this.#state.stable;
    let diff: RegistryDiff;
    try {
      diff = await target.applyRegistry({ ...registry, source: this.path });
    } catch (err) {
      this.#log(`fleet: cannot apply ${label}: ${errorText(err)}`);
      return;
    }
    const watching = this.#windowMs > 0 ? [...diff.added, ...diff.changed] : [];
    this.#log(
      `fleet: ${label} applied (${describeDiff(diff)})${
        watching.length ? `; watching ${watching.join(", ")} for ${this.#windowMs / 1000}s` : ""
      }`,
    );
    const current: AppliedRevision = { ...about, registry: published };
    await this.#commit(
      { ...this.#state, current, stable, watching },
      { ...about, state: "applying", until: this.#until() },
    );
    this.#openWindow(target, watching);
  }

  #openWindow(target: ConfigTarget, services: readonly string[]): void {
    const window: RollbackWindow = new RollbackWindow({
      services,
      windowMs: this.#windowMs,
      statuses: () => target.list(),
      subscribe: (listener) => target.events.subscribe((event) => listener(event.service)),
      onDecision: (decision) => void this.#enqueue(() => this.#decided(target, window, decision)),
    });
    this.#window = window;
  }

  async #decided(target: ConfigTarget, window: RollbackWindow, decision: FinalDecision) {
    const current = this.#state.current;
    if (this.#window !== window || !current) return;
    this.#window = undefined;
    const about = this.#about(current);
    if (decision.decision === "keep") {
      this.#log(`fleet: revision ${current.revision} (${current.source}) applied and healthy`);
      await this.#commit(
        { ...this.#state, stable: current, watching: [] },
        { ...about, state: "applied" },
      );
      return;
    }
    const stable = this.#state.stable;
    const back = stable ? `revision ${stable.revision}` : "the registry file";
    this.#log(
      `fleet: revision ${current.revision} (${current.source}): ${decision.reason}; rolling back to ${back}`,
    );
    try {
      const registry = (stable && this.#parseStored(stable)) ?? this.#options.shipped;
      await target.applyRegistry(registry);
    } catch (err) {
      this.#log(`fleet: cannot roll back to ${back}: ${errorText(err)}`);
    }
    await this.#commit(
      {
        ...this.#state,
        current: stable,
        watching: [],
        refused: withRefused(this.#state.refused, current.revision),
      },
      { ...about, state: "rolled_back", service: decision.service, reason: decision.reason },
    );
    await this.#consider();
  }

  /** Keep `next` with a new report, write it to disk, tell the listeners. */
  async #commit(
    next: FleetState,
    report: ConfigRevision & Pick<ConfigReport, "state"> & Partial<ConfigReport>,
  ): Promise<void> {
    const { revision, source, state, ...details } = report;
    this.#state = {
      ...next,
      report: {
        group: this.group,
        revision,
        source,
        state,
        at: new Date().toISOString(),
        ...details,
        running: next.current ? this.#about(next.current) : { revision: null, source: "local" },
      },
    };
    try {
      await writeFleetState(this.path, this.#state);
    } catch (err) {
      this.#log(`fleet: cannot write ${this.path}: ${errorText(err)}`);
    }
    for (const listener of this.#listeners) listener(this.#state.report);
  }

  #about(applied: AppliedRevision): ConfigRevision {
    return { revision: applied.revision, source: applied.source };
  }

  get #windowMs(): number {
    return this.#options.rollbackWindowMs ?? 60_000;
  }

  #until(): string {
    return new Date(Date.now() + this.#windowMs).toISOString();
  }

  /** A published registry, validated like a registry file; throws `RegistryError`. */
  #parse(text: string, source: string): Registry {
    const registry = parseRegistry(text, {
      source,
      format: "json",
      baseDir: this.#options.shipped.dir,
      env: { ...(this.#options.env ?? Deno.env.toObject()), EDGEVISOR_NODE: this.node },
    });
    return { ...registry, source: this.path };
  }

  /** A stored revision's registry, or undefined (logged) when it is no longer valid here. */
  #parseStored(applied: AppliedRevision): Registry | undefined {
    try {
      return this.#parse(
        JSON.stringify(applied.registry),
        `${this.path} revision ${applied.revision}`,
      );
    } catch (err) {
      this.#log(
        `fleet: revision ${applied.revision} in ${this.path} is not valid here (${
          errorText(err).replace(/\n\s*/g, " ")
        }): using the registry file`,
      );
      return undefined;
    }
  }

  /** Run `task` after those before it; its failure is logged. */
  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task).catch((err) => {
      this.#log(`fleet: ${errorText(err)}`);
    });
    this.#queue = run;
    return run;
  }
}
