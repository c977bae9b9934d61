import assert from "node:assert/strict";
import { parseListenAddress } from "./listen.ts";

Deno.test("parseListenAddress() parses HOST:PORT and [IPv6]:PORT", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseListenAddress("0.0.0.0:1"), { hostname: "0.0.0.0", port: 1 });
  assert.deepEqual(parseListenAddress("localhost:65535"), { hostname: "localhost", port: 65535 });
  assert.deepEqual(parseListenAddress("[::1]:8080"), { hostname: "::1", port: 8080 });
  assert.deepEqual(parseListenAddress("[::]:80"), { hostname: "::", port: 80 });
});

Deno.test("parseListenAddress() rejects malformed addresses with TypeError", () => {
  for (
    const value of [
      "",
      "8080",
      ":8080",
      "127.0.0.1",
      "127.0.0.1:",
      "::1:8080",
      "[::1]",
      "a b:80",
      "h:8o",
      "[x]:80",
      "http://h:80",
    ]
  ) {
    assert.throws(() => parseListenAddress(value), TypeError, value);
  }
});

Deno.test("parseListenAddress() rejects ports out of range with RangeError", () => {
  for (const value of ["h:0", "h:65536", "h:99999999"]) {
    assert.throws(() => parseListenAddress(value), RangeError, value);
  }
  assert.throws(() => parseListenAddress("h:0"), {
    message: 'Invalid listen address "h:0": port must be from 1 to 65535',
  });
});
