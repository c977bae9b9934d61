/**
 * edgevisor is self-contained: `deno task bundle` makes a directory of
 * JavaScript files (`main.js` and the modules it loads on demand) that runs
 * alone from an empty directory, with an empty `DENO_DIR` and nothing
 * fetched (no remote modules, no npm, cache only): the API, a service, the
 * page, a YAML registry, NATS and the fleet view.
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
import { startNatsServer } from "./nats_harness.ts";

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
    // The command of `deno task bundle`, with the output directory moved here.
    const task: string = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks.bundle;
    const bundle = task.slice(task.lastIndexOf("deno bundle ")).split(/\s+/);
    const outdir = bundle.indexOf("--outdir") + 1;
    assert.ok(outdir > 0, task);
    bundle[outdir] = `${tmp}/build`;
    const built = await output(
      new Deno.Command(Deno.execPath(), {
        args: bundle.slice(1),
        cwd: ROOT,
        env: { NO_COLOR: "1" },
      }),
    );
    assert.equal(built.code, 0, built.stderr);
    const runDir = `${tmp}/run`;
    const denoDir = `${tmp}/deno_dir`;
    await Deno.mkdir(`${runDir}/edgevisor`, { recursive: true });
    await Deno.mkdir(denoDir);
    for (const entry of Deno.readDirSync(`${tmp}/build`)) {
      await Deno.copyFile(`${tmp}/build/${entry.name}`, `${runDir}/edgevisor/${entry.name}`);
    }
    await removeDir(`${tmp}/build`);
    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-all",
          "--unstable-net",
          ...OFFLINE,
          "edgevisor/main.js",
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
    const yamlRegistry = `${registryDir}/registry.yaml`;
    await Deno.writeTextFile(yamlRegistry, "services:\n  - name: a\n    cmd: 'true'\n");
    const validated = await output(deno(["validate", yamlRegistry]));
    assert.equal(validated.code, 0, validated.stderr);
    assert.match(validated.stdout, /valid, 1 service \(a\)/);

    const seconds = uniqueSeconds();
    const registry = await writeRegistry(registryDir, {
      defaults: FAST,
      services: [{ name: "sleeper", cmd: "sleep", args: [String(seconds)] }],
    });
    await using nats = await startNatsServer();
    const port = freePort();
    const child = deno([
      "run",
      "--registry",
      registry,
      "--listen",
      `127.0.0.1:${port}`,
      "--nats",
      nats.url,
      "--node",
      "bundled",
    ]).spawn();
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
      const fleet = await waitFor(async () => {
        const listed = await output(
          deno(["fleet", "ls", "--services", "--json", "--nats", nats.url]),
        );
        assert.equal(listed.code, 0, listed.stderr);
        return listed.stdout.includes('"sleeper"') && listed.stdout;
      }, { timeoutMs: 20_000, message: "the service in the fleet view" });
      assert.match(fleet, /"bundled"/);
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
    assert.deepEqual(left, [".edgevisor", "edgevisor", "logs"]);
  } finally {
    await removeDir(tmp);
  }
});
