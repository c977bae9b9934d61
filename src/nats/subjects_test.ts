import assert from "node:assert/strict";
import {
  bucketName,
  nodeFromHostname,
  nodeSubjects,
  parseKey,
  parseSubject,
  streamName,
  subjectToken,
} from "./subjects.ts";

Deno.test("subjectToken() accepts letters, digits, _ and - only", () => {
  assert.equal(subjectToken("rpi-7_a", "node"), "rpi-7_a");
  for (const bad of ["", "a.b", "a*", ">", "a b", "x".repeat(65), "é"]) {
    assert.throws(() => subjectToken(bad, "node"), TypeError, bad);
  }
});

Deno.test("nodeSubjects() builds every subject and key", () => {
  const s = nodeSubjects("edgevisor", "rpi7");
  assert.equal(s.heartbeat, "edgevisor.rpi7.heartbeat");
  assert.equal(s.status("web"), "edgevisor.rpi7.status.web");
  assert.equal(s.events("a.b"), "edgevisor.rpi7.events.a.b");
  assert.equal(s.control, "edgevisor.rpi7.control");
  assert.equal(s.statusKey("web"), "rpi7.web");
  assert.equal(s.heartbeatKey, "rpi7._heartbeat");
  assert.throws(() => nodeSubjects("a.b", "n"), TypeError);
});

Deno.test("parseSubject() and parseKey() split names back", () => {
  assert.deepEqual(parseSubject("ev", "ev.n1.events.a.b"), {
    node: "n1",
    kind: "events",
    service: "a.b",
  });
  assert.deepEqual(parseSubject("ev", "ev.n1.heartbeat"), { node: "n1", kind: "heartbeat" });
  assert.equal(parseSubject("ev", "other.n1.heartbeat"), undefined);
  assert.deepEqual(parseKey("n1.a.b"), { node: "n1", service: "a.b" });
  assert.equal(parseKey("n1"), undefined);
});

Deno.test("nodeFromHostname() keeps the first label as a token", () => {
  assert.equal(nodeFromHostname("rpi-7.local"), "rpi-7");
  assert.equal(nodeFromHostname("a+b"), "a_b");
  assert.equal(nodeFromHostname(""), "node");
  assert.equal(streamName("edgevisor"), "EDGEVISOR_EVENTS");
  assert.equal(bucketName("edgevisor"), "edgevisor");
});
