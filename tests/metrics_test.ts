/**
 * Process metrics against `ps`: RSS of a process group that holds a known
 * amount of memory, CPU of a busy loop, the `max_memory_mb` guard, `nice`
 * and `cpu_affinity`, and `GET /metrics`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { sh, uniqueSeconds, waitFor } from "./harness.ts";
import { withSupervisor } from "./supervisor_fixture.ts";

const MIB = 1024 * 1024;

/** A Deno child that fills `mib` MiB, prints "filled", then sleeps. */
function holder(mib: number, secs: number): { cmd: string; args: string[] } {
  return {
    cmd: Deno.execPath(),
    args: [
      "eval",
      `const b = new Uint8Array(${mib} * 1024 * 1024).fill(7); console.log("filled", b.length);` +
      ` setInterval(() => b[0]++, 1000); // ${secs}`,
    ],
  };
}

/** Sum of `ps -o rss=` (KiB) over the members of group `pgid`, in bytes. */
async function psGroupRss(pgid: number): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-g", String(pgid)] }).output();
  return new TextDecoder().decode(out.stdout).trim().split(/\s+/).filter(Boolean)
    .reduce((sum, kib) => sum + Number(kib) * 1024, 0);
}

Deno.test("metrics: RSS of a whole process group matches ps; CPU of a busy loop", async () => {
  const secs = uniqueSeconds();
  const { cmd, args } = holder(96, secs);
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  await withSupervisor(
    [
      // sh stays as the group leader, with the allocating child under it.
      {
        name: "holder",
        ...sh(`${quoted}; true`),
        readiness: { type: "log", pattern: "^filled", interval: 0.05 },
      },
      { name: "busy", ...sh(`while :; do :; done`) },
    ],
    async ({ sup, until }) => {
      const up = await until("holder", (s) => s.status === "running", "holder filled", 20_000);
      await until("busy", (s) => s.status === "running", "busy running");
      sup.sampleMetrics();
      const ps = await psGroupRss(up.pid!);
      const st = sup.status("holder");
      assert.ok(st.memory_rss_bytes !== null);
      assert.ok(st.memory_rss_bytes >= 96 * MIB, `rss ${st.memory_rss_bytes} >= 96 MiB`);
      const diff = Math.abs(st.memory_rss_bytes - ps) / ps;
      assert.ok(diff < 0.05, `edgevisor ${st.memory_rss_bytes} vs ps ${ps}`);
      assert.ok((st.threads ?? 0) >= 2, "threads of sh and deno");

      await waitFor(() => {
        sup.sampleMetrics();
        // A busy loop shares two cores with the rest of the suite: a fair share, not a whole core.
        return (sup.status("busy").cpu_percent ?? 0) > 25;
      }, { timeoutMs: 10_000, intervalMs: 250, message: "busy above 25% CPU" });
      assert.ok(sup.status("busy").cpu_seconds > 0);
      const info = sup.info();
      assert.ok((info.memory_rss_bytes ?? 0) > 10 * MIB, "orchestrator RSS");

      const res = await createApp(sup).request("/metrics");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^edgevisor_service_state\{service="holder",state="running"\} 1$/m);
      assert.match(text, /^edgevisor_service_memory_rss_bytes\{service="holder"\} \d{8,}$/m);
      assert.match(text, /^edgevisor_service_cpu_seconds_total\{service="busy"\} [\d.]+$/m);
      assert.match(text, /^edgevisor_service_health\{service="holder",health="healthy"\} 1$/m);
      assert.match(text, /^edgevisor_events_total \d+$/m);
      assert.match(text, /^# TYPE edgevisor_service_restarts_total counter$/m);
    },
    { metrics_interval: 0 },
  );
});

Deno.test("metrics: max_memory_mb restarts through the policy; nice and cpu_affinity apply", async () => {
  const secs = uniqueSeconds();
  await withSupervisor(
    [
      { name: "hog", ...holder(64, secs), max_memory_mb: 32, restart_policy: "always" },
      { name: "gentle", cmd: "sleep", args: [String(secs)], nice: 7, cpu_affinity: [0] },
    ],
    async ({ until, events }) => {
      await until("hog", (s) => s.restarts >= 1, "hog restarted", 20_000);
      const backoff = events.find((e) => e.service === "hog" && e.to === "backoff");
      assert.match(
        backoff?.reason ?? "",
        /^memory \d+(\.\d)? MiB above max_memory_mb 32 for 2 samples; killed by SIGTERM; restarting in /,
      );
      const gentle = await until("gentle", (s) => s.status === "running", "gentle running");
      // setsid, taskset and nice exec in turn before sleep runs.
      let status = "";
      await waitFor(async () => {
        status = await Deno.readTextFile(`/proc/${gentle.pid}/status`);
        return /^Name:\s+sleep$/m.test(status);
      }, { message: "sleep running in place of its launchers" });
      assert.match(status, /^Cpus_allowed_list:\s+0$/m);
      const stat = await Deno.readTextFile(`/proc/${gentle.pid}/stat`);
      const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      assert.equal(nice, 7);
      assert.match(status, /^Name:\s+sleep$/m, "taskset and nice exec the command in place");
    },
    { metrics_interval: 0.1 },
  );
});
