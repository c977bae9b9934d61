/**
 * State across an unclean end of the orchestrator: counters and the
 * operator's stops survive a SIGKILL; a clean shutdown starts afresh.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  FAST,
  killMatching,
  removeDir,
  serviceStatus,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

Deno.test("edgevisor run keeps counters and operator stops across a SIGKILL, not across a clean stop", async () => {
  const a = uniqueSeconds();
  const b = uniqueSeconds();
  const dir = await tempDir();
  try {
    const registry = {
      services: [
        { ...FAST, name: "alpha", cmd: "sleep", args: [String(a)] },
        { ...FAST, name: "beta", cmd: "sleep", args: [String(b)] },
      ],
    };
    const running = (url: string, name: string, notPid?: number) =>
      waitFor(async () => {
        const s = await serviceStatus(url, name);
        return s.status === "running" && s.pid !== notPid && s;
      }, { message: `${name} running` });

    await using first = await startOrchestrator({ registry, dir });
    let alpha = await running(first.url, "alpha");
    for (let i = 1; i <= 2; i++) {
      Deno.kill(alpha.pid, "SIGKILL");
      alpha = await running(first.url, "alpha", alpha.pid);
      assert.equal(alpha.restarts, i);
    }
    await running(first.url, "beta");
    assert.equal((await api(first.url, "POST", "/api/services/stop/beta")).status, 200);
    // The state file is written shortly after the last change.
    await waitFor(() => {
      try {
        const saved = JSON.parse(Deno.readTextFileSync(`${dir}/state/services.json`));
        return saved.services.beta?.held === true && saved.services.alpha?.restarts === 2;
      } catch {
        return false;
      }
    }, { message: "state remembered" });
    await first.kill();

    await using second = await startOrchestrator({ registry: first.registryPath, dir });
    const again = await running(second.url, "alpha", alpha.pid);
    assert.equal(again.restarts, 2, "restarts survive the SIGKILL");
    assert.equal(again.crash_count, 2, "crashes survive the SIGKILL");
    assert.equal(again.last_exit?.signal, "SIGKILL");
    const beta = await serviceStatus(second.url, "beta");
    assert.equal(beta.status, "stopped", "an operator's stop survives the SIGKILL");
    assert.match(beta.reason, /stopped by request/);
    assert.match(second.stderr(), /kept stopped by request: beta/);
    assert.equal((await second.stop()).code, 0);

    await using third = await startOrchestrator({ registry: first.registryPath, dir });
    const fresh = await running(third.url, "alpha");
    assert.equal(fresh.restarts, 0, "a clean stop starts afresh");
    await running(third.url, "beta");
  } finally {
    await killMatching(String(a));
    await killMatching(String(b));
    await removeDir(dir);
  }
});
