import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { prng } from "../../tests/harness.ts";
import { RegistryError } from "../errors.ts";
import { loadRegistry, parseRegistry, type ParseRegistryOptions, type Registry } from "./load.ts";
import { resolveChecks } from "./checks.ts";
import { loadYamlParser } from "./parse_text.ts";

await loadYamlParser(); // parseRegistry() of YAML text needs it

const FIXTURES = fromFileUrl(new URL("../../tests/fixtures/registries/", import.meta.url));
const REGISTRY_DIR = fromFileUrl(new URL("../../registry/", import.meta.url));

/** Parse with an empty environment unless told otherwise. */
function parse(value: unknown, options: ParseRegistryOptions = {}): Registry {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return parseRegistry(text, { env: {}, baseDir: "/base", ...options });
}

/** The problems of a registry that must fail, as `path: message` lines. */
function problems(value: unknown, options: ParseRegistryOptions = {}): string[] {
  try {
    parse(value, options);
  } catch (error) {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${error}`);
    return error.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  assert.fail("expected the registry to be rejected");
}

const api = { name: "api", cmd: "/usr/bin/api" };

Deno.test("parseRegistry() accepts a minimal registry and fills in defaults", () => {
  const registry = parse({ services: [api] });
  assert.equal(registry.source, "<inline>");
  assert.equal(registry.dir, "/base");
  assert.deepEqual(registry.healthChecks, {});
  const [service] = registry.services;
  assert.ok(service);
  assert.equal(service.name, "api");
  assert.deepEqual(service.args, []);
  assert.deepEqual(service.env, {});
  assert.equal(service.autostart, true);
  assert.equal(service.restart_policy, "on-failure");
  assert.deepEqual(service.backoff, { initial: 0.5, factor: 2, max: 30, reset_after: 60 });
  assert.deepEqual(service.crash_loop, { max_crashes: 5, window: 60, cooldown: 30 });
  assert.equal(service.working_dir, undefined);
});

Deno.test("parseRegistry() reports a wrong enum value with the allowed ones", () => {
  assert.deepEqual(
    problems({ services: [api, api, { ...api, name: "c", restart_policy: "sometimes" }] }),
    [
      'services[1].name: duplicate name "api", first at services[0]',
      'services[2].restart_policy: expected one of never, on-failure, always; got "sometimes"',
    ],
  );
});

Deno.test("parseRegistry() reports wrong types", () => {
  assert.deepEqual(
    problems({
      services: [{
        ...api,
        stop_timeout: "abc",
        max_restarts: 1.5,
        display_name: 42,
        autostart: "yes",
      }],
    }),
    [
      "services[0].display_name: expected string; got 42",
      'services[0].autostart: expected boolean; got "yes"',
      "services[0].max_restarts: expected integer; got 1.5",
      'services[0].stop_timeout: expected number; got "abc"',
    ],
  );
});

Deno.test("parseRegistry() reports values out of range", () => {
  assert.deepEqual(problems({ services: [{ ...api, stop_timeout: -1, port: 70000, cmd: "" }] }), [
    'services[0].cmd: expected a non-empty string; got ""',
    "services[0].stop_timeout: expected a number >= 0; got -1",
    "services[0].port: expected an integer <= 65535; got 70000",
  ]);
});

Deno.test("parseRegistry() reports missing required fields", () => {
  assert.deepEqual(problems({ services: [{ name: "api" }] }), ["services[0].cmd: required"]);
  assert.deepEqual(problems({}), ["services: required"]);
});

Deno.test("parseRegistry() suggests the nearest known key for an unknown key", () => {
  assert.deepEqual(problems({ services: [{ ...api, restart_polcy: "always" }] }), [
    'services[0].restart_polcy: unknown key; did you mean "restart_policy"?',
  ]);
  assert.deepEqual(problems({ services: [{ ...api, backoff: { intial: 1 } }] }), [
    'services[0].backoff.intial: unknown key; did you mean "initial"?',
  ]);
  assert.deepEqual(problems({ services: [api], servces: [] }), [
    'servces: unknown key; did you mean "services"?',
  ]);
  assert.deepEqual(problems({ services: [{ ...api, zzzzzzzz: 1 }] }), [
    "services[0].zzzzzzzz: unknown key",
  ]);
  assert.deepEqual(problems({ services: [], extra: 1 }), [
    "extra: unknown key; expected one of $schema, services, defaults, health_checks, metrics_interval",
  ]);
});

Deno.test("parseRegistry() reports duplicate service names with the first occurrence", () => {
  const other = { name: "web", cmd: "w" };
  assert.deepEqual(problems({ services: [api, other, other, api] }), [
    'services[2].name: duplicate name "web", first at services[1]',
    'services[3].name: duplicate name "api", first at services[0]',
  ]);
});

Deno.test("parseRegistry() reports an invalid service name", () => {
  assert.deepEqual(problems({ services: [{ ...api, name: "my api" }] }), [
    "services[0].name: expected 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit; " +
    'got "my api"',
  ]);
});

Deno.test("parseRegistry() resolves named health checks and reports unknown ones", () => {
  const checks = {
    movement_check: { type: "tcp", port: 8081 },
    camera_check: { type: "exec", command: "true" },
  };
  const registry = parse({
    health_checks: checks,
    services: [{ ...api, health_check: "movement_check" }],
  });
  const [service] = registry.services;
  assert.ok(service);
  assert.equal(service.health_check, "movement_check");
  assert.deepEqual(resolveChecks(service, registry.healthChecks).liveness, {
    type: "tcp",
    port: 8081,
  });

  assert.deepEqual(
    problems({ health_checks: checks, services: [{ ...api, health_check: "movment_check" }] }),
    [
      'services[0].health_check: unknown health check "movment_check"; did you mean "movement_check"? ' +
      "(defined checks: movement_check, camera_check)",
    ],
  );
  assert.deepEqual(
    problems({ health_checks: checks, services: [{ ...api, health_check: "gps" }] }),
    [
      'services[0].health_check: unknown health check "gps"; defined checks: movement_check, ' +
      "camera_check; a name not defined here is checked as the service's TCP port only in a registry " +
      'without "health_checks" (the OmegaOS convention)',
    ],
  );
  assert.deepEqual(problems({ services: [{ ...api, readiness: "toString" }] }), [
    'services[0].readiness: unknown health check "toString"; there is no top-level "health_checks"',
  ]);
});

Deno.test("parseRegistry() explains invalid inline health checks", () => {
  assert.deepEqual(
    problems({
      services: [
        { ...api, health_check: { type: "ping" } },
        { ...api, name: "b", health_check: { port: 1 } },
        { ...api, name: "c", health_check: { type: "tcp" } },
        { ...api, name: "d", health_check: { type: "http", port: 80, pth: "/" } },
        { ...api, name: "e", health_check: 5 },
        { ...api, name: "f", health_check: "" },
      ],
    }),
    [
      'services[0].health_check.type: expected one of tcp, http, exec, file, log; got "ping"',
      "services[1].health_check.type: required; expected one of tcp, http, exec, file, log",
      "services[2].health_check.port: required",
      'services[3].health_check.pth: unknown key; did you mean "path"?',
      "services[4].health_check: expected the name of a health check or a health check object; got 5",
      "services[5].health_check: expected 1 to 64 letters, digits, '_', '.' or '-', starting " +
      'with a letter or digit; got ""',
    ],
  );
});

Deno.test("parseRegistry() applies defaults; a field the service sets wins", () => {
  const registry = parse({
    defaults: {
      restart_policy: "always",
      stop_timeout: 3,
      args: ["--quiet"],
      description: "shared",
    },
    services: [api, { name: "web", cmd: "w", restart_policy: "never", args: [] }],
  });
  const [first, second] = registry.services;
  assert.equal(first?.restart_policy, "always");
  assert.equal(first?.stop_timeout, 3);
  assert.deepEqual(first?.args, ["--quiet"]);
  assert.equal(second?.restart_policy, "never");
  assert.deepEqual(second?.args, []);
  assert.equal(second?.description, "shared");
});

Deno.test("parseRegistry() merges object defaults key by key", () => {
  const registry = parse({
    defaults: {
      backoff: { initial: 2, max: 10 },
      crash_loop: { cooldown: 5 },
      log: { keep: 7 },
      env: { A: "default", B: "default" },
    },
    services: [{ ...api, backoff: { max: 20 }, env: { B: "service", C: "service" } }],
  });
  const [service] = registry.services;
  assert.deepEqual(service?.backoff, { initial: 2, factor: 2, max: 20, reset_after: 60 });
  assert.deepEqual(service?.crash_loop, { max_crashes: 5, window: 60, cooldown: 5 });
  assert.deepEqual(service?.log, { max_size_mb: 10, keep: 7, timestamps: true });
  assert.deepEqual(service?.env, { A: "default", B: "service", C: "service" });
});

Deno.test("parseRegistry() reports a bad default once, at defaults", () => {
  assert.deepEqual(
    problems({
      defaults: { restart_policy: "sometimes", name: "x", backoff: { initial: -1 } },
      services: [api, { name: "web", cmd: "w" }],
    }),
    [
      'defaults.restart_policy: expected one of never, on-failure, always; got "sometimes"',
      "defaults.backoff.initial: expected a number >= 0; got -1",
      "defaults.name: unknown key; a service name cannot have a default",
    ],
  );
  assert.deepEqual(problems({ defaults: [], services: [api] }), [
    "defaults: expected object; got []",
  ]);
});

Deno.test("parseRegistry() expands ${VAR} and ${VAR:-default} and keeps $$ as $", () => {
  const registry = parse({
    services: [{
      name: "api",
      cmd: "${BIN_DIR}/api",
      args: [
        "--port",
        "${PORT:-8080}",
        "--price",
        "$$5",
        "${EMPTY:-fallback}",
        "${EMPTY-kept}",
        "$HOME",
      ],
      env: { LEVEL: "${LEVEL:-info}" },
    }],
  }, { env: { BIN_DIR: "/opt/bin", EMPTY: "" } });
  const [service] = registry.services;
  assert.equal(service?.cmd, "/opt/bin/api");
  assert.deepEqual(service?.args, ["--port", "8080", "--price", "$5", "fallback", "", "$HOME"]);
  assert.deepEqual(service?.env, { LEVEL: "info" });
});

Deno.test("parseRegistry() lets a service's own env feed the expansion of its other fields", () => {
  const registry = parse({
    services: [{
      name: "api",
      cmd: "${APP}",
      args: ["--port", "${PORT}"],
      working_dir: "${ROOT}/run",
      env: { PORT: "9000", APP: "${HOME}/api", ROOT: "/srv" },
    }],
  }, { env: { HOME: "/home/pi", PORT: "1" } });
  const [service] = registry.services;
  assert.equal(service?.cmd, "/home/pi/api");
  assert.deepEqual(service?.args, ["--port", "9000"]);
  assert.equal(service?.working_dir, "/srv/run");
});

Deno.test("parseRegistry() reports every unset variable at its path", () => {
  assert.deepEqual(
    problems({
      services: [{
        ...api,
        cmd: "${BIN}",
        args: ["-v", "${FOO}"],
        env: { X: "${BAR}" },
        working_dir: "${DIR}",
      }],
    }),
    [
      'services[0].env.X: variable "BAR" is not set',
      'services[0].cmd: variable "BIN" is not set',
      'services[0].args[1]: variable "FOO" is not set',
      'services[0].working_dir: variable "DIR" is not set',
    ],
  );
  assert.deepEqual(problems({ services: [{ ...api, args: ["${", "${1X}"] }] }), [
    'services[0].args[0]: unterminated "${" at character 1',
    'services[0].args[1]: invalid variable reference "${1X}"; expected ${NAME}, ${NAME:-default} or $$ for a literal $',
  ]);
});

Deno.test("parseRegistry() treats an undefined env entry and prototype names as unset", () => {
  assert.deepEqual(
    problems({ services: [{ ...api, args: ["${A}", "${constructor}"] }] }, {
      env: { A: undefined },
    }),
    [
      'services[0].args[0]: variable "A" is not set',
      'services[0].args[1]: variable "constructor" is not set',
    ],
  );
});

Deno.test("parseRegistry() resolves a relative working_dir against baseDir", () => {
  const registry = parse({
    services: [
      { ...api, working_dir: "." },
      { ...api, name: "b", working_dir: "demo/../bin" },
      { ...api, name: "c", working_dir: "/abs/dir" },
      { ...api, name: "d" },
    ],
  }, { baseDir: "/srv/registry" });
  assert.deepEqual(registry.services.map((s) => s.working_dir), [
    "/srv/registry",
    "/srv/registry/bin",
    "/abs/dir",
    undefined,
  ]);
  assert.equal(registry.dir, "/srv/registry");
});

Deno.test("parseRegistry() reads YAML", () => {
  const registry = parse(
    "services:\n  - name: api\n    cmd: ${BIN:-/usr/bin/api}\n    args: [--verbose]\n    autostart: false\n",
    { format: "yaml" },
  );
  assert.equal(registry.services[0]?.cmd, "/usr/bin/api");
  assert.deepEqual(registry.services[0]?.args, ["--verbose"]);
  assert.equal(registry.services[0]?.autostart, false);
  assert.equal(parse("services: []\n", { source: "x.YML" }).services.length, 0);
});

Deno.test("parseRegistry() reports YAML syntax errors with line:column", () => {
  assert.deepEqual(problems("services:\n  - name: a: b\n    cmd: x\n", { format: "yaml" }), [
    "invalid YAML at 2:11: Nested mappings are not allowed in compact mappings",
  ]);
  assert.deepEqual(problems("services: []\nservices: []\n", { format: "yaml" }), [
    "invalid YAML at 2:1: Map keys must be unique",
  ]);
  assert.deepEqual(
    problems("services:\n  - name: api\n    autostart: yes\n    cmd: x\n", { format: "yaml" }),
    [
      'services[0].autostart: expected boolean; got "yes"',
    ],
  );
});

Deno.test("parseRegistry() reports JSON syntax errors with line:column", () => {
  const text =
    '{\n  "services": [\n    { "name": "api", "cmd": "x" }\n    { "name": "b" }\n  ]\n}\n';
  assert.deepEqual(problems(text), ['invalid JSON at 4:5: expected "," or "]"; got "{"']);
  assert.deepEqual(problems('{"services": [],}'), [
    'invalid JSON at 1:17: unexpected "}" after "," (trailing comma)',
  ]);
  assert.deepEqual(problems('{"services": tru}'), ['invalid JSON at 1:14: unexpected word "tru"']);
  assert.deepEqual(problems('{"services": [\n'), ["invalid JSON at 2:1: unexpected end of input"]);
  assert.deepEqual(problems('{"a": "b\nc"}'), [
    "invalid JSON at 1:9: control character in string (use an escape such as \\n)",
  ]);
});

Deno.test("parseRegistry() reports an empty registry", () => {
  for (
    const [text, format] of [["", "json"], ["  \n\t", "json"], ["", "yaml"], [
      "# only a comment\n",
      "yaml",
    ]] as const
  ) {
    assert.deepEqual(problems(text, { format }), ["registry is empty"], JSON.stringify(text));
  }
});

Deno.test("parseRegistry() reports a root that is not an object", () => {
  assert.deepEqual(problems("[]"), ['expected an object with a "services" array; got []']);
  assert.deepEqual(problems("null"), ['expected an object with a "services" array; got null']);
  assert.deepEqual(problems('"services"'), [
    'expected an object with a "services" array; got "services"',
  ]);
  assert.deepEqual(problems("- a\n", { format: "yaml" }), [
    'expected an object with a "services" array; got ["a"]',
  ]);
});

Deno.test("parseRegistry() reports every problem at once, grouped by service", () => {
  let caught: unknown;
  try {
    parse({
      defaults: { stop_signal: "TERM" },
      services: [
        { name: "api", cmd: "${NOPE}", restart_policy: "sometimes" },
        { name: "api", restart_polcy: "always", port: "80" },
        "not a service",
      ],
    }, { source: "registry.json" });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof RegistryError);
  assert.deepEqual(caught.problems, [
    {
      path: "defaults.stop_signal",
      message:
        'expected one of SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, SIGWINCH; got "TERM"',
    },
    {
      path: "services[0].restart_policy",
      message: 'expected one of never, on-failure, always; got "sometimes"',
    },
    { path: "services[0].cmd", message: 'variable "NOPE" is not set' },
    { path: "services[1].cmd", message: "required" },
    { path: "services[1].port", message: 'expected integer; got "80"' },
    { path: "services[1].restart_polcy", message: 'unknown key; did you mean "restart_policy"?' },
    { path: "services[1].name", message: 'duplicate name "api", first at services[0]' },
    { path: "services[2]", message: 'expected object; got "not a service"' },
  ]);
  assert.match(
    caught.message,
    /^Invalid registry "registry\.json":\n {2}defaults\.stop_signal: expected one of/,
  );
  assert.match(caught.message, /\n {2}services\[2\]: expected object; got "not a service"$/);
});

Deno.test("parseRegistry() quotes values and cuts them to about 60 characters", () => {
  const [line] = problems({ services: [{ ...api, display_name: ["x".repeat(200)] }] });
  assert.equal(line, `services[0].display_name: expected string; got ["${"x".repeat(58)}…`);
  assert.deepEqual(problems('{"services": [{"name": "a", "cmd": "b", "stop_timeout": 1e400}]}'), [
    "services[0].stop_timeout: expected a finite number; got Infinity",
  ]);
  assert.deepEqual(problems({ services: [{ ...api, env: { "my var": 1 } }] }), [
    'services[0].env["my var"]: expected string; got 1',
  ]);
});

Deno.test("parseRegistry() survives hostile input with a RegistryError", () => {
  const deep = "[".repeat(50_000) + "]".repeat(50_000);
  const inputs: [string, ParseRegistryOptions][] = [
    [deep, {}],
    [`{"services": ${deep}}`, {}],
    [`{"services": [{"name": "a", "cmd": "b", "env": ${deep}}]}`, {}],
    ["[".repeat(50_000), {}],
    [
      '{"__proto__": {"services": []}, "services": [{"__proto__": 1, "name": "a", "cmd": "b"}]}',
      {},
    ],
    ["x: &a [*a]\nservices: &s [*s]\n", { format: "yaml" }],
    [
      "a: &a [x, x, x, x, x, x, x, x, x]\n" +
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n".repeat(1),
      { format: "yaml" },
    ],
    ["%YAML 1.1\n---\nservices:\n  - name: a\n    cmd: !!binary aGVsbG8=\n    args: !!set {a}\n", {
      format: "yaml",
    }],
    ['{"services": [{"name": "\ud800", "cmd": "\u0000", "args": ["${A:-${B:-${C:-${D}}}}"]}]}', {}],
    [`{"services": [{"name": "a", "cmd": "${"${X:-".repeat(2000)}${"}".repeat(2000)}"}]}`, {}],
  ];
  for (const [text, options] of inputs) {
    try {
      parse(text, options);
    } catch (error) {
      assert.ok(error instanceof RegistryError, `${text.slice(0, 40)}: ${error}`);
      assert.ok(error.problems.length > 0);
      for (const p of error.problems) assert.doesNotMatch(p.message, /internal error/);
    }
  }
});

Deno.test("loadRegistry() reads a YAML file and resolves paths against its directory", async () => {
  const path = join(FIXTURES, "valid.yaml");
  const registry = await loadRegistry(path, { env: {} });
  assert.equal(registry.source, path);
  assert.equal(registry.dir, dirname(path));
  const [api, worker] = registry.services;
  assert.equal(api?.cmd, "./api");
  assert.deepEqual(api?.args, ["--port", "9000"]);
  assert.deepEqual(api?.env, { LOG_LEVEL: "info", PORT: "9000" });
  assert.equal(api?.working_dir, join(FIXTURES, "bin"));
  assert.deepEqual(api?.backoff, { initial: 0.5, factor: 2, max: 5, reset_after: 60 });
  assert.equal(api && resolveChecks(api, registry.healthChecks).readiness?.type, "tcp");
  assert.deepEqual(worker?.args, ["-c", "echo $HOME"]);
  assert.equal(worker?.working_dir, "/srv/worker");
  assert.equal(worker?.autostart, false);
});

Deno.test("loadRegistry() reports an invalid file with its path", async () => {
  const path = join(FIXTURES, "invalid.json");
  await assert.rejects(loadRegistry(path), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.ok(e.message.startsWith(`Invalid registry ${JSON.stringify(path)}:\n`));
    assert.deepEqual(e.problems.map((p) => p.path), [
      "services[0].restart_policy",
      "services[1].cmd",
      "services[1].restart_polcy",
      "services[1].name",
    ]);
    return true;
  });
});

