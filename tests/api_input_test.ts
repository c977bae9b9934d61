/**
 * Input that `edgevisor run` and its API refuse cleanly: an API token that
 * could never match (whitespace or control characters) stops `run` with
 * exit code 2, and a request body nested too deeply answers 400, not 500.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  exists,
  FAST,
  freePort,
  killMatching,
  removeDir,
  runArgs,
  runMain,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  writeRegistry,
} from "./harness.ts";

const REFUSED = (source: string) =>
  `error: The API token from ${source} holds whitespace or control characters; use printable characters without spaces\n`;

Deno.test("edgevisor run refuses a token with whitespace or control characters, from a file or EDGEVISOR_TOKEN", async () => {
  const dir = await tempDir();
  try {
    const registry = await writeRegistry(dir, { services: [] });
    const tokenFile = `${dir}/token`;
    // A plain `run`, and one that only the full command line parses.
    for (const extra of [[], ["--allow-host", "robot1.local"]]) {
      for (const token of ["s3cret token", "s3cret\ttoken", "s3cret\u0001token"]) {
        await Deno.writeTextFile(tokenFile, `${token}\n`, { mode: 0o600 });
        const fromFile = await runMain([
          ...runArgs(registry, freePort(), dir),
          "--token-file",
          tokenFile,
          ...extra,
        ]);
        assert.equal(fromFile.code, 2, fromFile.stderr);
        assert.equal(fromFile.stderr, REFUSED(JSON.stringify(tokenFile)));

        const fromEnv = await runMain([...runArgs(registry, freePort(), dir), ...extra], {
          env: { EDGEVISOR_TOKEN: token },
        });
        assert.equal(fromEnv.code, 2, fromEnv.stderr);
        assert.equal(fromEnv.stderr, REFUSED("EDGEVISOR_TOKEN"));
        assert.ok(!exists(`${dir}/state`), "nothing started");
      }
    }
  } finally {
    await removeDir(dir);
  }
});

Deno.test("POST and PUT /api/services answer 400 to a body nested 100,000 deep, and take brackets in strings", async () => {
  const n = uniqueSeconds();
  const dir = await tempDir();
  try {
    const registry = await writeRegistry(dir, {
      services: [{ ...FAST, name: "a", cmd: "sleep", args: [String(n)] }],
    });
    const written = await Deno.readTextFile(registry);
    await using orch = await startOrchestrator({ registry, dir });
    const send = (method: string, path: string, body: string) =>
      api(orch.url, method, path, { body });
    const deep = 100_000;
    const bodies = [
      "[".repeat(deep) + "]".repeat(deep),
      '{"a":'.repeat(deep) + "1" + "}".repeat(deep),
      `{"name":"b","cmd":"sleep","args":${"[".repeat(deep)}${"]".repeat(deep)}}`,
    ];
    for (const body of bodies) {
      for (const [method, path] of [["POST", "/api/services"], ["PUT", "/api/services/a"]]) {
        const answer = await send(method!, path!, body);
        assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(answer.body, {
          ok: false,
          error: "Invalid JSON body: nested more than 64 levels deep",
        });
      }
    }
    assert.equal(await Deno.readTextFile(registry), written, "nothing written");
    assert.doesNotMatch(orch.stderr(), /RangeError|failed/);

    const brackets = "[".repeat(10_000) + "{".repeat(10_000);
    const added = await send(
      "POST",
      "/api/services",
      JSON.stringify({ name: "b", cmd: "sleep", args: [String(n), brackets] }),
    );
    assert.equal(added.status, 201, JSON.stringify(added.body).slice(0, 500));
    const file = JSON.parse(await Deno.readTextFile(registry));
    assert.equal(file.services[1].args[1], brackets);
  } finally {
    await killMatching(String(n));
    await removeDir(dir);
  }
});
