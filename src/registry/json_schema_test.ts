import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { RegistryError } from "../errors.ts";
import {
  REGISTRY_SCHEMA_ID,
  REGISTRY_SCHEMA_URL,
  registryJsonSchema,
  registryJsonSchemaText,
} from "./json_schema.ts";
import { parseRegistry } from "./load.ts";
import { formatOf, loadYamlParser, parseText } from "./parse_text.ts";
import { formatPath } from "./problems.ts";
import { isRegExp } from "./schema.ts";

await loadYamlParser();

const ROOT = fromFileUrl(new URL("../../", import.meta.url));

Deno.test("registryJsonSchemaText() matches the committed registry/schema.json", async () => {
  const committed = await Deno.readTextFile(REGISTRY_SCHEMA_URL);
  assert.ok(
    committed === registryJsonSchemaText(),
    "registry/schema.json is out of date with src/registry/schema.ts: run `deno task schema`",
  );
});

Deno.test("registryJsonSchema() describes the input side with defaults", () => {
  const schema = registryJsonSchema() as {
    $id: string;
    title: string;
    required: string[];
    $defs: { Service: { properties: Record<string, { default?: unknown }>; required: string[] } };
  };
  assert.equal(schema.$id, REGISTRY_SCHEMA_ID);
  assert.equal(schema.title, "edgevisor registry");
  assert.deepEqual(schema.required, ["services"]);
  const service = schema.$defs.Service;
  assert.deepEqual(service.required, ["name"], "cmd may come from defaults");
  assert.equal(service.properties.restart_policy?.default, "on-failure");
  assert.deepEqual(service.properties.args?.default, []);
});

/** The committed schema, compiled by ajv as an editor or a CI job would use it. */
async function compiledSchema() {
  const ajv = new Ajv2020({ allErrors: true, strictTypes: true });
  ajv.addFormat("regex", isRegExp);
  ajv.addKeyword("patternErrorMessage"); // read by editors
  return ajv.compile(JSON.parse(await Deno.readTextFile(REGISTRY_SCHEMA_URL)));
}