Deno.test("loadRegistry() reports a missing file, a directory and syntax errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, string | null, string][] = [
      ["missing.json", null, "cannot read file: No such file or directory"],
      ["broken.json", '{\n  "services": [\n}\n', 'invalid JSON at 3:1: unexpected "}"'],
      [
        "broken.yml",
        "services: [\n",
        "invalid YAML at 2:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
      ],
      ["empty.yaml", "", "registry is empty"],
    ];
    for (const [name, content, expected] of cases) {
      const path = join(dir, name);
      if (content !== null) await Deno.writeTextFile(path, content);
      await assert.rejects(loadRegistry(path, { env: {} }), (e: unknown) => {
        assert.ok(e instanceof RegistryError);
        assert.deepEqual(e.problems, [{ path: "", message: expected }], name);
        return true;
      });
    }
    await assert.rejects(loadRegistry(dir), (e: unknown) => {
      assert.ok(e instanceof RegistryError);
      assert.deepEqual(e.problems, [{
        path: "",
        message: "cannot read file: it is a directory, not a file",
      }]);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRegistry() loads every example registry in registry/", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(REGISTRY_DIR)) {
    if (entry.isFile && /\.(json|ya?ml)$/.test(entry.name) && entry.name !== "schema.json") {
      names.push(entry.name);
    }
  }
  assert.ok(names.includes("example.json") && names.includes("omegaos.json"), names.join(", "));
  for (const name of names.sort()) {
    const registry = await loadRegistry(join(REGISTRY_DIR, name), {
      env: { DENO_EXEC_PATH: Deno.execPath() },
    });
    assert.ok(registry.services.length > 0, name);
    for (const service of registry.services) {
      if (typeof service.health_check === "string") {
        assert.ok(Object.hasOwn(registry.healthChecks, service.health_check), service.name);
      }
      // Demo scripts are given relative to the working directory: they must exist.
      for (const arg of service.args.filter((a) => a.endsWith(".ts"))) {
        await Deno.stat(join(service.working_dir ?? REGISTRY_DIR, arg));
      }
    }
  }
});

