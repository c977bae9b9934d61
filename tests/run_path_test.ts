/**
 * What a plain `edgevisor run` loads. Every module it imports stays in
 * memory for the life of the orchestrator, and a `node:` module (imported
 * directly or by an npm package in CommonJS) brings Deno's Node layer with
 * it, so these modules are loaded only where they are needed: the
 * command-line library for the other commands, the YAML library for YAML
 * registries, the NATS client with `--nats`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { main, type ProgramIo } from "../src/cli/program.ts";
import { parsePlainRun, runOptionsOf } from "../src/cli/run_fast.ts";
import type { RunOptions } from "../src/orchestrator.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface GraphModule {
  specifier: string;
  kind?: string;
  npmPackage?: string;
  dependencies?: { specifier: string; code?: { specifier?: string }; isDynamic?: boolean }[];
}

/** The modules `entry` imports at run time, directly or not, leaving out dynamic imports. */
async function staticGraph(entry: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: GraphModule[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const pending = [...info.roots];
  while (pending.length > 0) {
    const raw = pending.pop()!;
    const resolved = info.redirects[raw] ?? raw;
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    for (const dependency of bySpecifier.get(resolved)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target !== undefined && !dependency.isDynamic) pending.push(target);
    }
  }
  return [...seen].map((s) => bySpecifier.get(s)?.npmPackage ?? s);
}

Deno.test("a plain run imports no node: module, command-line library, YAML or NATS client", async () => {
  const modules = [
    ...await staticGraph("main.ts"),
    ...await staticGraph("src/orchestrator.ts"),
  ];
  assert.ok(modules.some((m) => m.endsWith("/src/supervisor/supervisor.ts")), "the graph is read");
  const heavy = modules.filter((m) =>
    /^node:|commander|^yaml@|@nats-io|\/src\/cli\/program\.ts$|\/src\/nats\//.test(m)
  );
  assert.deepEqual(heavy, []);
});

/** What `main()` passes to the orchestrator for `run ARGS`, or its exit code and stderr. */
async function fullParse(args: string[], env: Record<string, string>) {
  let options: RunOptions | undefined;
  let stderr = "";
  const io: ProgramIo = {
    stdout: () => {},
    stderr: (text) => (stderr += text),
    env,
    runOrchestrator: (o) => {
      options = o;
      return Promise.resolve(0);
    },
  };
  const code = await main(["run", ...args], io);
  return { code, options, stderr };
}

Deno.test("a plain run gets the options the full command line gives", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tokenFile = `${dir}/token`;
    await Deno.writeTextFile(tokenFile, "s3cret-token-value\n");
    const cases: [string[], Record<string, string>][] = [
      [[], {}],
      [["--registry", "r.json", "--listen", "0.0.0.0:9000", "--insecure"], {}],
      [["--registry=r.yaml", "--log-dir=/tmp/l", "--state-dir", "/tmp/s"], {}],
      [["--token-file", tokenFile, "--public-read", "--listen", "[::1]:8081"], {}],
      [["--no-memory-trim", "--registry", "a.json", "--registry", "b.json"], {}],
      [["--no-cgroup"], {}],
      [[], { EDGEVISOR_TOKEN: "from-env", EDGEVISOR_REGISTRY: "/etc/r.json" }],
      [["--token-file", tokenFile], { EDGEVISOR_TOKEN: "from-env" }],
      [[], { INVOCATION_ID: "x", LOGS_DIRECTORY: "/var/log/a:/var/log/b", EDGEVISOR_TOKEN: "" }],
      [[
        "--allow-origin",
        "https://Dash.Example:443",
        "--allow-origin=http://127.0.0.1:9000",
        "--allow-host",
        "Robot1.local",
        "--max-connections",
        "64",
      ], {}],
    ];
    for (const [args, environment] of cases) {
      const env = (name: string) => environment[name] === "" ? undefined : environment[name];
      const flags = parsePlainRun(["run", ...args], env);
      assert.ok(flags, `plain: ${args.join(" ")}`);
      const full = await fullParse(args, environment);
      assert.equal(full.code, 0, full.stderr);
      assert.deepEqual(runOptionsOf(flags, env), full.options, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anything but a plain run is left to the full command line", () => {
  const none = () => undefined;
  for (
    const args of [
      ["run", "--help"],
      ["run", "-h"],
      ["run", "--nats", "nats://127.0.0.1:4222"],
      ["run", "--node=a"],
      ["run", "--bogus"],
      ["run", "extra"],
      ["run", "--registry"],
      ["run", "--registry", "--insecure"],
      ["run", "--listen", "8080"],
      ["run", "--insecure=yes"],
      ["run", "--allow-origin", "https://x/path"],
      ["run", "--allow-host", "robot:8080"],
      ["run", "--max-connections", "2"],
      ["help", "run"],
      ["ls"],
      [],
    ]
  ) {
    assert.equal(parsePlainRun(args, none), undefined, args.join(" "));
  }
  const nats = (name: string) => name === "EDGEVISOR_NATS" ? "nats://127.0.0.1:4222" : undefined;
  assert.equal(parsePlainRun(["run"], nats), undefined, "EDGEVISOR_NATS set");
});
