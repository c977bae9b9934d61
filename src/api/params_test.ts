import assert from "node:assert/strict";
import { BadRequestError } from "../errors.ts";
import { parseForce, parseLines, parseServiceName, parseStream } from "./params.ts";

Deno.test("parseServiceName() accepts registry names and rejects the rest", () => {
  for (const name of ["api", "a", "Movement_ws.server-2", "x".repeat(64)]) {
    assert.equal(parseServiceName(name), name);
  }
  for (const name of ["", "../x", ".x", "-x", "a/b", "a b", "x".repeat(65), "é"]) {
    assert.throws(() => parseServiceName(name), BadRequestError, name);
  }
  assert.throws(() => parseServiceName("../x"), { message: 'Invalid service name "../x"' });
});

Deno.test("parseLines() accepts integers from 0 to 10000", () => {
  assert.equal(parseLines(undefined), 50);
  assert.equal(parseLines("0"), 0);
  assert.equal(parseLines("007"), 7);
  assert.equal(parseLines("10000"), 10000);
  for (const value of ["-1", "abc", "1.5", "100000", "10001", "", "+1", "1e3", "0x10"]) {
    assert.throws(() => parseLines(value), BadRequestError, value);
  }
  assert.throws(() => parseLines("abc"), {
    message: 'Invalid "lines": expected an integer from 0 to 10000; got "abc"',
  });
});

Deno.test("parseStream() accepts stdout, stderr and both", () => {
  assert.equal(parseStream(undefined), "both");
  for (const value of ["stdout", "stderr", "both"]) assert.equal(parseStream(value), value);
  assert.throws(() => parseStream("all"), {
    message: 'Invalid "stream": expected one of stdout, stderr, both; got "all"',
  });
});

Deno.test("parseForce() accepts true, false, 1 and 0", () => {
  assert.equal(parseForce(undefined), false);
  assert.equal(parseForce("true"), true);
  assert.equal(parseForce("True"), true);
  assert.equal(parseForce("1"), true);
  assert.equal(parseForce("false"), false);
  assert.equal(parseForce("0"), false);
  for (const value of ["", "yes", "2", "on"]) {
    assert.throws(() => parseForce(value), BadRequestError, value);
  }
});
