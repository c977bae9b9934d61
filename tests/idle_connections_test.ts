/**
 * 2,000 idle TCP connections against a real orchestrator whose descriptor
 * limit is 1024: the API takes at most a quarter of the descriptors, the
 * orchestrator and its services live on (output still captured, pids
 * unchanged), and the API answers again once the connections are dropped.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  FAST,
  processAlive,
  serviceStatus,
  sh,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** Descriptors the process `pid` holds open. */
function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

Deno.test({
  name: "2,000 idle connections under a 1024 descriptor limit leave edgevisor and its services up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seconds = uniqueSeconds();
    await using orch = await startOrchestrator({
      registry: {
        services: [
          { ...FAST, name: "quiet", ...sh(`exec sleep ${seconds}`) },
          {
            ...FAST,
            name: "chatty",
            ...sh(`while :; do echo tick; sleep 0.05; done`),
          },
        ],
      },
      prefix: ["prlimit", "--nofile=1024:1024", "--"],
    });
    await waitFor(
      async () => (await api(orch.url, "GET", "/api/health")).body.services.running === 2,
      { message: "both services running" },
    );
    const before = {
      quiet: (await serviceStatus(orch.url, "quiet")).pid as number,
      chatty: (await serviceStatus(orch.url, "chatty")).pid as number,
    };
    const limits = await Deno.readTextFile(`/proc/${orch.pid}/limits`);
    assert.match(limits, /^Max open files\s+1024\s+1024/m);

    const conns: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 2000; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port: orch.port }));
        } catch {
          // the backlog is full: a refused connection is fine
        }
      }
      assert.ok(conns.length >= 1000, `only ${conns.length} connections were made`);
      // The orchestrator keeps three quarters of its descriptors for services and logs.
      const fds = openFds(orch.pid);
      assert.ok(fds < 1024 - 256, `the orchestrator holds ${fds} descriptors`);
      const log = `${orch.logDir}/chatty.stdout.log`;
      const size = (await Deno.stat(log)).size;
      await waitFor(async () => (await Deno.stat(log)).size > size + 100, {
        message: "chatty's output still captured during the flood",
      });
      for (const pid of Object.values(before)) assert.ok(await processAlive(pid), `pid ${pid}`);
      assert.ok(await processAlive(orch.pid), "the orchestrator lives");
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by the server already
        }
      }
    }
    const list = await waitFor(async () => {
      try {
        const answer = await api(orch.url, "GET", "/api/services/list");
        return answer.status === 200 ? answer.body : undefined;
      } catch {
        return undefined;
      }
    }, { message: "the API to answer once the connections are dropped", timeoutMs: 20_000 });
    const pids = Object.fromEntries(
      list.services.map((s: { name: string; pid: number }) => [s.name, s.pid]),
    );
    assert.deepEqual(pids, before, "no service was restarted");
    assert.doesNotMatch(orch.stderr(), /Uncaught|Too many open files.*exit/);
    const stopped = await orch.stop();
    assert.equal(stopped.code, 0);
  },
});