/** Every registry shipped: `registry/`, test fixtures and the JSON examples of the docs. */
async function shippedRegistries(): Promise<{ name: string; text: string }[]> {
  const found: { name: string; text: string }[] = [];
  const files = async (dir: string, keep: (name: string) => boolean) => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      if (entry.isFile && keep(entry.name)) {
        const name = `${dir}/${entry.name}`;
        found.push({ name, text: await Deno.readTextFile(join(ROOT, name)) });
      }
    }
  };
  await files("registry", (n) => /\.(json|ya?ml)$/.test(n) && n !== "schema.json");
  await files("tests/fixtures/registries", (n) => n !== "invalid.json");
  for (const doc of ["README.md", "docs/registry.md"]) {
    const text = await Deno.readTextFile(join(ROOT, doc));
    for (const [i, block] of [...text.matchAll(/```json\n([\s\S]*?)```/g)].entries()) {
      if (/^\{\s*("\$schema"[^\n]*\s*)?"(services|defaults|health_checks)"/.test(block[1]!)) {
        found.push({ name: `${doc} JSON block ${i + 1}`, text: block[1]! });
      }
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

Deno.test("registryJsonSchema() accepts every registry that ships, as validate does", async () => {
  const schema = await compiledSchema();
  const shipped = await shippedRegistries();
  const names = shipped.map((s) => s.name);
  for (const name of ["registry/example.json", "registry/example.yaml", "registry/omegaos.json"]) {
    assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
  }
  assert.ok(names.some((n) => n.startsWith("docs/registry.md")), names.join(", "));
  for (const { name, text } of shipped) {
    const registry = parseRegistry(text, { source: name, format: formatOf(name), env: {} });
    assert.ok(registry.services.length > 0, name);
    const parsed = parseText(text, formatOf(name));
    assert.ok(parsed.ok, name);
    assert.ok(schema(parsed.value), `${name}: ${JSON.stringify(schema.errors, null, 1)}`);
  }
});

const svc = { name: "a", cmd: "/bin/a" };
const job = { ...svc, kind: "job" };

/** Where ajv's errors point, written as validate writes paths (`services[0].cmd`). */
function errorPaths(errors: readonly { instancePath: string; params: object }[]): string[] {
  return errors.map(({ instancePath, params }) => {
    const path: (string | number)[] = instancePath.split("/").slice(1).map((segment) => {
      const key = segment.replaceAll("~1", "/").replaceAll("~0", "~");
      return /^\d+$/.test(key) ? Number(key) : key;
    });
    const { missingProperty, additionalProperty, propertyName } = params as Record<string, string>;
    const key = missingProperty ?? additionalProperty ?? propertyName;
    return formatPath(key === undefined ? path : [...path, key]);
  });
}

/**
 * Wrong registries: each is refused by `validate` at `path`, and by the
 * JSON Schema with an error at `path` (or at `schemaPath`), unless `only`
 * says why the schema cannot express the rule.
 */
const WRONG: { what: string; doc: unknown; path: string; schemaPath?: string; only?: string }[] = [
  { what: "services not an array", doc: { services: {} }, path: "services" },
  { what: "no services", doc: { defaults: {} }, path: "services" },
  { what: "unknown top-level key", doc: { services: [], service: [] }, path: "service" },
  {
    what: "unknown service key",
    doc: { services: [{ ...svc, restart_polcy: "always" }] },
    path: "services[0].restart_polcy",
  },
  {
    what: "unknown health check key",
    doc: { services: [{ ...svc, health_check: { type: "http", pth: "/" } }] },
    path: "services[0].health_check.pth",
  },
  {
    what: "wrong type",
    doc: { services: [{ ...svc, autostart: "yes" }] },
    path: "services[0].autostart",
  },
  {
    what: "wrong type in args",
    doc: { services: [{ ...svc, args: [1] }] },
    path: "services[0].args[0]",
  },
  {
    what: "not an integer",
    doc: { services: [{ ...svc, max_restarts: 1.5 }] },
    path: "services[0].max_restarts",
  },
  { what: "out of range", doc: { services: [{ ...svc, port: 70000 }] }, path: "services[0].port" },
  {
    what: "negative duration",
    doc: { services: [{ ...svc, stop_timeout: -1 }] },
    path: "services[0].stop_timeout",
  },
  {
    what: "bad name (space)",
    doc: { services: [{ ...svc, name: "my service" }] },
    path: "services[0].name",
  },
  {
    what: "bad name (leading dash)",
    doc: { services: [{ ...svc, name: "-a" }] },
    path: "services[0].name",
  },
  {
    what: "name too long",
    doc: { services: [{ ...svc, name: "a".repeat(65) }] },
    path: "services[0].name",
  },
  {
    what: "bad health check name",
    doc: { health_checks: { "bad name": { type: "tcp", port: 1 } }, services: [svc] },
    path: 'health_checks["bad name"]',
  },
  {
    what: "bad health check reference",
    doc: { services: [{ ...svc, health_check: "a b" }] },
    path: "services[0].health_check",
  },
  {
    what: "bad enum",
    doc: { services: [{ ...svc, restart_policy: "sometimes" }] },
    path: "services[0].restart_policy",
  },
  {
    what: "bad signal",
    doc: { services: [{ ...svc, stop_signal: "SIGFOO" }] },
    path: "services[0].stop_signal",
  },
  { what: "bad kind", doc: { services: [{ ...svc, kind: "cron" }] }, path: "services[0].kind" },
  {
    what: "bad check type",
    doc: { services: [{ ...svc, health_check: { type: "ping" } }] },
    path: "services[0].health_check.type",
  },
  {
    what: "name in defaults",
    doc: { defaults: { name: "x" }, services: [svc] },
    path: "defaults.name",
  },
  {
    what: "cron: unknown day name",
    doc: { services: [{ ...job, schedule: "0 8 * * FUNDAY" }] },
    path: "services[0].schedule",
  },
  {
    what: "cron: four fields",
    doc: { services: [{ ...job, schedule: "0 8 * *" }] },
    path: "services[0].schedule",
  },
  {
    what: "cron: minute out of range",
    doc: { services: [{ ...job, schedule: "60 * * * *" }] },
    path: "services[0].schedule",
  },
  {
    what: "cron: unknown macro",
    doc: { services: [{ ...job, schedule: "@reboot" }] },
    path: "services[0].schedule",
  },
  {
    what: "cron: step 0",
    doc: { services: [{ ...job, schedule: "*/0 * * * *" }] },
    path: "services[0].schedule",
  },
  {
    what: "schedule every 0",
    doc: { services: [{ ...job, schedule: { every: 0 } }] },
    path: "services[0].schedule.every",
  },
  {
    what: "schedule on a service",
    doc: { services: [{ ...svc, schedule: "@daily" }] },
    path: "services[0].schedule",
    schemaPath: "services[0].kind",
  },
  {
    what: "schedule with kind service",
    doc: { services: [{ ...svc, kind: "service", schedule: { every: 60 } }] },
    path: "services[0].schedule",
    schemaPath: "services[0].kind",
  },
  { what: "cmd missing, no defaults", doc: { services: [{ name: "a" }] }, path: "services[0].cmd" },
  {
    what: "cmd missing, defaults without cmd",
    doc: { defaults: { stop_timeout: 5 }, services: [{ name: "a" }] },
    path: "services[0].cmd",
  },
  { what: "cmd empty", doc: { services: [{ ...svc, cmd: "" }] }, path: "services[0].cmd" },
  {
    what: "log pattern not a regular expression",
    doc: { services: [{ ...svc, health_check: { type: "log", pattern: "(" } }] },
    path: "services[0].health_check.pattern",
  },
  // validate only:
  {
    what: "duplicate names",
    doc: { services: [svc, svc] },
    path: "services[1].name",
    only: "uniqueness of one field among array items (uniqueItems compares whole items)",
  },
  {
    what: "unknown readiness check",
    doc: { services: [{ ...svc, readiness: "nope" }] },
    path: "services[0].readiness",
    only: "a reference to a key of health_checks (a value of the document, not a constant)",
  },
  {
    what: "typo of a defined check",
    doc: {
      health_checks: { web_health: { type: "tcp", port: 1 } },
      services: [{ ...svc, health_check: "web_helth" }],
    },
    path: "services[0].health_check",
    only: "a reference to a key of health_checks",
  },
  {
    what: "unknown dependency",
    doc: { services: [{ ...svc, depends_on: ["db"] }] },
    path: "services[0].depends_on[0]",
    only: "a reference to another service's name",
  },
  {
    what: "dependency cycle",
    doc: {
      services: [{ ...svc, depends_on: ["b"] }, { name: "b", cmd: "b", depends_on: ["a"] }],
    },
    path: "services[0].depends_on[0]",
    only: "a property of the graph the references form",
  },
  {
    what: "cron: range that ends before it starts",
    doc: { services: [{ ...job, schedule: "0 17-9 * * *" }] },
    path: "services[0].schedule",
    only: "an order between two numbers of a string (a regular language would need every pair)",
  },
  {
    what: "unset variable",
    doc: { services: [{ ...svc, cmd: "${NOT_SET_ANYWHERE}" }] },
    path: "services[0].cmd",
    only: "the environment edgevisor runs in",
  },
  {
    what: "unterminated variable reference",
    doc: { services: [{ ...svc, args: ["${A:-${B}"] }] },
    path: "services[0].args[0]",
    only: "nested ${...} references are not a regular language",
  },
];

Deno.test("registryJsonSchema() refuses every wrong registry it can express, as validate does", async () => {
  const schema = await compiledSchema();
  assert.ok(WRONG.length >= 30);
  for (const { what, doc, path, schemaPath, only } of WRONG) {
    try {
      parseRegistry(JSON.stringify(doc), { env: {} });
      assert.fail(`validate accepts: ${what}`);
    } catch (error) {
      assert.ok(error instanceof RegistryError, `${what}: ${error}`);
      assert.equal(error.problems[0]?.path, path, `${what}: ${error.message}`);
    }
    // The schema refuses it at the same place, or accepts it for the reason given.
    assert.equal(schema(doc), only !== undefined, `${what}: ${JSON.stringify(schema.errors)}`);
    if (only === undefined) {
      const paths = errorPaths(schema.errors ?? []);
      assert.ok(paths.includes(schemaPath ?? path), `${what}: ${paths.join(", ")}`);
    }
  }
});

Deno.test("registryJsonSchema() cannot see a key written twice; validate can", async () => {
  const schema = await compiledSchema();
  const text = '{"services": [{"name": "a", "cmd": "a", "cmd": "b"}]}';
  assert.throws(() => parseRegistry(text, { env: {} }), RegistryError);
  assert.ok(
    schema(JSON.parse(text)),
    "JSON.parse keeps the last key, as any schema validator sees",
  );
});
