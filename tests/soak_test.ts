/**
 * A short soak (`bench/soak.ts` for 15 s): random SIGKILLs of services,
 * restarts through the API, log output and API load against a real
 * orchestrator. Descriptors come back to their count (and no `/proc` stat file
 * is kept once every service stopped), no zombie or orphan is
 * left, and every kill shows in `crash_count` and `restarts`. RSS growth is
 * printed; only a loose bound is asserted, since 15 s is too short for the
 * heap to settle.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatSoak, runSoak } from "../bench/soak.ts";
import { assertBelow } from "./harness.ts";

Deno.test("soak: 15 s of kills, API restarts, logs and API load leave nothing behind", async () => {
  const report = await runSoak({ durationMs: 15_000, services: 20, seed: 42 });
  console.log(formatSoak(report));
  assert.ok(report.kills >= 20, `only ${report.kills} kills`);
  assert.equal(report.crashCount, report.kills, "every kill counted in crash_count");
  assert.equal(report.restarts, report.kills + report.apiRestarts, "every restart counted");
  assert.equal(report.apiErrors, 0, "read-only API requests that failed");
  assertBelow(report.apiSlowestMs, 2000, "slowest read-only API answer (ms)");
  assert.ok(report.fdsEnd <= report.fdsWarm, `fds ${report.fdsWarm} -> ${report.fdsEnd}`);
  assert.deepEqual(report.fdsGrown, [], "no kind of descriptor more numerous at the end");
  assert.equal(report.statFilesAfterStop, 0, "stat files kept once every service stopped");
  assert.equal(report.zombies, 0, "zombie children of the orchestrator");
  assert.equal(report.orphans, 0, "live processes of the services' groups after shutdown");
  assert.equal(report.exitCode, 0);
  assertBelow(report.rssGrowthPercent, 100, "RSS growth (%) after a 3 s warm-up");
});
