/**
 * The operator's side of fleet configuration, over a {@linkcode FleetClient}:
 * publishing a registry to a group (straight, or through canary devices
 * first), waiting for the devices' reports, the configuration of every
 * device with its drift, what a registry would change, and publishing an
 * earlier revision again.
 *
 * Registries live in the configuration bucket (`{prefix}_config`, created
 * here when missing) under `group.{group}` and `node.{node}`; a device's
 * report is the `config` field of its heartbeat, believed only from the
 * node its subject or KV key names.
 *
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { EdgevisorError, NotFoundError, RegistryError } from "../errors.ts";
import {
  type ConfigReport,
  describeOutcome,
  type DeviceOutcome,
  isFinal,
  parseConfigReport,
} from "../fleet/report.ts";
import { parseRegistry, readRegistryText, type Registry } from "../registry/load.ts";
import { formatOf, loadYamlParser, parseText } from "../registry/parse_text.ts";
import { diffRegistries } from "../supervisor/reload.ts";
import type { RegistryDiff } from "../types.ts";
import { checkHeartbeat, type FleetClient, type IgnoredMessage, type NodeState } from "./fleet.ts";
import { configBucketName, groupKey, nodeKey, setUpConfigBucket } from "./jetstream.ts";
import { parseSubject } from "./subjects.ts";

/** The node name a registry is validated with off the devices (`${EDGEVISOR_NODE}`), unless the environment sets one. */
export const PLACEHOLDER_NODE = "node";

/**
 * The variables a registry is expanded with off the devices: the
 * environment, with `EDGEVISOR_NODE` set ({@linkcode PLACEHOLDER_NODE}
 * unless the environment sets it).
 */
export function fleetEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Record<string, string | undefined> {
  return { ...env, EDGEVISOR_NODE: env.EDGEVISOR_NODE || PLACEHOLDER_NODE };
}

/** A registry file made ready for the fleet. */
export interface FleetRegistry {
  /** What is published: the file's content as JSON. */
  text: string;
  /** The file validated (with {@linkcode fleetEnv}). */
  registry: Registry;
}

/**
 * Read and validate the registry file `path` (JSON, or YAML by extension)
 * like `edgevisor validate`, with {@linkcode fleetEnv}; its content as JSON.
 *
 * @throws {RegistryError} with every problem.
 */
export async function readFleetRegistry(
  path: string,
  env: Record<string, string | undefined> = fleetEnv(),
): Promise<FleetRegistry> {
  const source = await readRegistryText(path);
  const format = formatOf(path);
  if (format === "yaml") await loadYamlParser();
  const registry = parseRegistry(source, { source: path, format, env });
  const parsed = parseText(source, format);
  if (!parsed.ok) throw new RegistryError(path, parsed.problems);
  return { text: JSON.stringify(parsed.value, null, 2) + "\n", registry };
}

/** One device as `fleet config` shows it. */
export interface DeviceConfig {
  /** Node name, from the subject or KV key of its heartbeat. */
  node: string;
  /** Liveness: `alive`, `stale`, `expired` or `stopped`. */
  state: NodeState;
  /** Seconds since its last heartbeat. */
  heartbeat_age: number;
  /** Its report. */
  config: ConfigReport;
  /** The key it follows (its node key when there is one, else its group's) and that key's latest revision. */
  follows: { key: string; revision: number | null };
  /** Whether it does not run the latest revision of the key it follows. */
  drift: boolean;
}

/** What {@linkcode ConfigClient.devices} found. */
export interface ConfigListing {
  /** Every device that reports a configuration, sorted by name. */
  devices: DeviceConfig[];
  /** Heartbeats and reports not believed. */
  ignored: IgnoredMessage[];
}

