import assert from "node:assert/strict";
import { runDefaults } from "./defaults.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("runDefaults() outside systemd: files beside the working directory", () => {
  assert.deepEqual(runDefaults(env({})), {
    registry: "service_registry.json",
    logDir: "logs",
    stateDir: ".edgevisor",
  });
});

Deno.test("runDefaults() under systemd: /etc, /var/log and /var/lib", () => {
  assert.deepEqual(runDefaults(env({ INVOCATION_ID: "abc" })), {
    registry: "/etc/edgevisor/registry.json",
    logDir: "/var/log/edgevisor",
    stateDir: "/var/lib/edgevisor",
  });
});

Deno.test("runDefaults() takes the first path of LOGS_DIRECTORY and STATE_DIRECTORY", () => {
  assert.deepEqual(
    runDefaults(
      env({ LOGS_DIRECTORY: "/l/a:/l/b", STATE_DIRECTORY: "/s", EDGEVISOR_REGISTRY: "r.yaml" }),
    ),
    { registry: "r.yaml", logDir: "/l/a", stateDir: "/s" },
  );
  assert.equal(runDefaults(env({ INVOCATION_ID: "" })).registry, "service_registry.json");
});
