/**
 * The lock of the state directory against real `edgevisor run` processes:
 * of several started together on one state directory exactly one runs, and
 * once it is killed with SIGKILL the next one takes over, though processes it
 * spawned may still be alive.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  FAST,
  killMatching,
  type Orchestrator,
  processesMatching,
  removeDir,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

const IN_USE = /error: another edgevisor \(pid (\d+)\) uses the state directory "(.*)"/;

/** Wait until `orchestrator` answers `GET /api/health`, or throw with its stderr once it exits. */
async function healthy(orchestrator: Orchestrator): Promise<void> {
  await waitFor(async () => {
    try {
      return (await api(orchestrator.url, "GET", "/api/health")).status === 200;
    } catch {
      return false;
    }
  }, { timeoutMs: 30_000, message: `edgevisor on port ${orchestrator.port} to answer` });
}

Deno.test("edgevisor run: of four started together on one state directory one runs, and the next after a SIGKILL", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  const orchestrators: Orchestrator[] = [];
  try {
    const registry = await writeRegistry(dir, {
      services: [{ ...FAST, name: "one", cmd: "sleep", args: [String(n)] }],
    });
    for (let i = 0; i < 4; i++) {
      orchestrators.push(await startOrchestrator({ registry, dir, waitHealthy: false }));
    }
    const exited = new Set<Orchestrator>();
    for (const o of orchestrators) o.status.then(() => exited.add(o));
    await waitFor(() => exited.size === 3, { timeoutMs: 60_000, message: "three to give up" });
    const [winner, ...losers] = [
      ...orchestrators.filter((o) => !exited.has(o)),
      ...exited,
    ] as [Orchestrator, ...Orchestrator[]];
    await healthy(winner);
    for (const loser of losers) {
      assert.equal((await loser.status).code, 1, loser.stderr());
      const match = IN_USE.exec(loser.stderr());
      assert.ok(match, loser.stderr());
      assert.equal(Number(match[1]), winner.pid);
      assert.equal(match[2], winner.stateDir);
    }
    await waitFor(async () => (await processesMatching(String(n))).length === 1, {
      message: "one copy of the service",
    });

    await winner.kill();
    const next = await startOrchestrator({ registry, dir });
    orchestrators.push(next);
    await waitFor(async () => {
      const status = await api(next.url, "GET", "/api/services/status/one");
      return status.body.status === "running" && status.body.pid;
    }, { message: "the service running under the next edgevisor" });
    await waitFor(async () => (await processesMatching(String(n))).length === 1, {
      message: "one copy of the service",
    });
  } finally {
    for (const o of orchestrators) await o.destroy();
    await killMatching(String(n));
    await removeDir(dir);
  }
});