/** Options of {@linkcode ConfigClient.apply}. */
export interface ApplyOptions {
  /** The fleet group. */
  group: string;
  /** The registry, as JSON text. */
  text: string;
  /** First give the revision to this many devices of the group (their node keys). @default 0 */
  canary?: number;
  /** Wait until every alive device of the group reports the revision. @default false */
  wait?: boolean;
  /** Longest wait for canaries and devices, milliseconds. @default 300000 */
  waitTimeoutMs?: number;
  /** One line of progress. */
  onProgress?(line: string): void;
}

/** What {@linkcode ConfigClient.apply} did. */
export interface ApplyResult {
  /** The canaries applied it (if any) and, with `wait`, every device did. */
  ok: boolean;
  group: string;
  /** The group key's new revision; null when the rollout stopped at the canaries. */
  revision: number | null;
  /** The canaries, their revisions and reports. */
  canaries: DeviceOutcome[];
  /** With `wait`: every alive device following the group, and its report. */
  devices: DeviceOutcome[];
  /** Devices of the group that follow a node key of their own (not given the group's revision). */
  pinned: string[];
  /** Why it is not ok. */
  error?: string;
}

/** Fleet configuration over a fleet client's connection. */
export class ConfigClient {
  /** Name of the configuration bucket. */
  readonly bucket: string;
  #fleet: FleetClient;
  #timeoutMs: number;
  #kv: KV | undefined;

  /** Use `fleet`'s connection; `timeoutMs` bounds each request. */
  constructor(fleet: FleetClient, options: { timeoutMs?: number } = {}) {
    this.#fleet = fleet;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.bucket = configBucketName(fleet.prefix);
  }

  /** The bucket (created when missing and `create`); undefined when there is none. */
  async #bucket(create = false): Promise<KV | undefined> {
    if (this.#kv) return this.#kv;
    const nc = this.#fleet.connection;
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.#timeoutMs });
      if (create) await setUpConfigBucket(jsm, this.#fleet.prefix);
      else await jsm.streams.info(`KV_${this.bucket}`);
    } catch (err) {
      if (!create && /not found|no responders|not enabled/i.test((err as Error).message)) {
        return undefined;
      }
      throw err;
    }
    this.#kv = await new Kvm(jetstream(nc, { timeout: this.#timeoutMs })).open(this.bucket);
    return this.#kv;
  }

