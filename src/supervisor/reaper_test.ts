import assert from "node:assert/strict";
import {
  becomeSubreaper,
  childrenOf,
  findLeftovers,
  holdsPipe,
  Orphans,
  outputPipes,
  trackSpawn,
  Trail,
  withDescendants,
} from "./reaper.ts";
import { readProcStat } from "./proc_stat.ts";
import { processAlive, waitFor } from "../../tests/harness.ts";

/** Spawn `script` through setsid, as services are, with piped output; registered as Deno's. */
function spawnService(script: string): { child: Deno.ChildProcess; release: () => void } {
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, release: trackSpawn(child.pid) };
}

/** The pids a script printed as `LABEL PID` lines, by label, once `labels` are all there. */
async function printedPids(
  stream: ReadableStream<Uint8Array>,
  labels: readonly string[],
): Promise<Record<string, number>> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const found: Record<string, number> = {};
  let text = "";
  while (labels.some((label) => !(label in found))) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    for (const [, label, pid] of text.matchAll(/^(\w+) (\d+)$/gm)) found[label!] = Number(pid);
  }
  reader.releaseLock();
  return found;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

Deno.test("childrenOf() and withDescendants() follow a process tree", async () => {
  const { child, release } = spawnService(
    "sh -c 'echo inner $$; sleep 30 & echo sleep $!; wait' & wait",
  );
  const pids = Object.values(await printedPids(child.stdout, ["inner", "sleep"]));
  try {
    await waitFor(() => withDescendants([child.pid]).length === 3, { message: "3 processes" });
    const tree = withDescendants([child.pid]);
    assert.equal(tree[0], child.pid, "the root first");
    assert.deepEqual(new Set(tree), new Set([child.pid, ...pids]));
    assert.ok(childrenOf(child.pid).length === 1, "sh has one child");
  } finally {
    killAll([child.pid, ...pids]);
    await child.status;
    release();
    await child.stderr.cancel();
  }
});

Deno.test("outputPipes(), holdsPipe() and findLeftovers() find what holds a child's output", async () => {
  const { child, release } = spawnService(
    "setsid sh -c 'echo escapee $$; exec sleep 30' & sleep 30 & echo sleeper $!; wait",
  );
  const pipes = outputPipes(child.pid);
  const { escapee, sleeper } = await printedPids(child.stdout, ["escapee", "sleeper"]);
  try {
    assert.equal(pipes.length, 2, `stdout and stderr: ${pipes}`);
    assert.ok(pipes.every((p) => /^pipe:\[\d+\]$/.test(p)));
    assert.ok(holdsPipe(escapee!, new Set(pipes)));
    assert.equal(holdsPipe(Deno.pid, new Set(["pipe:[1]"])), false);
    const [bySession, byPipe, none] = await findLeftovers([
      { groups: new Set([child.pid]), pipes: new Set() },
      { groups: new Set(), pipes: new Set(pipes) },
      { groups: new Set([child.pid]), pipes: new Set(), startedAtOrAfter: Number.MAX_SAFE_INTEGER },
    ]);
    assert.deepEqual(new Set(bySession), new Set([child.pid, sleeper]), "the session only");
    assert.deepEqual(new Set(byPipe), new Set([child.pid, sleeper, escapee]), "every holder");
    assert.deepEqual(none, [], "nothing started that late");
  } finally {
    killAll([child.pid, escapee!, sleeper!]);
    await child.status;
    release();
    await child.stderr.cancel();
  }
});

Deno.test("Orphans attributes a service's orphans, reaps them, and leaves Deno's children alone", async () => {
  assert.equal(becomeSubreaper(), undefined, "this test process adopts orphans");
  const orphans = new Orphans();
  // An escapee in a session of its own that keeps the output, and a daemon
  // that closed it; the main process exits at once.
  const { child, release } = spawnService(
    "setsid sh -c 'echo escapee $$; exec sleep 30' & " +
      "(setsid sh -c 'exec >/dev/null 2>&1; exec sleep 30' & echo daemon $!); exit 0",
  );
  const trail = new Trail(child.pid, outputPipes(child.pid));
  const other = new Trail(2 ** 22 + 9, []);
  orphans.add(other);
  orphans.add(trail);
  const { escapee, daemon } = await printedPids(child.stdout, ["escapee", "daemon"]);
  try {
    await child.status; // Deno reaps its own child, sweeps or not
    orphans.sweep();
    release();
    trail.endedAtMs = Date.now();
    await waitFor(() => {
      orphans.sweep();
      return orphans.of(trail).length === 2;
    }, { message: "both orphans adopted and attributed" });
    assert.deepEqual(new Set(orphans.of(trail)), new Set([escapee, daemon]));
    assert.deepEqual(orphans.of(other), []);
    assert.equal(readProcStat(escapee!)?.ppid, Deno.pid, "adopted by this process");

    // A child Deno spawned and waits for: its status stays Deno's. Deno reaps
    // it from the event loop, so while this code runs, it stays a zombie.
    const { child: own, release: ownRelease } = spawnService("exit 7");
    const deadline = Date.now() + 10_000;
    while (readProcStat(own.pid)?.state !== "Z" && Date.now() < deadline) {
      // busy: no await, so that Deno cannot reap it first
    }
    assert.equal(readProcStat(own.pid)?.state, "Z");
    orphans.sweep();
    assert.equal((await own.status).code, 7);
    ownRelease();
    await own.stdout.cancel();
    await own.stderr.cancel();

    killAll([escapee!, daemon!]);
    await waitFor(() => {
      orphans.sweep();
      return orphans.of(trail).length === 0;
    }, { message: "the killed orphans reaped" });
    assert.equal(readProcStat(escapee!), undefined, "no zombie left");
    assert.equal(readProcStat(daemon!), undefined, "no zombie left");
  } finally {
    killAll([escapee!, daemon!]);
    orphans.delete(trail);
    orphans.delete(other);
    await child.stderr.cancel();
  }
  assert.equal(await processAlive(escapee!), false);
});
