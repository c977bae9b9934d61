/**
 * Atomic registry writes: a writer killed with SIGKILL in the middle of a
 * loop of writes leaves a registry that loads, equal to one of the versions
 * written, and a valid `.bak`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadRegistry } from "../src/registry/load.ts";
import { writeFileAtomic } from "../src/registry/persist.ts";
import { removeDir, ROOT, tempDir, waitFor } from "./harness.ts";

/** A registry big enough that one write takes a while: `count` services. */
function registry(count: number, tag: string) {
  return {
    services: Array.from({ length: count }, (_, i) => ({
      name: `svc-${i}`,
      cmd: "sleep",
      args: [tag, "x".repeat(10_000)],
    })),
  };
}

const WRITER = `
import { writeFileAtomic } from ${JSON.stringify(`${ROOT}/src/registry/persist.ts`)};
const [path, a, b] = Deno.args;
const texts = [await Deno.readTextFile(a), await Deno.readTextFile(b)];
const out = Deno.stdout;
for (let i = 0; ; i++) {
  await writeFileAtomic(path, texts[i % 2]);
  out.writeSync(new TextEncoder().encode(i + "\\n"));
}
`;

Deno.test("writeFileAtomic() killed with SIGKILL mid-loop leaves a valid registry and .bak", async () => {
  const dir = await tempDir();
  try {
    const texts = ["A", "B"].map((tag) => JSON.stringify(registry(300, tag), null, 2) + "\n");
    await Deno.writeTextFile(`${dir}/a.json`, texts[0]!);
    await Deno.writeTextFile(`${dir}/b.json`, texts[1]!);
    await Deno.writeTextFile(`${dir}/writer.ts`, WRITER);
    const path = `${dir}/registry.json`;
    await Deno.writeTextFile(path, texts[1]!);
    for (let round = 0; round < 8; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-all",
          `${dir}/writer.ts`,
          path,
          `${dir}/a.json`,
          `${dir}/b.json`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let written = 0;
      const reading = (async () => {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          written += chunk.split("\n").length - 1;
        }
      })();
      const target = 1 + Math.floor(Math.random() * 8);
      try {
        await waitFor(() => written >= target, { message: `${target} writes` });
      } finally {
        child.kill("SIGKILL");
        await child.status;
        await reading;
      }
      const text = await Deno.readTextFile(path);
      assert.ok(texts.includes(text), `round ${round}: the registry is one of the two versions`);
      assert.equal((await loadRegistry(path)).services.length, 300);
      assert.ok(texts.includes(await Deno.readTextFile(`${path}.bak`)), "the .bak is whole");
    }
    await writeFileAtomic(path, texts[0]!);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(
      left,
      ["a.json", "b.json", "registry.json", "registry.json.bak", "writer.ts"],
      "temporary files of the killed writers are removed by the next write",
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("writeFileAtomic() keeps the previous content as .bak and the file mode", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/registry.json`;
    await Deno.writeTextFile(path, "one\n", { mode: 0o640 });
    await Deno.chmod(path, 0o640);
    await writeFileAtomic(path, "two\n");
    assert.equal(await Deno.readTextFile(path), "two\n");
    assert.equal(await Deno.readTextFile(`${path}.bak`), "one\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    await writeFileAtomic(path, "three\n");
    assert.equal(await Deno.readTextFile(`${path}.bak`), "two\n");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["registry.json", "registry.json.bak"], "no temporary file left");
  } finally {
    await removeDir(dir);
  }
});
