/**
 * Fuzzing of the registry loader with a seeded PRNG and a bounded number of
 * cases: malformed JSON and YAML (truncations, byte flips, unbalanced
 * brackets) and random mutations of valid registries (wrong types, huge
 * numbers, unicode, deep nesting, duplicate keys). Whatever the input,
 * `parseRegistry` returns a registry or throws a `RegistryError` whose every
 * problem names its path (or, for a syntax error, its `line:column`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { stringify as toYaml } from "yaml";
import { prng } from "../../tests/harness.ts";
import { RegistryError } from "../errors.ts";
import { parseRegistry, type Registry } from "./load.ts";
import { loadYamlParser, type RegistryFormat } from "./parse_text.ts";

await loadYamlParser(); // parseRegistry() of YAML text needs it

const VALID = {
  health_checks: { web: { type: "http", url: "http://127.0.0.1:8080/health", period: 5 } },
  defaults: { restart_policy: "always", backoff: { initial: 1, max: 30 } },
  services: [
    {
      name: "api",
      display_name: "API",
      cmd: "/usr/bin/api",
      args: ["--port", "${PORT:-8080}"],
      env: { MODE: "production" },
      port: 8080,
      health_check: "web",
      depends_on: ["db"],
      log: { max_size_mb: 5, keep: 2 },
    },
    {
      name: "db",
      cmd: "postgres",
      crash_loop: { max_crashes: 5, window: 60, cooldown: 30 },
      stop_signal: "SIGINT",
      stop_timeout: 20,
    },
    { name: "nightly", cmd: "backup", kind: "job", schedule: "0 3 * * *" },
  ],
};

/** Parse `text`; fail the test on anything but a registry or a well-formed `RegistryError`. */
function load(text: string, format: RegistryFormat, what: string): Registry | RegistryError {
  let result: Registry | RegistryError;
  try {
    result = parseRegistry(text, { format, env: {}, baseDir: "/base", source: "fuzz" });
  } catch (error) {
    if (!(error instanceof RegistryError)) {
      assert.fail(
        `${what}: uncaught ${String(error)}\ninput: ${JSON.stringify(text.slice(0, 300))}`,
      );
    }
    result = error;
  }
  if (result instanceof RegistryError) {
    assert.ok(result.problems.length > 0, `${what}: a RegistryError without problems`);
    for (const p of result.problems) {
      assert.equal(typeof p.path, "string");
      assert.ok(p.message.length > 0, `${what}: empty message`);
      assert.ok(!p.message.includes("internal error"), `${what}: ${p.message}`);
      // A problem without a path is about the whole document: a syntax error with
      // its position, an empty document, a root of the wrong type, or a key of the root.
      if (p.path === "") {
        assert.match(
          p.message,
          /at \d+:\d+|^invalid (JSON|YAML)|registry is empty|^expected an object|duplicate key/,
          `${what}: a problem names neither a path nor a position: ${p.message}`,
        );
      }
    }
  }
  return result;
}

const JSON_TEXT = JSON.stringify(VALID, null, 2);
const YAML_TEXT = toYaml(VALID);
const NOISE = [
  '"',
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "\\",
  "\n",
  " ",
  "-",
  "#",
  "&",
  "*",
  "!",
  "é",
  "\0",
];

function mutateText(text: string, random: () => number): string {
  const at = Math.floor(random() * text.length);
  const pick = random();
  if (pick < 0.3) return text.slice(0, at); // truncation
  if (pick < 0.6) { // byte flips
    const chars = [...text];
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
      const j = Math.floor(random() * chars.length);
      chars[j] = random() < 0.5
        ? NOISE[Math.floor(random() * NOISE.length)]!
        : String.fromCharCode(Math.floor(random() * 0x2fff));
    }
    return chars.join("");
  }
  if (pick < 0.8) { // an unbalanced bracket
    const bracket = "{}[]"[Math.floor(random() * 4)]!;
    return text.slice(0, at) + bracket + text.slice(at);
  }
  return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 10)); // a deletion
}

Deno.test("parseRegistry() survives 1500 malformed JSON and YAML texts", () => {
  const random = prng(7);
  let rejected = 0;
  for (let n = 0; n < 750; n++) {
    const json = mutateText(JSON_TEXT, random);
    if (load(json, "json", `json case ${n}`) instanceof RegistryError) rejected++;
    const yaml = mutateText(YAML_TEXT, random);
    if (load(yaml, "yaml", `yaml case ${n}`) instanceof RegistryError) rejected++;
  }
  // Most damaged texts must be refused: the fuzzer really produces bad input.
  assert.ok(rejected > 1000, `only ${rejected} of 1500 rejected`);
});

const UNICODE = ["名前", "\u202eevil", "😀", "\ud800", "a\u0000b", "ｓｅｒｖｉｃｅ", "\u00e9"];

/** A random replacement value; `DEEP` is replaced by 10,000 nested arrays after stringify. */
function randomValue(random: () => number): unknown {
  const choices: (() => unknown)[] = [
    () => null,
    () => true,
    () => -1,
    () => 0.5,
    () => Number.MAX_SAFE_INTEGER + 2,
    () => 1e308,
    () => -1e308,
    () => "",
    () => "x".repeat(100_000),
    () => UNICODE[Math.floor(random() * UNICODE.length)],
    () => [],
    () => ({}),
    () => [1, "two", null],
    () => ({ [UNICODE[Math.floor(random() * UNICODE.length)]!]: 1 }),
    () => "DEEP",
  ];
  return choices[Math.floor(random() * choices.length)]!();
}

