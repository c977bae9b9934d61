import assert from "node:assert/strict";
import { parseRegistry } from "../registry/load.ts";
import { closeInOrder, conditionMet, dependenciesOf, waitingReason } from "./deps.ts";

const view = (status: string, extra: Record<string, unknown> = {}) =>
  ({ status, last_exit: null, next_restart_at: null, ...extra }) as Parameters<
    typeof conditionMet
  >[1];

Deno.test("conditionMet() for started, healthy and completed_successfully", () => {
  assert.equal(conditionMet("started", view("starting")), true);
  assert.equal(conditionMet("started", view("running")), true);
  assert.equal(conditionMet("started", view("backoff")), false);
  assert.equal(conditionMet("healthy", view("starting")), false);
  assert.equal(conditionMet("healthy", view("running")), true);
  const exit = (code: number) => ({ code, signal: null, at: "2026-01-01T00:00:00.000Z" });
  assert.equal(
    conditionMet("completed_successfully", view("exited", { last_exit: exit(0) })),
    true,
  );
  assert.equal(
    conditionMet("completed_successfully", view("exited", { last_exit: exit(1) })),
    false,
  );
  assert.equal(conditionMet("completed_successfully", view("running")), false);
  assert.equal(conditionMet("completed_successfully", view("stopped", { completed: true })), true);
});

Deno.test("waitingReason() names the first unmet dependency and its state", () => {
  const states: Record<string, ReturnType<typeof view>> = {
    db: view("running"),
    cache: view("cooldown", { next_restart_at: "2026-01-01T00:00:30.000Z" }),
  };
  const deps = dependenciesOf({ depends_on: ["db", { service: "cache", condition: "healthy" }] });
  assert.deepEqual(deps, [
    { service: "db", condition: "started" },
    { service: "cache", condition: "healthy" },
  ]);
  assert.equal(
    waitingReason(deps, (n) => states[n]),
    "waiting for cache (healthy): cache is in cooldown until 2026-01-01T00:00:30.000Z",
  );
  states.cache = view("running");
  assert.equal(waitingReason(deps, (n) => states[n]), null);
});

Deno.test("closeInOrder() closes dependents first and independents in parallel", async () => {
  const registry = parseRegistry(
    JSON.stringify({
      services: [
        { name: "api", cmd: "x", depends_on: ["db", "cache"] },
        { name: "db", cmd: "x" },
        { name: "cache", cmd: "x", depends_on: ["db"] },
        { name: "lone", cmd: "x" },
      ],
    }),
    { env: {} },
  );
  const log: string[] = [];
  const services = new Map(registry.services.map((spec) => [spec.name, {
    spec,
    async close() {
      log.push(`begin ${spec.name}`);
      await Promise.resolve();
      log.push(`end ${spec.name}`);
    },
  }]));
  await closeInOrder(services);
  const at = (entry: string) => log.indexOf(entry);
  assert.ok(at("end api") < at("begin cache"));
  assert.ok(at("end cache") < at("begin db"));
  assert.ok(at("begin lone") < at("end api"), "lone does not wait");
});
