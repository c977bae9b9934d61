import assert from "node:assert/strict";
import { liveness } from "./fleet.ts";

Deno.test("liveness() is stale after 2 missed heartbeats and expired after 3", () => {
  assert.equal(liveness(0, 5), "alive");
  assert.equal(liveness(10, 5), "alive");
  assert.equal(liveness(10.1, 5), "stale");
  assert.equal(liveness(15, 5), "stale");
  assert.equal(liveness(15.1, 5), "expired");
  assert.equal(liveness(6, 1, { staleAfter: 5, expireAfter: 10 }), "stale");
  assert.equal(liveness(11, 1, { staleAfter: 5, expireAfter: 10 }), "expired");
});