Deno.test("loadRegistry() keeps the OmegaOS field set in registry/omegaos.json", async () => {
  const raw = JSON.parse(await Deno.readTextFile(join(REGISTRY_DIR, "omegaos.json")));
  const allowed = new Set([
    "name",
    "display_name",
    "type",
    "cmd",
    "args",
    "working_dir",
    "autostart",
    "restart_policy",
    "health_check",
    "port",
    "description",
  ]);
  for (const service of raw.services) {
    for (const key of Object.keys(service)) assert.ok(allowed.has(key), `${service.name}.${key}`);
  }
});

const FUZZ_BASE = {
  $schema: "./schema.json",
  defaults: { working_dir: ".", env: { A: "1" }, backoff: { max: 5 }, stop_signal: "SIGINT" },
  health_checks: {
    port_check: { type: "tcp", port: 8081 },
    alive: { type: "file", path: "/tmp/x", max_age: 5 },
  },
  services: [
    {
      name: "api",
      display_name: "API",
      type: "node",
      cmd: "${BIN:-/bin/api}",
      args: ["--port", "${PORT:-8081}", "$$x"],
      env: { PORT: "8081" },
      restart_policy: "always",
      max_restarts: 3,
      crash_loop: { max_crashes: 3, window: 30, cooldown: 15 },
      health_check: "port_check",
      port: 8081,
      log: { max_size_mb: 1, keep: 2 },
    },
    {
      name: "web",
      cmd: "sh",
      args: ["-c", "sleep 1"],
      health_check: { type: "http", port: 80, path: "/health", expected_status: [200, 299] },
    },
  ],
};

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
}