type Container = Record<string, unknown> | unknown[];

/** Every container in `value` and its keys, to pick a random place to mutate. */
function places(value: unknown, out: [Container, string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      places(v, out);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      places(v, out);
    }
  }
  return out;
}

const DEEP = "[".repeat(10_000) + "]".repeat(10_000);

Deno.test("parseRegistry() survives 600 random mutations of a valid registry", () => {
  const random = prng(11);
  let rejected = 0;
  for (let n = 0; n < 600; n++) {
    const copy = structuredClone(VALID) as unknown;
    const spots = places(copy);
    for (let m = 1 + Math.floor(random() * 2); m > 0; m--) {
      const [container, key] = spots[Math.floor(random() * spots.length)]!;
      const action = random();
      if (action < 0.15 && !Array.isArray(container)) delete container[key as string];
      else if (action < 0.25 && !Array.isArray(container)) container["unexpected_" + n] = 1;
      else (container as Record<string | number, unknown>)[key] = randomValue(random);
    }
    const format: RegistryFormat = random() < 0.25 ? "yaml" : "json";
    let text = format === "yaml" ? toYaml(copy) : JSON.stringify(copy).replace('"DEEP"', DEEP);
    if (random() < 0.2) text = text.replace(/: \d+(?=[,}\]\n])/, ": 1e999"); // infinite once parsed
    if (load(text, format, `mutation ${n}`) instanceof RegistryError) rejected++;
  }
  assert.ok(rejected > 300, `only ${rejected} of 600 mutations rejected`);
});

Deno.test("parseRegistry() reports 10,000 levels of nesting with a path", () => {
  for (const at of ["services", "defaults", "health_checks"]) {
    const text = `{"${at}": ${DEEP}}`;
    const result = load(text, "json", at);
    assert.ok(result instanceof RegistryError);
    assert.ok(result.problems.some((p) => p.path.startsWith(at)), result.message);
  }
  const inService = `{"services": [{"name": "a", "cmd": "x", "env": ${DEEP}}]}`;
  const result = load(inService, "json", "env");
  assert.ok(result instanceof RegistryError);
  assert.ok(result.problems.some((p) => p.path === "services[0].env"), result.message);
});

Deno.test("parseRegistry() reports duplicate JSON keys with the path of their object", () => {
  const cases: [string, string[]][] = [
    ['{"services": [{"name": "a", "cmd": "x", "cmd": "y"}]}', [
      'services[0]: duplicate key "cmd"',
    ]],
    ['{"services": [{"name": "a", "cmd": "x", "env": {"A": "1", "\\u0041": "2"}}]}', [
      'services[0].env: duplicate key "A"',
    ]],
    ['{"services": [], "services": [{"name": "a", "cmd": "x"}]}', ['duplicate key "services"']],
    [
      '{"services": [{"name": "a", "cmd": "x"}, {"name": "b", "cmd": "y", "args": [{"k": 1, "k": 2}]}]}',
      ['services[1].args[0]: duplicate key "k"'],
    ],
  ];
  for (const [text, expected] of cases) {
    const result = load(text, "json", text);
    assert.ok(result instanceof RegistryError, text);
    assert.deepEqual(
      result.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
      expected,
    );
  }
  // Equal values in different objects, and keys that only look alike, are fine.
  const fine =
    '{"services": [{"name": "a", "cmd": "x"}, {"name": "b", "cmd": "x", "env": {"a": "", "A": ""}}]}';
  assert.ok(!(load(fine, "json", "fine") instanceof RegistryError));
});

Deno.test("parseRegistry() reports duplicate YAML keys", () => {
  const result = load("services:\n  - name: a\n    cmd: x\n    cmd: y\n", "yaml", "yaml");
  assert.ok(result instanceof RegistryError);
  assert.match(result.message, /4:5: Map keys must be unique/);
});

Deno.test("parseRegistry() loads 10,000 services in well under a second each way", () => {
  const services = Array.from({ length: 10_000 }, (_, i) => ({ name: `s${i}`, cmd: "true" }));
  let t0 = performance.now();
  const registry = load(JSON.stringify({ services }), "json", "huge");
  const validMs = performance.now() - t0;
  assert.ok(!(registry instanceof RegistryError), String(registry));
  assert.equal(registry.services.length, 10_000);
  services[9_999] = { name: "s0", cmd: "true" };
  t0 = performance.now();
  const refused = load(JSON.stringify({ services }), "json", "huge duplicate");
  const invalidMs = performance.now() - t0;
  assert.ok(refused instanceof RegistryError);
  assert.match(refused.message, /services\[9999\]\.name: .*"s0"/);
  console.log(
    `10,000 services: valid in ${validMs.toFixed(0)} ms, refused in ${invalidMs.toFixed(0)} ms`,
  );
  assert.ok(validMs < 5000 && invalidMs < 5000, `${validMs} / ${invalidMs} ms`);
});
