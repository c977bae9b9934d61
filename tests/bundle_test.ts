/**
 * edgevisor is self-contained: `deno bundle` makes one JavaScript file that
 * runs alone from an empty directory, with an empty `DENO_DIR` and nothing
 * fetched (no remote modules, no npm, cache only).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FAST,
  freePort,
  killGroup,
  processAlive,
  removeDir,
  ROOT,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

/** Flags that forbid every download: only the bundle itself is run. */
const OFFLINE = ["--no-config", "--no-lock", "--no-remote", "--no-npm", "--cached-only"];

function offlineEnv(denoDir: string): Record<string, string> {
  return {
    DENO_DIR: denoDir,
    NO_COLOR: "1",
    // Any attempt to reach the network fails at once.
    HTTPS_PROXY: "http://127.0.0.1:9",
    HTTP_PROXY: "http://127.0.0.1:9",
    NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
  };
}

async function output(
  cmd: Deno.Command,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cmd.output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("the bundle runs alone from an empty directory with an empty DENO_DIR", async () => {
  const tmp = await tempDir();
  try {
    const built = await output(
      new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--quiet",
          "--platform=deno",
          "--output",
          `${tmp}/build/edgevisor.js`,
          "main.ts",
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }),
    );
    assert.equal(built.code, 0, built.stderr);
    const runDir = `${tmp}/run`;
    const denoDir = `${tmp}/deno_dir`;
    await Deno.mkdir(runDir);
    await Deno.mkdir(denoDir);
    await Deno.copyFile(`${tmp}/build/edgevisor.js`, `${runDir}/edgevisor.js`);
    await removeDir(`${tmp}/build`);
    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-all",
          "--unstable-net",
          ...OFFLINE,
          "edgevisor.js",
          ...args,
        ],
        cwd: runDir,
        env: offlineEnv(denoDir),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      });

    const version = await output(deno(["--version"]));
    assert.equal(version.code, 0, version.stderr);
    assert.match(
      version.stdout,
      new RegExp(
        `^edgevisor \\d+\\.\\d+\\.\\d+ \\(deno ${Deno.version.deno}, ${Deno.build.target}\\)\\n$`,
      ),
    );

    const registryDir = `${tmp}/etc`;
    await Deno.mkdir(registryDir);
    const seconds = uniqueSeconds();
    const registry = await writeRegistry(registryDir, {
      defaults: FAST,
      services: [{ name: "sleeper", cmd: "sleep", args: [String(seconds)] }],
    });
    const port = freePort();
    const child = deno(["run", "--registry", registry, "--listen", `127.0.0.1:${port}`]).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    const collected: string[] = [];
    const reading = (async () => {
      for await (const chunk of stderr) collected.push(chunk);
    })();
    child.stdout.cancel();
    let pid: number | undefined;
    try {
      const url = `http://127.0.0.1:${port}`;
      const service = await waitFor(async () => {
        const body = await (await fetch(`${url}/api/services/status/sleeper`)).json();
        return body.status === "running" && body;
      }, { timeoutMs: 20_000, message: "the service to run under the bundle" });
      pid = service.pid;
      assert.equal(await processAlive(service.pid), true);
      const health = await (await fetch(`${url}/api/health`)).json();
      assert.equal(health.ok, true);
      const page = await fetch(`${url}/`);
      const html = await page.text();
      assert.equal(page.status, 200, "the web page loads");
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      assert.match(html, /<html/i);
      child.kill("SIGTERM");
      const status = await child.status;
      assert.equal(status.code, 0, collected.join(""));
      assert.equal(await processAlive(service.pid), false);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      await reading;
      if (pid !== undefined) killGroup(pid);
    }
    for (const entry of Deno.readDirSync(denoDir)) {
      assert.ok(
        !["remote", "deps", "npm"].includes(entry.name) ||
          [...Deno.readDirSync(`${denoDir}/${entry.name}`)].length === 0,
        `nothing downloaded into DENO_DIR/${entry.name}`,
      );
    }
    const left = [...Deno.readDirSync(runDir)].map((e) => e.name).sort();
    assert.deepEqual(left, [".edgevisor", "edgevisor.js", "logs"]);
  } finally {
    await removeDir(tmp);
  }
});
