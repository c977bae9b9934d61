import assert from "node:assert/strict";
import { waitFor } from "../../tests/harness.ts";
import { MetricsSampler, type MetricsTarget } from "./metrics.ts";
import { parseProcStat, type ProcStat } from "./proc_stat.ts";
import { parseLastPid, ProcScanner, type ProcScannerOptions } from "./proc_scan.ts";

/** A detached `sh -c script` (or another shell's) (its own session and group); stdin piped. */
function spawnGroup(script: string, shell = "sh"): Deno.ChildProcess {
  return new Deno.Command(shell, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
}

async function end(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // gone
  }
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  await child.status;
}

/**
 * Number of `/proc/{pid}/stat` files this process holds open (other
 * descriptors may come and go with what earlier tests left closing).
 */
function openFds(): number {
  let count = 0;
  for (const fd of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (/^\/proc\/\d+\/stat$/.test(Deno.readLinkSync(`/proc/self/fd/${fd.name}`))) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** The first line `child` writes to stdout. */
async function firstLine(child: Deno.ChildProcess): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return text.slice(0, text.indexOf("\n"));
}

/** Write one line to the stdin of `child`. */
async function writeLine(child: Deno.ChildProcess, line: string): Promise<void> {
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${line}\n`));
  writer.releaseLock();
}

/**
 * A scanner whose last pid moves only by `relist()`: the scan after it lists
 * `/proc`, the others re-read kept files (until `listEvery`).
 */
function steppedScanner(
  parse: (bytes: Uint8Array) => ProcStat | undefined = parseProcStat,
  options: ProcScannerOptions = {},
) {
  let lastPid = 1;
  const scanner = new ProcScanner(parse, { ...options, lastPid: () => lastPid });
  return {
    scanner,
    relist: () => {
      lastPid++;
    },
    /** Scan `wanted`, listing `/proc` each time, until `done` holds for the rows; gives them. */
    listUntil: (
      wanted: ReadonlySet<number>,
      done: (rows: ProcStat[]) => boolean,
      message: string,
    ) =>
      waitFor(() => {
        lastPid++;
        const rows = scanner.scan(wanted);
        return done(rows) && rows;
      }, { message }),
  };
}

/** `parseProcStat`, with the processes `hidden` names read as in group and session 1 (another session). */
function parseHiding(hidden: (pid: number) => boolean) {
  return (bytes: Uint8Array): ProcStat | undefined => {
    const row = parseProcStat(bytes);
    return row && hidden(row.pid) ? { ...row, pgrp: 1, session: 1 } : row;
  };
}

/** Rows of the group `pgrp`. */
const groupOf = (rows: ProcStat[], pgrp: number) => rows.filter((r) => r.pgrp === pgrp);

Deno.test("ProcScanner.scan() skips outsiders and still finds members forked later", async () => {
  const child = spawnGroup("sleep 60 & read line; sleep 60 & wait");
  // No last pid: every scan lists /proc.
  const scanner = new ProcScanner(parseProcStat, { lastPid: () => undefined });
  try {
    const wanted = new Set([child.pid]);
    const members = () => scanner.scan(wanted).filter((r) => r.pgrp === child.pid).length;
    await waitFor(() => members() === 2, { message: "sh and one sleep" });
    assert.equal(members(), 2);
    assert.ok(scanner.skipped > 0, "this test process is skipped once it is known");
    await writeLine(child, "go");
    await waitFor(() => members() === 3, { message: "the sleep forked later" });
  } finally {
    scanner.close();
    await end(child);
  }
});

Deno.test("ProcScanner.scan() finds a member forked between two scans at the next scan", async () => {
  const child = spawnGroup("sleep 60 & read line; sleep 60 & echo $!; wait");
  const scanner = new ProcScanner(parseProcStat);
  try {
    const wanted = new Set([child.pid]);
    const members = () => scanner.scan(wanted).filter((r) => r.pgrp === child.pid);
    await waitFor(() => members().length === 2, { message: "sh and one sleep" });
    await writeLine(child, "go");
    const forked = Number(await firstLine(child));
    assert.ok(forked > 0);
    // The fork changed the last pid, so this one scan lists /proc again.
    const rows = members();
    assert.ok(rows.some((r) => r.pid === forked), "the sleep forked after the last listing");
    assert.equal(rows.length, 3);
  } finally {
    scanner.close();
    await end(child);
  }
});

Deno.test("ProcScanner.scan() reads the session of a group whose leader is not a session leader", async () => {
  // With job control, the background sleep gets a group of its own inside the bash session.
  const child = spawnGroup("set -m; sleep 60 & echo $!; wait", "bash");
  let sleepPid = 0;
  try {
    sleepPid = Number(await firstLine(child));
    assert.ok(sleepPid > 0 && sleepPid !== child.pid);
    // The same last pid throughout: the first scan lists /proc, the others re-read kept files.
    const scanner = new ProcScanner(parseProcStat, { lastPid: () => 1 });
    const wanted = new Set([sleepPid]);
    for (let i = 0; i < 3; i++) {
      const rows = scanner.scan(wanted);
      const leader = rows.find((r) => r.pid === sleepPid);
      assert.equal(leader?.pgrp, sleepPid, `scan ${i + 1}: the group leader`);
      assert.ok(rows.some((r) => r.pid === child.pid), `scan ${i + 1}: bash, in the same session`);
    }
    assert.equal(scanner.listings, 1);
    scanner.close();
  } finally {
    // The sleep's group is not bash's: it is ended on its own.
    if (sleepPid > 0) {
      try {
        Deno.kill(-sleepPid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await end(child);
  }
});

Deno.test("ProcScanner.scan() re-reads kept members between listings and drops the dead", async () => {
  const child = spawnGroup("sleep 60 & sleep 60 & wait");
  const { scanner, listUntil } = steppedScanner();
  try {
    const wanted = new Set([child.pid]);
    const members = () => groupOf(scanner.scan(wanted), child.pid);
    const before = openFds();
    const listed = groupOf(
      await listUntil(wanted, (rows) => groupOf(rows, child.pid).length === 3, "sh and two sleeps"),
      child.pid,
    );
    const listings = scanner.listings;
    assert.equal(scanner.kept, 3);
    assert.equal(openFds(), before + 3, "one kept file per member");
    const again = members();
    assert.equal(scanner.listings, listings, "re-read without a listing");
    assert.deepEqual(again.map((r) => r.pid), listed.map((r) => r.pid));
    const sleeper = again.find((r) => r.pid !== child.pid)!;
    Deno.kill(sleeper.pid, "SIGKILL");
    await waitFor(() => members().every((r) => r.pid !== sleeper.pid), {
      message: "the killed sleep dropped",
    });
    assert.equal(members().length, 2);
    assert.equal(scanner.listings, listings, "a member that died needs no listing");
    assert.equal(openFds(), before + 2, "its file is closed");
    scanner.close();
    assert.equal(openFds(), before, "close() closes every kept file");
  } finally {
    scanner.close();
    await end(child);
  }
});

Deno.test("ProcScanner.scan() lists /proc only when a process was created, the groups changed, a member left, or every listEvery scans", async () => {
  const child = spawnGroup("sleep 60 & wait");
  let moved = 0;
  // A member that "moved" to another group and session, as after setpgid or setsid.
  const { scanner, relist, listUntil } = steppedScanner(
    parseHiding((pid) => pid === moved),
    { listEvery: 3 },
  );
  try {
    const wanted = new Set([child.pid]);
    const members = () => groupOf(scanner.scan(wanted), child.pid);
    await listUntil(wanted, (rows) => groupOf(rows, child.pid).length === 2, "sh and one sleep");
    const listed = scanner.listings;
    const first = members();
    assert.equal(scanner.listings, listed, "same last pid: no listing");
    assert.deepEqual(
      members().map((r) => r.pid),
      first.map((r) => r.pid),
      "the same rows, re-read",
    );
    assert.equal(scanner.listings, listed);
    members();
    assert.equal(scanner.listings, listed + 1, "the 3rd scan since the listing lists");
    relist();
    members();
    assert.equal(scanner.listings, listed + 2, "a new last pid lists");
    scanner.scan(new Set([child.pid, 1]));
    assert.equal(scanner.listings, listed + 3, "other groups list");
    members();
    assert.equal(scanner.listings, listed + 4, "back to the first groups lists");
    moved = first.find((r) => r.pid !== child.pid)!.pid;
    const rows = members();
    assert.equal(scanner.listings, listed + 5, "a member that left lists");
    assert.deepEqual(rows.map((r) => r.pid), [child.pid]);
    assert.equal(scanner.kept, 1);
  } finally {
    scanner.close();
    await end(child);
  }
});

Deno.test("ProcScanner.scan() finds a service first seen before its setsid ran", async () => {
  const child = spawnGroup("sleep 60 & wait");
  // Until `joined`, the service's own process reads as if still in another group and
  // session, as a process spawned through setsid does for a moment.
  let joined = false;
  const parse = parseHiding((pid) => pid === child.pid && !joined);
  for (const listEvery of [30, 1]) {
    const { scanner, listUntil } = steppedScanner(parse, { listEvery });
    try {
      joined = false;
      const wanted = new Set([child.pid]);
      const leader = () => scanner.scan(wanted).find((r) => r.pid === child.pid);
      await listUntil(
        wanted,
        (rows) => groupOf(rows, child.pid).length > 0,
        "the sleep of the group",
      );
      assert.equal(leader()?.pgrp, 1, "the leader, read although it looks like an outsider");
      joined = true;
      const listings = scanner.listings;
      assert.equal(leader()?.pgrp, child.pid, `listEvery ${listEvery}: found once in its group`);
      if (listEvery > 1) assert.equal(scanner.listings, listings, "from its kept file");
    } finally {
      scanner.close();
    }
  }
  await end(child);
});

Deno.test("ProcScanner.scan() reads members beyond maxKept by path", async () => {
  const child = spawnGroup("sleep 60 & sleep 60 & wait");
  const { scanner, listUntil } = steppedScanner(parseProcStat, { maxKept: 1 });
  try {
    const wanted = new Set([child.pid]);
    const members = () => groupOf(scanner.scan(wanted), child.pid);
    await listUntil(wanted, (rows) => groupOf(rows, child.pid).length === 3, "sh and two sleeps");
    const listings = scanner.listings;
    assert.equal(scanner.kept, 1);
    assert.equal(members().length, 3, "every member re-read");
    assert.equal(scanner.listings, listings);
  } finally {
    scanner.close();
    await end(child);
  }
});

Deno.test("parseLastPid() reads the 5th field of /proc/loadavg", () => {
  assert.equal(parseLastPid("0.87 0.98 1.09 1/279 31179\n"), 31179);
  assert.equal(parseLastPid("0.87 0.98 1.09 1/279\n"), undefined);
  assert.equal(parseLastPid("0.87 0.98 1.09 1/279 x\n"), undefined);
  assert.equal(parseLastPid(""), undefined);
});

Deno.test("MetricsSampler.stop() closes the files its scanner keeps open", async () => {
  const child = spawnGroup("sleep 60 & wait");
  const target: MetricsTarget = {
    name: "s",
    pid: child.pid,
    maxMemoryBytes: undefined,
    metrics: undefined,
    recycle() {},
  };
  const sampler = new MetricsSampler({ intervalMs: 0, targets: () => [target] });
  try {
    const before = openFds();
    await waitFor(() => {
      sampler.sample();
      return target.metrics?.processes === 2;
    }, { message: "sh and its sleep sampled" });
    assert.ok(openFds() > before, "stat files kept open");
    sampler.stop();
    assert.equal(openFds(), before);
  } finally {
    sampler.stop();
    await end(child);
  }
});
