/**
 * Registry files as deployments have them: a registry reached through a
 * symbolic link takes runtime changes in the file it leads to, keeping its
 * mode under the unit's umask, and a registry larger than the cap is refused
 * by `run`, `validate`, reload and SIGHUP without reading it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RegistryError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/registry/persist.ts";
import { loadRegistry, MAX_REGISTRY_BYTES } from "../src/registry/load.ts";
import {
  api,
  exists,
  FAST,
  freePort,
  killMatching,
  processesMatching,
  removeDir,
  runArgs,
  runMain,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

// deno-lint-ignore no-explicit-any
type Body = any;

function sleeper(name: string, seconds: number) {
  return { ...FAST, name, cmd: "sleep", args: [String(seconds)] };
}

Deno.test("writeFileAtomic() through a symbolic link replaces the file it leads to, .bak beside it", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/conf`);
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/conf/robot.json`, "one\n");
    await Deno.symlink("../conf/robot.json", `${dir}/etc/registry.json`);
    await Deno.symlink(`${dir}/etc/registry.json`, `${dir}/registry.json`); // a link to a link
    for (const link of [`${dir}/etc/registry.json`, `${dir}/registry.json`]) {
      const before = await Deno.readTextFile(`${dir}/conf/robot.json`);
      await writeFileAtomic(link, `${before}+\n`);
      assert.ok((await Deno.lstat(link)).isSymlink, `${link} is still a link`);
      assert.equal(await Deno.readTextFile(`${dir}/conf/robot.json`), `${before}+\n`);
      assert.equal(await Deno.readTextFile(`${dir}/conf/robot.json.bak`), before);
    }
    assert.equal(await Deno.readLink(`${dir}/etc/registry.json`), "../conf/robot.json");
    assert.deepEqual([...Deno.readDirSync(`${dir}/etc`)].map((e) => e.name), ["registry.json"]);
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/conf`)].map((e) => e.name).sort(),
      ["robot.json", "robot.json.bak"],
    );
  } finally {
    await removeDir(dir);
  }
});

Deno.test("POST and DELETE /api/services on a symlinked registry update the file it leads to", async () => {
  const dir = await tempDir();
  const [a, b] = [uniqueSeconds(), uniqueSeconds()];
  try {
    await Deno.mkdir(`${dir}/conf`);
    const target = await writeRegistry(
      `${dir}/conf`,
      { services: [sleeper("a", a)] },
      "robot.json",
    );
    const link = `${dir}/registry.json`;
    await Deno.symlink(target, link);
    await using orch = await startOrchestrator({ registry: link, dir });

    const added = await api(orch.url, "POST", "/api/services", { body: sleeper("b", b) });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.ok((await Deno.lstat(link)).isSymlink, "the registry is still a link");
    assert.equal(await Deno.realPath(link), target);
    assert.deepEqual(
      JSON.parse(await Deno.readTextFile(target)).services.map((s: Body) => s.name),
      ["a", "b"],
    );
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${target}.bak`)).services.length, 1);

    const removed = await api(orch.url, "DELETE", "/api/services/a");
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.ok((await Deno.lstat(link)).isSymlink, "the registry is still a link");
    assert.deepEqual(
      JSON.parse(await Deno.readTextFile(target)).services.map((s: Body) => s.name),
      ["b"],
    );
    const reloaded = await api(orch.url, "POST", "/api/services/reload");
    assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
    assert.deepEqual(reloaded.body.untouched, ["b"], "the running registry is the file's");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).includes("registry.json.bak"),
      false,
    );
  } finally {
    await killMatching(String(a));
    await killMatching(String(b));
    await removeDir(dir);
  }
});

/** Make `path` a sparse file of `bytes` bytes (nothing is written, nothing is read). */
async function sparseFile(path: string, bytes: number): Promise<void> {
  await Deno.writeTextFile(path, "");
  await Deno.truncate(path, bytes);
}

const TOO_LARGE = (path: string, bytes: number) =>
  `Invalid registry ${JSON.stringify(path)}:\n  file too large: ${bytes} bytes (${
    bytes / 1_048_576
  } MiB); a registry may hold at most ${MAX_REGISTRY_BYTES} bytes (4 MiB)`;

