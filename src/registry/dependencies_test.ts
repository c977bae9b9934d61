import assert from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { findCycles } from "./dependencies.ts";
import { parseRegistry } from "./load.ts";

function problems(services: unknown[]): string[] {
  try {
    parseRegistry(JSON.stringify({ services }), { env: {} });
  } catch (err) {
    assert.ok(err instanceof RegistryError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

const svc = (name: string, extra: Record<string, unknown> = {}) => ({ name, cmd: "x", ...extra });

Deno.test("parseRegistry() names dependency cycles, self-dependencies and unknown services", () => {
  assert.deepEqual(
    problems([
      svc("a", { depends_on: ["b"] }),
      svc("b", { depends_on: [{ service: "c", condition: "healthy" }] }),
      svc("c", { depends_on: ["a"] }),
      svc("d", { depends_on: ["d", "dbb"], restart_with: ["a"] }),
      svc("db"),
    ]),
    [
      "services[0].depends_on[0]: dependency cycle: a -> b -> c -> a",
      "services[3].depends_on[0]: dependency cycle: d -> d",
      'services[3].depends_on[1]: unknown service "dbb"; did you mean "db"?',
      'services[3].restart_with[0]: "a" is not in depends_on',
    ],
  );
  const bad = problems([svc("x", { depends_on: [{ service: "x", condition: "soon" }] })]);
  assert.ok(bad.some((p) => p.includes("dependency cycle: x -> x")), bad.join("\n"));
  assert.ok(
    bad.some((p) => p.startsWith("services[0].depends_on[0]") && /soon/.test(p)),
    bad.join("\n"),
  );
});

Deno.test("parseRegistry() allows a schedule on jobs only", () => {
  assert.deepEqual(problems([svc("a", { schedule: { every: 5 } })]), [
    'services[0].schedule: only a job has a schedule; add "kind": "job"',
  ]);
  assert.deepEqual(problems([svc("a", { kind: "job", schedule: "0 3 * * *" })]), []);
});

Deno.test("parseRegistry() names the cron field that is wrong at services[i].schedule", () => {
  const job = (name: string, schedule: unknown) => svc(name, { kind: "job", schedule });
  assert.deepEqual(
    problems([
      job("a", "0 8 * * FUNDAY"),
      job("b", "@reboot"),
      job("c", "0 8 * JAN-FOO MON"),
      job("d", "0 8 * * * *"),
      job("e", "@weekly"),
      job("f", "30 6 * jan-mar Mon-Fri"),
    ]),
    [
      'services[0].schedule: day of week "FUNDAY": expected 0-7 or SUN-SAT',
      'services[1].schedule: unknown macro "@reboot": expected one of @yearly, @annually, ' +
      "@monthly, @weekly, @daily, @midnight, @hourly",
      'services[2].schedule: month "FOO": expected 1-12 or JAN-DEC',
      "services[3].schedule: expected a cron expression: 5 fields (minute hour day-of-month " +
      "month day-of-week) or a macro such as @daily; got 6 fields",
    ],
  );
});

Deno.test("parseRegistry() accepts a dependency graph without cycles", () => {
  const registry = parseRegistry(
    JSON.stringify({
      services: [
        svc("api", {
          depends_on: ["db", { service: "migrate", condition: "completed_successfully" }],
          restart_with: ["db"],
        }),
        svc("db"),
        svc("migrate", { depends_on: [{ service: "db", condition: "healthy" }] }),
      ],
    }),
    { env: {} },
  );
  assert.deepEqual(registry.services[0]?.depends_on, [
    "db",
    { service: "migrate", condition: "completed_successfully" },
  ]);
  assert.deepEqual(registry.services[1]?.depends_on, []);
  assert.deepEqual(registry.services[2]?.depends_on, [{ service: "db", condition: "healthy" }]);
});

Deno.test("findCycles() reports each cycle once, from its first name in order", () => {
  const edges = new Map([
    ["a", [{ to: "b" }]],
    ["b", [{ to: "a" }, { to: "c" }]],
    ["c", [{ to: "b" }]],
  ]);
  assert.deepEqual(findCycles(edges), [["a", "b", "a"], ["b", "c", "b"]]);
});