function weirdValue(random: () => number): unknown {
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    "__HUGE__",
    "",
    "💥 ünïcödé ✓ עברית",
    "\u0000\ud800",
    "x".repeat(5000),
    "${UNSET}",
    "${A:-${B}}",
    "$$",
    "${",
    "always",
    "toString",
    [],
    {},
    [1, "a", null],
    JSON.parse('{"__proto__": {"x": 1}}'),
    nested(400, "deep"),
    { type: "tcp" },
    { type: "http", port: "80" },
  ];
  return values[Math.floor(random() * values.length)];
}

/** Every path to a value inside `value` (not the root itself). */
function allPaths(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
) {
  if (prefix.length > 8) return out;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([...prefix, i]);
      allPaths(item, [...prefix, i], out);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push([...prefix, key]);
      allPaths(item, [...prefix, key], out);
    }
  }
  return out;
}

function mutate(root: Record<string, unknown>, random: () => number): void {
  const paths = allPaths(root);
  const path = paths[Math.floor(random() * paths.length)] ?? ["services"];
  let parent: unknown = root;
  for (const segment of path.slice(0, -1)) {
    parent = (parent as Record<string | number, unknown>)[segment];
  }
  if (typeof parent !== "object" || parent === null) return;
  const key = path.at(-1)!;
  const roll = random();
  const target = parent as Record<string | number, unknown>;
  if (roll < 0.15) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete target[key];
  } else if (roll < 0.3 && !Array.isArray(parent)) {
    const keys = ["restart_polcy", "nme", "__proto__", "constructor", "💥", "", "type"];
    const name = keys[Math.floor(random() * keys.length)]!;
    Object.defineProperty(parent, name, {
      value: weirdValue(random),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    Object.defineProperty(parent, key, {
      value: weirdValue(random),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

Deno.test("parseRegistry() returns a Registry or a RegistryError for 300 random mutations", async () => {
  const { stringify } = await import("yaml");
  const random = prng(20240611);
  for (let round = 0; round < 300; round++) {
    const data = structuredClone(FUZZ_BASE) as Record<string, unknown>;
    const count = 1 + Math.floor(random() * 4);
    for (let i = 0; i < count; i++) mutate(data, random);
    let text = JSON.stringify(data).replaceAll('"__HUGE__"', "1e400");
    let format: "json" | "yaml" = "json";
    if (random() < 0.2) {
      try {
        text = stringify(data);
        format = "yaml";
      } catch {
        // Keep JSON, which is YAML too.
      }
    }
    if (random() < 0.1) text = text.slice(0, Math.floor(random() * text.length));
    try {
      const registry = parseRegistry(text, { format, env: { A: "1" }, baseDir: "/base" });
      assert.ok(Array.isArray(registry.services), `round ${round}`);
    } catch (error) {
      assert.ok(error instanceof RegistryError, `round ${round}: ${error}`);
      assert.ok(error.problems.length > 0, `round ${round}`);
      for (const { path, message } of error.problems) {
        assert.equal(typeof path, "string");
        assert.ok(message.length > 0, `round ${round}: empty message at ${path}`);
        assert.doesNotMatch(
          message,
          /internal error|\[object Object\]|\bundefined\b|got nothing/,
          `round ${round}: ${path}: ${message}`,
        );
      }
    }
  }
});
