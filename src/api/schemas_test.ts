import assert from "node:assert/strict";
import type { z } from "zod";
import type { RegistryProblem } from "../errors.ts";
import type {
  HealthInfo,
  HistoryEvent,
  JobRun,
  MergedLogEntry,
  ServiceHistory,
  ServiceStatus,
} from "../types.ts";
import { fakeStatus } from "./fake_control.ts";
import type * as wire from "./wire.ts";
import * as schemas from "./schemas.ts";

/** True when `A` and `B` are assignable to each other. */
type Assignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** True when `A` and `B` are assignable to each other and have the same keys (optional ones too). */
type Same<A, B> = Assignable<A, B> extends true ? Assignable<keyof A, keyof B> : false;

// Each line fails to type-check when a schema and the type it stands for drift apart.
const agree: true[] = [
  true satisfies Same<z.output<typeof schemas.statusSchema>, ServiceStatus>,
  true satisfies Same<z.output<typeof schemas.healthInfoSchema>, HealthInfo>,
  true satisfies Same<z.output<typeof schemas.jobRunSchema>, JobRun>,
  true satisfies Same<z.output<typeof schemas.mergedLogEntrySchema>, MergedLogEntry>,
  true satisfies Same<z.output<typeof schemas.historyEventSchema>, HistoryEvent>,
  true satisfies Same<z.output<typeof schemas.registryProblemSchema>, RegistryProblem>,
  true satisfies Same<z.output<typeof schemas.errorBodySchema>, wire.ErrorBody>,
  true satisfies Same<z.output<typeof schemas.problemsBodySchema>, wire.ProblemsBody>,
  true satisfies Same<z.output<typeof schemas.listBodySchema>, wire.ListBody>,
  true satisfies Same<z.output<typeof schemas.statusBodySchema>, wire.StatusBody>,
  true satisfies Same<z.output<typeof schemas.actionBodySchema>, wire.ActionBody>,
  true satisfies Same<z.output<typeof schemas.runBodySchema>, wire.RunBody>,
  true satisfies Same<z.output<typeof schemas.logsBodySchema>, wire.LogsBody>,
  true satisfies Same<z.output<typeof schemas.serviceHealthBodySchema>, wire.ServiceHealthBody>,
  true satisfies Same<z.output<typeof schemas.historyBodySchema>, wire.HistoryBody>,
  true satisfies Same<z.output<typeof schemas.reloadBodySchema>, wire.ReloadBody>,
  true satisfies Same<z.output<typeof schemas.removeBodySchema>, wire.RemoveBody>,
  true satisfies Same<
    z.output<typeof schemas.orchestratorHealthBodySchema>,
    wire.OrchestratorHealthBody
  >,
  true satisfies Same<
    z.output<typeof schemas.historyBodySchema>["series"],
    ServiceHistory["series"]
  >,
];

// And the check itself tells a missing optional field.
// @ts-expect-error: `b` is missing on the left
const drift: true = true satisfies Same<{ a: number }, { a: number; b?: number }>;

Deno.test("the answer schemas and the wire types agree (a type test)", () => {
  assert.ok(agree.every((value) => value) && drift);
});

Deno.test("statusSchema refuses a field it does not declare; serviceStatusSchema lets others add theirs", () => {
  const status = fakeStatus("a");
  assert.ok(schemas.statusSchema.safeParse(status).success);
  assert.ok(!schemas.statusSchema.safeParse({ ...status, node: "d1" }).success);
  assert.ok(schemas.serviceStatusSchema.safeParse({ ...status, node: "d1" }).success);
  const { kind: _, ...withoutKind } = status;
  assert.ok(!schemas.serviceStatusSchema.safeParse(withoutKind).success);
});
