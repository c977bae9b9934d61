/**
 * A booted `Supervisor` over temporary directories, for in-process
 * integration tests: records events and log lines, waits on statuses, and
 * kills every process group it ever saw, even on failure.
 *
 * @module
 */
import type { StateEvent } from "../src/types.ts";
import { parseRegistry } from "../src/registry/load.ts";
import { Supervisor } from "../src/supervisor/supervisor.ts";
import type { ServiceStatus } from "../src/types.ts";
import { FAST, killGroup, removeDir, tempDir, waitFor } from "./harness.ts";

/** What a test gets from {@linkcode withSupervisor}. */
export interface SupervisorFixture {
  /** The supervisor, booted. */
  sup: Supervisor;
  /** Every state event so far. */
  events: StateEvent[];
  /** Every line of the orchestrator's own log so far. */
  lines: string[];
  /** Temporary directory (logs under `logs/`). */
  dir: string;
  /** Status of one service. */
  st(name: string): ServiceStatus;
  /** Wait until `name` satisfies `check`; returns its status. */
  until(
    name: string,
    check: (s: ServiceStatus) => boolean,
    message: string,
    timeoutMs?: number,
  ): Promise<ServiceStatus>;
}

/**
 * Run `fn` against a booted supervisor of `services` (each merged over
 * `FAST`) plus the other top-level registry fields in `extra`.
 */
export async function withSupervisor(
  services: Record<string, unknown>[],
  fn: (f: SupervisorFixture) => Promise<void>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const dir = await tempDir();
  const registry = parseRegistry(
    JSON.stringify({ ...extra, services: services.map((s) => ({ ...FAST, ...s })) }),
    { env: {} },
  );
  const lines: string[] = [];
  const events: StateEvent[] = [];
  const groups = new Set<number>();
  const sup = new Supervisor(registry, {
    logDir: `${dir}/logs`,
    stateDir: `${dir}/state`,
    log: (line) => lines.push(line),
  });
  sup.events.subscribe((e) => {
    if (e.type !== "state") return;
    events.push(e);
    if (e.pid !== null) groups.add(e.pid);
  });
  const st = (name: string) => sup.status(name);
  const fixture: SupervisorFixture = {
    sup,
    events,
    lines,
    dir,
    st,
    async until(name, check, message, timeoutMs = 10_000) {
      try {
        return await waitFor(() => check(st(name)) && st(name), { timeoutMs, message });
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\nstatus: ${JSON.stringify(st(name))}\nlog:\n${
            lines.join("\n")
          }`,
        );
      }
    },
  };
  try {
    await sup.boot();
    await fn(fixture);
  } finally {
    for (const s of sup.list()) if (s.pid !== null) groups.add(s.pid);
    await sup.shutdown();
    for (const g of groups) killGroup(g);
    await removeDir(dir);
  }
}
