import assert from "node:assert/strict";
import { logPath } from "./paths.ts";

Deno.test("logPath() follows the OmegaOS layout", () => {
  assert.equal(logPath("/var/log/edgevisor", "api", "stdout"), "/var/log/edgevisor/api.stdout.log");
  assert.equal(
    logPath("/var/log/edgevisor/", "api", "stderr"),
    "/var/log/edgevisor/api.stderr.log",
  );
  assert.equal(logPath("logs", "web-1.v2_x", "stdout"), "logs/web-1.v2_x.stdout.log");
  assert.equal(logPath("logs", "a".repeat(64), "stdout"), `logs/${"a".repeat(64)}.stdout.log`);
});

Deno.test("logPath() rejects names that could leave the log directory", () => {
  for (
    const name of ["../x", "a/b", "", ".", "..", ".hidden", "a\\b", "a b", "a\0b", "a".repeat(65)]
  ) {
    assert.throws(
      () => logPath("/var/log/edgevisor", name, "stdout"),
      TypeError,
      JSON.stringify(name),
    );
  }
});

Deno.test("logPath() rejects an empty directory and an unknown stream", () => {
  assert.throws(() => logPath("", "api", "stdout"), TypeError);
  assert.throws(() => logPath("logs", "api", "both" as "stdout"), TypeError);
});