  /** The latest registry of `group`, with its revision; undefined when there is none. */
  async latest(group: string): Promise<{ revision: number; text: string } | undefined> {
    const entry = await (await this.#bucket())?.get(groupKey(group));
    if (!entry || entry.operation !== "PUT") return undefined;
    return { revision: entry.revision, text: entry.string() };
  }

  /**
   * Every device that reports a configuration (of `group` only, when
   * given): its report, the key it follows and that key's latest revision.
   */
  async devices(options: { group?: string } = {}): Promise<ConfigListing> {
    const listing = await this.#fleet.nodes();
    const ignored = [...listing.ignored];
    const reported: { node: (typeof listing.nodes)[number]; config: ConfigReport }[] = [];
    for (const node of listing.nodes) {
      if (node.heartbeat.config === undefined) continue;
      const config = parseConfigReport(node.heartbeat.config);
      if (!config) {
        ignored.push({
          source: `heartbeat of node "${node.node}"`,
          reason: "its config is not a configuration report",
        });
      } else if (options.group === undefined || config.group === options.group) {
        reported.push({ node, config });
      }
    }
    const latest = await this.#latestRevisions();
    const devices = reported.map(({ node, config }): DeviceConfig => {
      const own = nodeKey(node.node);
      const key = latest.has(own) ? own : groupKey(config.group);
      const revision = latest.get(key) ?? null;
      return {
        node: node.node,
        state: node.state,
        heartbeat_age: node.heartbeat_age,
        config,
        follows: { key, revision },
        drift: revision !== null && config.running.revision !== revision,
      };
    });
    return { devices, ignored };
  }

  /** The latest revision of every key that holds a value. */
  async #latestRevisions(): Promise<Map<string, number>> {
    const kv = await this.#bucket();
    const revisions = new Map<string, number>();
    if (!kv) return revisions;
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(
        keys.slice(i, i + 100).map(async (key) => {
          const entry = await kv.get(key);
          if (entry?.operation === "PUT") revisions.set(key, entry.revision);
        }),
      );
    }
    return revisions;
  }

  /**
   * Follow the reports of `nodes` (their heartbeats as they come, after
   * those in the KV bucket) until `done` holds for every one of them, or
   * `timeoutMs` passed. Returns the last report of each node that reported.
   */
  async waitForReports(
    nodes: readonly string[],
    done: (node: string, report: ConfigReport) => boolean,
    timeoutMs: number,
  ): Promise<Map<string, ConfigReport>> {
    const wanted = new Set(nodes);
    const reports = new Map<string, ConfigReport>();
    const { promise, resolve } = Promise.withResolvers<void>();
    const see = (node: string, report: ConfigReport | undefined) => {
      if (!wanted.has(node) || !report) return;
      const known = reports.get(node);
      if (known && known.at > report.at) return; // a stored heartbeat older than a live one
      reports.set(node, report);
      if ([...wanted].every((n) => reports.has(n) && done(n, reports.get(n)!))) resolve();
    };
    const nc = this.#fleet.connection;
    const prefix = this.#fleet.prefix;
    const sub = nc.subscribe(`${prefix}.*.heartbeat`, {
      callback: (_err, msg) => {
        const where = parseSubject(prefix, msg.subject);
        if (where?.kind !== "heartbeat" || where.service !== undefined) return;
        let body: unknown;
        try {
          body = msg.json();
        } catch {
          return;
        }
        const checked = checkHeartbeat(where.node, body);
        if ("value" in checked) see(where.node, parseConfigReport(checked.value.config));
      },
    });
    const timer = setTimeout(resolve, timeoutMs);
    try {
      await nc.flush();
      if (wanted.size === 0) resolve();
      for (const node of (await this.#fleet.nodes()).nodes) {
        see(node.node, parseConfigReport(node.heartbeat.config));
      }
      await promise;
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
    return reports;
  }

  /**
   * Publish `options.text` to the group. With `canary`, first to that many
   * alive devices that follow the group (the first by name), through their
   * node keys; when one of them does not report `applied` (rejected,
   * rolled back, or silent for `waitTimeoutMs`), the rollout stops there:
   * the canaries' keys are deleted (they follow the group again) and the
   * group's key is left as it was. Otherwise the group's key is written,
   * then the canaries' keys deleted; with `wait`, until every alive device
   * following the group reports the revision (or a newer one).
   */
  async apply(options: ApplyOptions): Promise<ApplyResult> {
    const { group, text } = options;
    const waitMs = options.waitTimeoutMs ?? 300_000;
    const progress = options.onProgress ?? (() => {});
    const kv = (await this.#bucket(true))!;
    const { devices } = await this.devices({ group });
    const pinned = devices.filter((d) => d.follows.key === nodeKey(d.node)).map((d) => d.node);
    const members = devices.filter((d) => d.state === "alive" && !pinned.includes(d.node))
      .map((d) => d.node);
    const result: ApplyResult = {
      ok: true,
      group,
      revision: null,
      canaries: [],
      devices: [],
      pinned,
    };
    const canary = options.canary ?? 0;
    if (canary > 0) {
      if (members.length < canary) {
        throw new EdgevisorError(
          `Group "${group}" has ${members.length} alive device(s) following it: too few for --canary ${canary}`,
        );
      }
      for (const node of members.slice(0, canary)) {
        const revision = await kv.put(nodeKey(node), text);
        result.canaries.push({ node, revision });
        progress(`canary ${node}: revision ${revision} (key "${nodeKey(node)}")`);
      }
      const given = new Map(result.canaries.map((c) => [c.node, c.revision]));
      const reports = await this.waitForReports(
        [...given.keys()],
        (node, report) => handled(report, given.get(node)!),
        waitMs,
      );
      for (const c of result.canaries) {
        c.report = reports.get(c.node);
        progress(`canary ${c.node}: ${describeOutcome(c)}`);
      }
      const failed = result.canaries.filter((c) => !took(c));
      for (const c of result.canaries) await kv.delete(nodeKey(c.node));
      if (failed.length > 0) {
        result.ok = false;
        result.error = `The rollout to group "${group}" stopped at the canary: ${
          failed.map((c) => `${c.node} ${describeOutcome(c)}`).join("; ")
        }`;
        return result;
      }
    }
    const revision = await kv.put(groupKey(group), text);
    result.revision = revision;
    progress(`group ${group}: revision ${revision} (key "${groupKey(group)}")`);
    if (options.wait) {
      const reports = await this.waitForReports(
        members,
        (_node, report) => handled(report, revision),
        waitMs,
      );
      result.devices = members.map((node) => ({ node, revision, report: reports.get(node) }));
      const failed = result.devices.filter((d) => !took(d));
      if (failed.length > 0) {
        result.ok = false;
        result.error =
          `${failed.length} of ${members.length} device(s) of group "${group}" did not apply revision ${revision}: ${
            failed.map((d) => `${d.node} ${describeOutcome(d)}`).join("; ")
          }`;
      }
    }
    return result;
  }

  /** What publishing `next` to `group` would change on a device that runs the group's latest. */
  async diff(
    group: string,
    next: Registry,
    env: Record<string, string | undefined> = fleetEnv(),
  ): Promise<{ revision: number | null; diff: RegistryDiff }> {
    const latest = await this.latest(group);
    const before = latest
      ? parseRegistry(latest.text, {
        source: `${groupKey(group)} revision ${latest.revision}`,
        format: "json",
        env,
      })
      : parseRegistry('{"services": []}', { env });
    return { revision: latest?.revision ?? null, diff: diffRegistries(before, next) };
  }

  /**
   * Publish an earlier value of `group`'s key again, as a new revision:
   * revision `to` (one the key's history holds), or the one before the
   * latest. It is validated first (throws `RegistryError`).
   */
  async rollback(
    group: string,
    to?: number,
    env: Record<string, string | undefined> = fleetEnv(),
  ): Promise<{ revision: number; restored: number; replaced: number }> {
    const kv = await this.#bucket();
    const key = groupKey(group);
    const history: { revision: number; text: string }[] = [];
    if (kv) {
      for await (const entry of await kv.history({ key })) {
        if (entry.operation === "PUT") {
          history.push({ revision: entry.revision, text: entry.string() });
        }
      }
    }
    const latest = history.at(-1);
    if (!latest) throw new NotFoundError(`Group "${group}" has no configuration`);
    const target = to === undefined ? history.at(-2) : history.find((e) => e.revision === to);
    if (!target) {
      throw new NotFoundError(
        to === undefined
          ? `Group "${group}" has no revision before ${latest.revision}`
          : `Revision ${to} is not in the history of key "${key}" (it holds ${
            history.map((e) => e.revision).join(", ")
          })`,
      );
    }
    parseRegistry(target.text, {
      source: `${key} revision ${target.revision}`,
      format: "json",
      env,
    });
    const revision = await kv!.put(key, target.text);
    return { revision, restored: target.revision, replaced: latest.revision };
  }
}

/** Whether `report` is done with `revision`: a final state for it, or a newer revision. */
function handled(report: ConfigReport, revision: number): boolean {
  const at = report.revision ?? 0;
  return at > revision || (at === revision && isFinal(report.state));
}

/** Whether the device applied its revision (or runs a newer one). */
function took(outcome: DeviceOutcome): boolean {
  const r = outcome.report;
  return r !== undefined && (r.running.revision ?? 0) >= outcome.revision &&
    (r.revision !== outcome.revision || r.state === "applied");
}
