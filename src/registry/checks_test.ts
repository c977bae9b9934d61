import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { RegistryError } from "../errors.ts";
import { IMPLIED_INTERVAL, omegaosWarnings, portCheck, resolveChecks } from "./checks.ts";
import { loadRegistry, parseRegistry, warningLines } from "./load.ts";

const SEED = fromFileUrl(
  new URL("../../tests/fixtures/registries/omegaos_seed.json", import.meta.url),
);

const named = { web: { type: "http" as const, port: 80 } };
const file = { type: "file" as const, path: "/tmp/ready" };

Deno.test("resolveChecks() gives roles: health_check for both, overrides, implied tcp on port", () => {
  const both = resolveChecks({ health_check: "web" }, named);
  assert.equal(both.readiness, named.web);
  assert.equal(both.liveness, both.readiness, "one check plays both roles");
  const split = resolveChecks({ health_check: "web", readiness: file }, named);
  assert.equal(split.readiness, file);
  assert.equal(split.liveness, named.web);
  const named2 = resolveChecks({ readiness: "web", liveness: file }, named);
  assert.deepEqual(named2, { readiness: named.web, liveness: file });
  const implied = resolveChecks({ port: 8080 }, named);
  assert.deepEqual(implied.readiness, {
    type: "tcp",
    host: "127.0.0.1",
    port: 8080,
    interval: IMPLIED_INTERVAL,
  });
  assert.equal(implied.liveness, implied.readiness, "one check plays both roles");
  assert.deepEqual(resolveChecks({ port: 8080, liveness: file }, named), {
    readiness: undefined,
    liveness: file,
  });
  assert.deepEqual(resolveChecks({}, named), { readiness: undefined, liveness: undefined });
});

Deno.test("resolveChecks() checks the port for a health_check name not in health_checks", () => {
  const omegaos = resolveChecks({ health_check: "movement_check", port: 8081 }, {});
  assert.deepEqual(omegaos.readiness, portCheck(8081));
  assert.equal(omegaos.liveness, omegaos.readiness, "one check plays both roles");
  assert.deepEqual(resolveChecks({ health_check: "movement_check" }, {}), {
    readiness: undefined,
    liveness: undefined,
  });
  // A readiness check of its own keeps that role; the port check stays for liveness.
  assert.deepEqual(
    resolveChecks({ health_check: "movement_check", port: 1, readiness: file }, {}),
    {
      readiness: file,
      liveness: portCheck(1),
    },
  );
});

Deno.test("omegaosWarnings() names the check and says what is checked instead", () => {
  assert.deepEqual(
    omegaosWarnings([{ health_check: "video_check", port: 5000 }, {}, {
      health_check: "ros_core_check",
    }, { health_check: "web" }], named),
    [
      {
        path: ["services", 0, "health_check"],
        message: '"video_check" is not defined in "health_checks"; checking TCP port 5000 ' +
          "instead (the OmegaOS convention)",
      },
      {
        path: ["services", 2, "health_check"],
        message: '"ros_core_check" is not defined in "health_checks" and the service has no ' +
          '"port" to check instead (the OmegaOS convention): it runs without a health check',
      },
    ],
  );
});

Deno.test("loadRegistry() loads the OmegaOS seed registry as it is, with warnings", async () => {
  const registry = await loadRegistry(SEED, { env: {} });
  assert.deepEqual(registry.services.map((s) => s.name), [
    "movement_ws_server",
    "service_name",
    "ros_core",
  ]);
  assert.deepEqual(registry.warnings, [
    {
      path: "services[1].health_check",
      message: '"check_function_name" is not defined in "health_checks"; checking TCP port 8081 ' +
        "instead (the OmegaOS convention)",
    },
    {
      path: "services[2].health_check",
      message: '"ros_core_check" is not defined in "health_checks" and the service has no ' +
        '"port" to check instead (the OmegaOS convention): it runs without a health check',
    },
  ]);
  assert.equal(
    warningLines(registry)[0],
    `warning: registry ${
      JSON.stringify(SEED)
    }: services[1].health_check: "check_function_name" is not ` +
      'defined in "health_checks"; checking TCP port 8081 instead (the OmegaOS convention)',
  );
  const roles = registry.services.map((s) => resolveChecks(s, registry.healthChecks));
  assert.deepEqual(roles[0], { readiness: undefined, liveness: undefined });
  assert.deepEqual(roles[1], {
    readiness: { type: "tcp", host: "127.0.0.1", port: 8081, interval: IMPLIED_INTERVAL },
    liveness: { type: "tcp", host: "127.0.0.1", port: 8081, interval: IMPLIED_INTERVAL },
  });
  assert.deepEqual(roles[2], { readiness: undefined, liveness: undefined });
});

Deno.test("parseRegistry() warns for each service that a health_check from defaults leaves unchecked", () => {
  const registry = parseRegistry(
    JSON.stringify({
      defaults: { health_check: "port_check" },
      services: [{ name: "a", cmd: "a", port: 1 }, { name: "b", cmd: "b" }],
    }),
    { env: {} },
  );
  assert.deepEqual(registry.warnings.map((w) => w.path), [
    "services[0].health_check",
    "services[1].health_check",
  ]);
  assert.deepEqual(parseRegistry('{"services": []}', { env: {} }).warnings, []);
});

Deno.test("parseRegistry() keeps unknown names an error once health_checks defines a check", () => {
  const problems = (doc: unknown) => {
    try {
      parseRegistry(JSON.stringify(doc), { env: {} });
    } catch (error) {
      assert.ok(error instanceof RegistryError);
      return error.problems.map((p) => `${p.path}: ${p.message}`);
    }
    assert.fail("expected the registry to be rejected");
  };
  const health_checks = { movement_check: { type: "tcp", port: 8081 } };
  // A typo of a defined check.
  assert.deepEqual(
    problems({
      health_checks,
      services: [{ name: "a", cmd: "a", port: 1, health_check: "movment_check" }],
    }),
    [
      'services[0].health_check: unknown health check "movment_check"; did you mean ' +
      '"movement_check"? (defined checks: movement_check)',
    ],
  );
  // Another name: every check of a registry with health_checks must be defined.
  assert.deepEqual(
    problems({ health_checks, services: [{ name: "a", cmd: "a", health_check: "gps_check" }] }),
    [
      'services[0].health_check: unknown health check "gps_check"; defined checks: ' +
      "movement_check; a name not defined here is checked as the service's TCP port only in a " +
      'registry without "health_checks" (the OmegaOS convention)',
    ],
  );
  // readiness and liveness are edgevisor's: their names must always exist.
  assert.deepEqual(
    problems({ services: [{ name: "a", cmd: "a", port: 1, liveness: "movement_check" }] }),
    [
      'services[0].liveness: unknown health check "movement_check"; there is no top-level ' +
      '"health_checks"',
    ],
  );
  // A name that no check could have is an error, not a convention.
  assert.deepEqual(problems({ services: [{ name: "a", cmd: "a", health_check: "a b" }] }), [
    "services[0].health_check: expected 1 to 64 letters, digits, '_', '.' or '-', starting with " +
    'a letter or digit; got "a b"',
  ]);
});
