import assert from "node:assert/strict";
import { launchCommand } from "./guards.ts";
import { waitFor } from "../../tests/harness.ts";
import { Cgroup, enterCgroup, openInstance } from "./cgroup.ts";
import { CgroupReader, memoryOverCount, nextSample, sumByGroup } from "./metrics.ts";
import { type ProcStat, readProcStat } from "./proc_stat.ts";

Deno.test("sumByGroup() sums live members of the wanted groups only", () => {
  const row = (pid: number, pgrp: number, state = "S"): ProcStat => ({
    pid,
    pgrp,
    state,
    ticks: 10,
    threads: 2,
    rssPages: 100,
    session: pgrp,
    ppid: 1,
    startTime: 1,
  });
  const totals = sumByGroup(
    [row(1, 1), row(2, 1), row(3, 1, "Z"), row(4, 4), row(5, 9)],
    new Set([1, 4]),
  );
  assert.deepEqual(totals.get(1), { ticks: 20, rssPages: 200, threads: 4, processes: 2 });
  assert.deepEqual(totals.get(4), { ticks: 10, rssPages: 100, threads: 2, processes: 1 });
  assert.equal(totals.has(9), false);
});

Deno.test("nextSample() gives CPU % between samples, never negative, and carries CPU seconds", () => {
  const totals = (ticks: number) => ({ ticks, rssPages: 10, threads: 1, processes: 1 });
  const first = nextSample(undefined, 7, totals(100), 0, 4096, 5);
  assert.equal(first.metrics.cpuPercent, null);
  assert.equal(first.metrics.cpuSeconds, 6);
  assert.equal(first.metrics.rssBytes, 40960);
  const second = nextSample(first, 7, totals(150), 2000, 4096);
  assert.equal(second.metrics.cpuPercent, 25, "0.5 s of CPU in 2 s");
  assert.equal(second.metrics.cpuSeconds, 6.5);
  const third = nextSample(second, 7, totals(120), 4000, 4096);
  assert.equal(third.metrics.cpuPercent, 0, "a member ended: no negative time");
  assert.equal(third.metrics.cpuSeconds, 6.5);
  const other = nextSample(third, 8, totals(30), 6000, 4096, third.metrics.cpuSeconds);
  assert.equal(other.metrics.cpuPercent, null, "a new process group starts over");
  assert.equal(other.metrics.cpuSeconds, 6.8);
});

Deno.test("memoryOverCount() counts samples above the limit in a row", () => {
  assert.equal(memoryOverCount(0, 11, 10), 1);
  assert.equal(memoryOverCount(1, 11, 10), 2);
  assert.equal(memoryOverCount(1, 10, 10), 0);
});

Deno.test("launchCommand() wraps the command in taskset and nice, or warns", () => {
  const spec = { cmd: "app", args: ["-v"], nice: 5, cpu_affinity: [0, 2] };
  assert.deepEqual(launchCommand(spec, (p) => `/bin/${p}`), {
    cmd: "/bin/taskset",
    args: ["-c", "0,2", "/bin/nice", "-n", "5", "app", "-v"],
    warnings: [],
  });
  const bare = launchCommand(spec, () => undefined);
  assert.equal(bare.cmd, "app");
  assert.deepEqual(bare.args, ["-v"]);
  assert.equal(bare.warnings.length, 2);
  assert.deepEqual(launchCommand({ cmd: "app", args: [] }), { cmd: "app", args: [], warnings: [] });
});

/** Whether cgroups can be used here (the instance made to find out is removed at once). */
const cgroupUsable = (() => {
  const opened = openInstance("/bin/sh");
  if (!("instance" in opened)) return false;
  opened.instance.remove();
  return true;
})();

Deno.test({
  name: "CgroupReader sums a cgroup's members and counts the CPU of those that ended",
  ignore: !cgroupUsable,
  async fn() {
    const opened = openInstance("/bin/sh");
    if (!("instance" in opened)) throw new Error(opened.reason);
    const cgroup = new Cgroup(`${opened.instance.path}/svc-metrics`);
    cgroup.create();
    const reader = new CgroupReader();
    const spawn = (script: string, output = false) => {
      const launch = enterCgroup("/bin/sh", cgroup, "sh", ["-c", script]);
      return new Deno.Command(launch.cmd, {
        args: launch.args,
        stdout: output ? "piped" : "null",
        stderr: "null",
      }).spawn();
    };
    try {
      // A process that burns at least 10 ticks of CPU, says how many, and ends.
      const burner = spawn(
        "while :; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; " +
          "set -- $(cut -d' ' -f14,15 /proc/$$/stat); [ $(($1 + $2)) -ge 10 ] && break; done; " +
          "echo $(($1 + $2))",
        true,
      );
      const burnt = Number(new TextDecoder().decode((await burner.output()).stdout));
      assert.ok(burnt >= 10, `burnt ${burnt} ticks`);
      const sleeper = spawn("exec sleep 30");
      // Once its exec is over, it has resident pages.
      const totals = await waitFor(() => {
        const totals = reader.totals(cgroup.path);
        return totals && totals.rssPages > 0 && totals;
      }, { message: "the sleeper in the cgroup" });
      assert.equal(totals.processes, 1);
      assert.ok(totals.threads >= 1);
      assert.ok(
        totals.ticks >= burnt,
        `the CPU of the process that ended counts: ${totals.ticks} ticks, ${burnt} burnt`,
      );
      reader.sweep();
      assert.equal(reader.totals(cgroup.path)?.processes, 1, "read again through kept files");
      sleeper.kill("SIGKILL");
      await sleeper.status;
      await cgroup.waitEmpty(Date.now() + 5000);
      assert.equal(reader.totals(cgroup.path), undefined, "no member");
    } finally {
      reader.close();
      cgroup.kill();
      await cgroup.waitEmpty(Date.now() + 5000);
      cgroup.remove();
      opened.instance.remove();
    }
  },
});

Deno.test("CgroupReader lists the members once, and again when a process was created", async () => {
  const dir = Deno.makeTempDirSync();
  let lastPid = 100;
  const reader = new CgroupReader(512, () => lastPid);
  const other = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" }).spawn();
  try {
    Deno.writeTextFileSync(`${dir}/cgroup.procs`, `${Deno.pid}\n`);
    const own = readProcStat(Deno.pid)!;
    reader.begin();
    const first = reader.totals(dir);
    assert.ok(first && first.rssPages > 100, `the member's RSS: ${first?.rssPages} pages`);
    assert.ok(first.ticks >= own.ticks, "its CPU (no cpu.stat here: the members' time)");
    assert.equal(first.processes, 1);
    reader.sweep();
    // A second member, and one that does not exist: with no process created since, the list
    // is not read again; once one was, both are listed, the missing one skipped.
    Deno.writeTextFileSync(`${dir}/cgroup.procs`, `${Deno.pid}\n${other.pid}\n${2 ** 22 + 1}\n`);
    reader.begin();
    assert.equal(reader.totals(dir)?.processes, 1, "the list kept");
    reader.sweep();
    lastPid++;
    reader.begin();
    assert.equal(reader.totals(dir)?.processes, 2, "listed again");
  } finally {
    other.kill("SIGKILL");
    await other.status;
    reader.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
