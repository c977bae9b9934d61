import assert from "node:assert/strict";
import {
  bucketName,
  decodeServiceToken,
  nodeFromHostname,
  nodeSubjects,
  parseKey,
  parseSubject,
  serviceToken,
  streamName,
  streamSubjects,
  subjectToken,
} from "./subjects.ts";
import { SERVICE_NAME_PATTERN } from "../registry/schema.ts";

Deno.test("subjectToken() accepts letters, digits, _ and - only", () => {
  assert.equal(subjectToken("rpi-7_a", "node"), "rpi-7_a");
  for (const bad of ["", "a.b", "a*", ">", "a b", "x".repeat(65), "é"]) {
    assert.throws(() => subjectToken(bad, "node"), TypeError, bad);
  }
});

Deno.test("serviceToken() keeps plain names and escapes every other byte", () => {
  assert.equal(serviceToken("web"), "web");
  assert.equal(serviceToken("a_b-C9"), "a_b-C9");
  assert.equal(serviceToken("db.replica"), "db=2Ereplica");
  assert.equal(serviceToken("trail."), "trail=2E");
  assert.equal(serviceToken("dbl..dot"), "dbl=2E=2Edot");
  assert.equal(serviceToken("a=b"), "a=3Db");
  assert.equal(serviceToken("é"), "=C3=A9");
  assert.throws(() => serviceToken(""), TypeError);
});

Deno.test("serviceToken() makes a valid subject token and KV key of any name the registry accepts", () => {
  const alphabet = "ABCXYZabcxyz0189_.-";
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const names = ["trail.", "dbl..dot", "a.", "a..", "0.-_", "x".repeat(64)];
  for (let i = 0; i < 2000; i++) {
    const length = 1 + Math.floor(random() * 64);
    let name = "a";
    for (let j = 1; j < length; j++) name += alphabet[Math.floor(random() * alphabet.length)];
    names.push(name);
  }
  for (const name of names) {
    assert.match(name, SERVICE_NAME_PATTERN);
    const token = serviceToken(name);
    assert.match(token, /^[A-Za-z0-9_=-]+$/, name); // no ".", "*", ">" or space; KV-key safe
    assert.equal(decodeServiceToken(token), name);
    assert.deepEqual(parseSubject("ev", `ev.n1.events.${token}`), {
      node: "n1",
      kind: "events",
      service: name,
    });
    assert.deepEqual(parseKey(`n1.${token}`), { node: "n1", service: name });
  }
});

Deno.test("decodeServiceToken() refuses what serviceToken() never makes", () => {
  for (const bad of ["", "a.b", "a=2e", "a=2", "=ZZ", "a=41", "=FF", "a*"]) {
    assert.equal(decodeServiceToken(bad), undefined, bad);
  }
});

Deno.test("nodeSubjects() builds every subject and key", () => {
  const s = nodeSubjects("edgevisor", "rpi7");
  assert.equal(s.heartbeat, "edgevisor.rpi7.heartbeat");
  assert.equal(s.status("web"), "edgevisor.rpi7.status.web");
  assert.equal(s.events("a.b"), "edgevisor.rpi7.events.a=2Eb");
  assert.equal(s.control, "edgevisor.rpi7.control");
  assert.equal(s.statusKey("web"), "rpi7.web");
  assert.equal(s.statusKey("trail."), "rpi7.trail=2E");
  assert.equal(s.heartbeatKey, "rpi7._heartbeat");
  assert.throws(() => nodeSubjects("a.b", "n"), TypeError);
});

Deno.test("parseSubject() and parseKey() split names back, and nothing else", () => {
  assert.deepEqual(parseSubject("ev", "ev.n1.heartbeat"), { node: "n1", kind: "heartbeat" });
  assert.equal(parseSubject("ev", "other.n1.heartbeat"), undefined);
  assert.equal(parseSubject("ev", "ev.n1.events.a.b"), undefined, "one token per service");
  assert.equal(parseSubject("ev", "ev.n1.events.a=2e"), undefined);
  assert.deepEqual(parseKey("n1._heartbeat"), { node: "n1", service: "_heartbeat" });
  assert.equal(parseKey("n1"), undefined);
  assert.equal(parseKey("n1.a.b"), undefined);
});

Deno.test("streamSubjects() hold events only, of every node or one", () => {
  assert.deepEqual(streamSubjects("edgevisor"), ["edgevisor.*.events.*"]);
  assert.deepEqual(streamSubjects("edgevisor", "rpi7"), ["edgevisor.rpi7.events.*"]);
});

Deno.test("nodeFromHostname() keeps the first label as a token", () => {
  assert.equal(nodeFromHostname("rpi-7.local"), "rpi-7");
  assert.equal(nodeFromHostname("a+b"), "a_b");
  assert.equal(nodeFromHostname(""), "node");
  assert.equal(streamName("edgevisor"), "EDGEVISOR_EVENTS");
  assert.equal(bucketName("edgevisor"), "edgevisor");
});