Deno.test("loadRegistry() reads a registry of MAX_REGISTRY_BYTES and refuses one byte more", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/registry.json`;
    const body = JSON.stringify({ services: [sleeper("a", 1)] });
    await Deno.writeTextFile(path, body + " ".repeat(MAX_REGISTRY_BYTES - body.length));
    assert.equal((await Deno.stat(path)).size, MAX_REGISTRY_BYTES);
    assert.deepEqual((await loadRegistry(path)).services.map((s) => s.name), ["a"]);
    await Deno.writeTextFile(path, " ", { append: true });
    await assert.rejects(loadRegistry(path), (error: Error) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(
        error.problems[0]?.message,
        `file too large: ${
          MAX_REGISTRY_BYTES + 1
        } bytes (4 MiB); a registry may hold at most ${MAX_REGISTRY_BYTES} bytes (4 MiB)`,
      );
      return true;
    });
  } finally {
    await removeDir(dir);
  }
});

Deno.test("edgevisor validate and run refuse a 100 MiB registry with exit code 2, starting nothing", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/registry.json`;
    await sparseFile(path, 100 * 1_048_576);
    const validate = await runMain(["validate", path]);
    assert.equal(validate.code, 2, validate.stderr);
    assert.ok(
      validate.stderr.includes(
        `file too large: 104857600 bytes (100 MiB); a registry may hold at most ${MAX_REGISTRY_BYTES} bytes (4 MiB)`,
      ),
      validate.stderr,
    );
    const run = await runMain(runArgs(path, freePort(), dir));
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.includes(TOO_LARGE(path, 100 * 1_048_576)), run.stderr);
    assert.ok(!exists(`${dir}/state`), "nothing started");
  } finally {
    await removeDir(dir);
  }
});

Deno.test("reload and SIGHUP refuse a registry grown past the cap, leaving the services running", async () => {
  const dir = await tempDir();
  const n = uniqueSeconds();
  try {
    const path = await writeRegistry(dir, { services: [sleeper("a", n)] });
    await using orch = await startOrchestrator({ registry: path, dir });
    const running = await waitFor(async () => {
      const status = await api(orch.url, "GET", "/api/services/status/a");
      return status.body.status === "running" && status.body.pid as number;
    }, { message: "a running" });
    await sparseFile(path, 100 * 1_048_576);

    const reload = await api(orch.url, "POST", "/api/services/reload");
    assert.equal(reload.status, 400, JSON.stringify(reload.body));
    assert.equal(reload.body.ok, false);
    assert.equal(reload.body.error, TOO_LARGE(path, 100 * 1_048_576));

    Deno.kill(orch.pid, "SIGHUP");
    await waitFor(() => orch.stderr().includes("reload failed, nothing changed"), {
      message: "the SIGHUP reload to fail",
    });
    assert.match(
      orch.stderr(),
      /reload failed, nothing changed: Invalid registry ".*": file too large: 104857600 bytes \(100 MiB\); a registry may hold at most 4194304 bytes \(4 MiB\)/,
    );
    const status = await api(orch.url, "GET", "/api/services/status/a");
    assert.equal(status.body.status, "running");
    assert.equal(status.body.pid, running, "the service was not touched");
    assert.deepEqual(await processesMatching(String(n)), [running]);
  } finally {
    await killMatching(String(n));
    await removeDir(dir);
  }
});

Deno.test("writeFileAtomic() keeps the file's mode under the umask of the systemd unit (0027)", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/registry.json`;
    await Deno.writeTextFile(path, "one\n");
    await Deno.chmod(path, 0o644);
    const writer = `${dir}/writer.ts`;
    await Deno.writeTextFile(
      writer,
      `import { writeFileAtomic } from ${
        JSON.stringify(new URL("../src/registry/persist.ts", import.meta.url).href)
      };\nawait writeFileAtomic(Deno.args[0], "two\\n");\n`,
    );
    const out = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'umask 0027 && exec "$0" run --quiet --allow-all "$1" "$2"',
        Deno.execPath(),
        writer,
        path,
      ],
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(await Deno.readTextFile(path), "two\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(`${path}.bak`)).mode! & 0o777, 0o644);
  } finally {
    await removeDir(dir);
  }
});
