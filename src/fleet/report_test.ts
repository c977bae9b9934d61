import assert from "node:assert/strict";
import { type ConfigReport, describeOutcome, parseConfigReport } from "./report.ts";

const report: ConfigReport = {
  group: "line1",
  revision: 61,
  source: "group",
  state: "rolled_back",
  at: "2026-01-01T00:00:00.000Z",
  service: "web",
  reason: 'service "web" went to cooldown',
  running: { revision: 57, source: "group" },
};

Deno.test("parseConfigReport() takes a report and nothing that lacks its fields", () => {
  assert.deepEqual(parseConfigReport(JSON.parse(JSON.stringify(report))), report);
  for (
    const bad of [
      undefined,
      "applied",
      { ...report, state: "done" },
      { ...report, revision: "61" },
      { ...report, source: "file" },
      { ...report, running: undefined },
      { ...report, group: 1 },
    ]
  ) {
    assert.equal(parseConfigReport(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("describeOutcome() says what became of the revision on a device", () => {
  assert.equal(
    describeOutcome({ node: "rpi7", revision: 61, report }),
    'rolled_back revision 61: service "web" went to cooldown',
  );
  assert.equal(
    describeOutcome({
      node: "rpi7",
      revision: 61,
      report: {
        ...report,
        state: "rejected",
        reason: undefined,
        problems: [{ path: "services[0].cmd", message: 'variable "BIN" is not set' }],
      },
    }),
    'rejected revision 61: services[0].cmd: variable "BIN" is not set',
  );
  assert.equal(
    describeOutcome({ node: "rpi7", revision: 62, report }),
    "no report of revision 62 in time (last: rolled_back revision 61)",
  );
  assert.equal(describeOutcome({ node: "rpi7", revision: 62 }), "no report of revision 62 in time");
});
