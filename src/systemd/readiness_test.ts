import assert from "node:assert/strict";
import type { OrchestratorInfo } from "../types.ts";
import { statusLine } from "./readiness.ts";

function info(services: Partial<OrchestratorInfo["services"]>): OrchestratorInfo {
  return { services } as OrchestratorInfo;
}

Deno.test("statusLine() counts the states that have services", () => {
  assert.equal(
    statusLine(info({ total: 3, running: 2, backoff: 1, stopped: 0 })),
    "3 services: 2 running, 1 backoff",
  );
  assert.equal(statusLine(info({ total: 1, running: 1 })), "1 service: 1 running");
  assert.equal(statusLine(info({ total: 0, running: 0 })), "0 services");
});
