import assert from "node:assert/strict";
import {
  type FleetState,
  fleetStatePath,
  initialFleetState,
  readFleetState,
  withRefused,
  writeFleetState,
} from "./fleet_state.ts";

Deno.test("writeFleetState() and readFleetState() keep the state whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = fleetStatePath(dir);
    assert.equal(await readFleetState(path), undefined, "no file yet");
    const applied = { revision: 7, source: "group" as const, registry: { services: [] } };
    const state: FleetState = {
      ...initialFleetState("line1", new Date(0)),
      current: applied,
      stable: applied,
      refused: [5],
    };
    await writeFleetState(path, state);
    assert.deepEqual(await readFleetState(path), state);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["fleet_state.json"],
      "no backup or temporary file left",
    );
    await Deno.writeTextFile(path, '{"schema": 1, "group": "line1"}');
    await assert.rejects(() => readFleetState(path), TypeError);
    await Deno.writeTextFile(path, "{");
    await assert.rejects(() => readFleetState(path), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initialFleetState() runs the registry file and reports it applied", () => {
  assert.deepEqual(initialFleetState("line1", new Date(0)).report, {
    group: "line1",
    revision: null,
    source: "local",
    state: "applied",
    at: "1970-01-01T00:00:00.000Z",
    running: { revision: null, source: "local" },
  });
});

Deno.test("withRefused() adds a revision once and keeps the newest 20", () => {
  assert.deepEqual(withRefused([3, 5], 3), [5, 3]);
  const many = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.deepEqual(withRefused(many, 21), [...many.slice(1), 21]);
});
