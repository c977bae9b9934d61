import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { killPid, removeDir, tempDir, waitFor } from "../tests/harness.ts";
import { LOCK_FILE, lockStateDirectory, StateDirectoryInUseError } from "./state_lock.ts";

const STATE_LOCK = fileURLToPath(new URL("./state_lock.ts", import.meta.url));

/**
 * A process that says `ready`, waits for a line on stdin, tries the lock, and
 * says `locked CHILD` (having spawned a `sleep` child that outlives it) or
 * `busy MESSAGE`; a holder keeps the lock until its stdin ends.
 */
const CONTENDER = `
import { lockStateDirectory } from ${JSON.stringify(STATE_LOCK)};
const say = (line) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\\n"));
const line = new Uint8Array(64);
say("ready");
await Deno.stdin.read(line);
let lock;
try {
  lock = lockStateDirectory(Deno.args[0]);
} catch (error) {
  say("busy " + error.message);
  Deno.exit(0);
}
const child = new Deno.Command("sleep", { args: ["3600"], stdin: "null", stdout: "null", stderr: "null" }).spawn();
say("locked " + child.pid);
while ((await Deno.stdin.read(line)) !== null);
lock.release();
`;

/** One contender: its process, and the lines it printed so far. */
interface Contender {
  child: Deno.ChildProcess;
  lines: string[];
  stdin: WritableStreamDefaultWriter<Uint8Array>;
  done: Promise<void>;
}

function spawnContender(script: string, stateDir: string): Contender {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", script, stateDir],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  return { child, lines, stdin: child.stdin.getWriter(), done };
}

/** Whether util-linux `flock -n` finds `path` free (it takes and drops the lock). */
async function flockFree(path: string): Promise<boolean> {
  const out = await new Deno.Command("flock", { args: ["-n", path, "true"] }).output();
  return out.code === 0;
}

/** Start `count` contenders, let them all try at the same instant; their answers. */
async function race(script: string, stateDir: string, count: number): Promise<Contender[]> {
  const contenders = Array.from({ length: count }, () => spawnContender(script, stateDir));
  await waitFor(() => contenders.every((c) => c.lines.includes("ready")), {
    timeoutMs: 30_000,
    message: "every contender ready",
  });
  const go = new TextEncoder().encode("go\n");
  await Promise.all(contenders.map((c) => c.stdin.write(go)));
  await waitFor(() => contenders.every((c) => c.lines.length >= 2), {
    message: "every contender's answer",
  });
  return contenders;
}

Deno.test("lockStateDirectory() gives the lock to exactly one of many processes at once, and to the next after a SIGKILL", async () => {
  const dir = await tempDir("edgevisor_lock_");
  const script = `${dir}/contender.ts`;
  await Deno.writeTextFile(script, CONTENDER);
  const stateDir = `${dir}/state`;
  await Deno.mkdir(stateDir);
  const lockFile = `${stateDir}/${LOCK_FILE}`;
  const everyone: Contender[] = [];
  const sleeps: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      const contenders = await race(script, stateDir, round === 0 ? 8 : 5);
      everyone.push(...contenders);
      const winners = contenders.filter((c) => c.lines[1]!.startsWith("locked "));
      assert.equal(
        winners.length,
        1,
        `round ${round}: ${JSON.stringify(contenders.map((c) => c.lines))}`,
      );
      const holder = winners[0]!;
      const sleep = Number(holder.lines[1]!.slice("locked ".length));
      sleeps.push(sleep);
      for (const loser of contenders.filter((c) => c !== holder)) {
        const message = loser.lines[1]!.slice("busy ".length);
        const match = /^another edgevisor(?: \(pid (\d+)\))? uses the state directory "(.*)"$/
          .exec(message);
        assert.ok(match, message);
        assert.equal(match[2], stateDir);
        // The pid is there once the holder has written it, and then it is the holder's.
        if (match[1] !== undefined) assert.equal(Number(match[1]), holder.child.pid);
      }
      assert.equal((await Deno.readTextFile(lockFile)).trim(), String(holder.child.pid));
      // A real flock(2), seen by another program, and not inherited by the holder's child.
      assert.equal(await flockFree(lockFile), false, "flock(1) sees the lock");
      const fds = [...Deno.readDirSync(`/proc/${sleep}/fd`)].map((e) =>
        Deno.readLinkSync(`/proc/${sleep}/fd/${e.name}`)
      );
      assert.ok(!fds.includes(lockFile), `the child holds no descriptor of the lock: ${fds}`);

      killPid(holder.child.pid);
      await holder.child.status;
      assert.ok(Deno.statSync(`/proc/${sleep}`).isDirectory, "the holder's child outlives it");
      assert.equal(await flockFree(lockFile), true, "the lock went with the holder");
    }
  } finally {
    for (const c of everyone) killPid(c.child.pid);
    for (const pid of sleeps) killPid(pid);
    for (const c of everyone) {
      await c.child.status;
      await c.stdin.close().catch(() => {});
      await c.done;
    }
    await removeDir(dir);
  }
});

Deno.test("lockStateDirectory() refuses a second lock with the holder's pid; release() lets it go once", async () => {
  const dir = await tempDir("edgevisor_lock_");
  try {
    const lock = lockStateDirectory(dir);
    assert.equal(lock.path, `${dir}/${LOCK_FILE}`);
    assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
    assert.throws(
      () => lockStateDirectory(dir),
      (error: unknown) =>
        error instanceof StateDirectoryInUseError && error.pid === Deno.pid &&
        error.stateDir === dir &&
        error.message === `another edgevisor (pid ${Deno.pid}) uses the state directory "${dir}"`,
    );
    lock.release();
    lock.release();
    assert.equal(await Deno.readTextFile(lock.path), "", "the file stays, emptied");
    lockStateDirectory(dir).release();
  } finally {
    await removeDir(dir);
  }
});

Deno.test("lockStateDirectory() says so when the directory is missing", () => {
  assert.throws(
    () => lockStateDirectory("/nonexistent/edgevisor-state"),
    /^Error: cannot lock "\/nonexistent\/edgevisor-state\/edgevisor.lock": /,
  );
});

Deno.test("StateDirectoryInUseError leaves the pid out when it is unknown", () => {
  assert.equal(
    new StateDirectoryInUseError("/var/lib/edgevisor", undefined).message,
    'another edgevisor uses the state directory "/var/lib/edgevisor"',
  );
});
