import assert from "node:assert/strict";
import { pipeToLog } from "../logs/capture.ts";
import { cancellablePipe } from "./pipes.ts";
import { processAlive, waitFor } from "../../tests/harness.ts";

/** A sink that keeps what it is given. */
function memorySink(): { write(chunk: Uint8Array): Promise<void>; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    write(chunk) {
      chunks.push(chunk.slice());
      return Promise.resolve();
    },
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test("cancellablePipe() passes a child's whole output through pipeToLog", async () => {
  const child = new Deno.Command("sh", {
    args: ["-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const pipe = cancellablePipe(child.stdout);
  const sink = memorySink();
  await pipeToLog(pipe.stream, sink);
  await child.status;
  const lines = sink.text().split("\n");
  assert.equal(lines.length, 3001);
  assert.equal(lines[0], "line 0");
  assert.equal(lines[2999], "line 2999");
  pipe.cancel(); // after the end: nothing to do
});

Deno.test("cancellablePipe().cancel() closes the pipe while an escaped process holds its write end", async () => {
  const before = openFds();
  const child = new Deno.Command("sh", {
    args: ["-c", "setsid sh -c 'echo $$; exec sleep 30' &"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const pipe = cancellablePipe(child.stdout);
  let text = "";
  const copying = pipeToLog(pipe.stream, {
    write(chunk) {
      text += new TextDecoder().decode(chunk);
      return Promise.resolve();
    },
  });
  const escapee = Number(await waitFor(() => /^(\d+)\n/.exec(text)?.[1], { message: "its pid" }));
  try {
    assert.equal((await child.status).success, true);
    assert.ok(await processAlive(escapee), "the escaped process holds the pipe");
    assert.ok(openFds() > before, "the read end is open");
    pipe.cancel();
    await copying;
    await waitFor(() => openFds() === before, { message: "the read end to be closed" });
  } finally {
    Deno.kill(escapee, "SIGKILL");
  }
});
