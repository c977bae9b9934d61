/**
 * Changing services without restarting the orchestrator: registry reload by
 * SIGHUP and by `POST /api/services/reload`, and runtime add, replace and
 * delete written back to the registry file.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  api,
  assertAtLeast,
  FAST,
  processAlive,
  removeDir,
  runMain,
  serviceStatus,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
  writeRegistry,
} from "./harness.ts";

// deno-lint-ignore no-explicit-any
type Body = any;

function sleeper(name: string, seconds: number) {
  return { name, cmd: "sleep", args: [String(seconds)] };
}

async function pids(url: string): Promise<Record<string, number | null>> {
  const { body } = await api(url, "GET", "/api/services/list");
  return Object.fromEntries(body.services.map((s: Body) => [s.name, s.pid]));
}

async function allRunning(url: string, names: string[]): Promise<Record<string, number>> {
  return await waitFor(async () => {
    const { body } = await api(url, "GET", "/api/services/list");
    const services: Body[] = body.services;
    const ok = services.length === names.length &&
      services.every((s, i) => s.name === names[i] && s.status === "running");
    return ok && Object.fromEntries(services.map((s) => [s.name, s.pid as number]));
  }, { message: `services ${names.join(", ")} running in that order` });
}

/** Registries before and after: a untouched, b changed, c removed, d added. */
function registries() {
  const [a, b, c, d, b2] = [1, 2, 3, 4, 5].map(() => uniqueSeconds());
  return {
    before: {
      defaults: FAST,
      services: [sleeper("a", a!), sleeper("b", b!), sleeper("c", c!)],
    },
    after: {
      defaults: FAST,
      services: [sleeper("a", a!), sleeper("b", b2!), sleeper("d", d!)],
    },
  };
}

Deno.test("SIGHUP reloads the registry: added, removed, changed, untouched keep their pid", async () => {
  const { before, after } = registries();
  await using orch = await startOrchestrator({ registry: before });
  const old = await allRunning(orch.url, ["a", "b", "c"]);
  await writeRegistry(orch.dir, after);
  Deno.kill(orch.pid, "SIGHUP");
  const now = await allRunning(orch.url, ["a", "b", "d"]);
  assert.equal(now.a, old.a, "untouched a keeps its pid");
  assert.notEqual(now.b, old.b, "changed b runs a new process");
  assert.equal(await processAlive(old.c!), false, "removed c is stopped");
  assert.equal(await processAlive(old.b!), false, "the old process of b is stopped");
  assert.deepEqual((await serviceStatus(orch.url, "b")).pid, now.b);
  await waitFor(
    () => orch.stderr().includes("registry: added d; removed c; changed b; 1 untouched"),
    {
      message: "the reload line in the log",
    },
  );
});

Deno.test("POST /api/services/reload applies the diff; an invalid registry changes nothing", async () => {
  const { before, after } = registries();
  await using orch = await startOrchestrator({ registry: before });
  const old = await allRunning(orch.url, ["a", "b", "c"]);

  await writeRegistry(orch.dir, {
    services: [{ name: "a", cmd: "" }, {
      name: "bad name!",
      cmd: "x",
      restart_policy: "sometimes",
    }],
  });
  const rejected = await api(orch.url, "POST", "/api/services/reload");
  assert.equal(rejected.status, 400);
  assert.equal(rejected.body.ok, false);
  assert.deepEqual(
    rejected.body.problems.map((p: Body) => p.path),
    ["services[0].cmd", "services[1].name", "services[1].restart_policy"],
  );
  assert.deepEqual(await pids(orch.url), old, "nothing changed");

  await writeRegistry(orch.dir, after);
  const answer = await api(orch.url, "POST", "/api/services/reload");
  assert.equal(answer.status, 200);
  assert.deepEqual(
    { added: answer.body.added, removed: answer.body.removed, changed: answer.body.changed },
    { added: ["d"], removed: ["c"], changed: ["b"] },
  );
  assert.deepEqual(answer.body.untouched, ["a"]);
  const now = await allRunning(orch.url, ["a", "b", "d"]);
  assert.equal(now.a, old.a);
  assert.notEqual(now.b, old.b);
  assert.equal(await processAlive(old.c!), false);

  const cli = await runMain(["reload", "--url", orch.url]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout, "reloaded: 3 untouched\n");
});

Deno.test("POST, PUT and DELETE /api/services change the registry file and survive a restart", async () => {
  const dir = await tempDir();
  try {
    const [a, a2, e] = [uniqueSeconds(), uniqueSeconds(), uniqueSeconds()];
    const registryPath = await writeRegistry(dir, {
      defaults: FAST,
      services: [sleeper("a", a), sleeper("b", uniqueSeconds())],
    });
    const original = await Deno.readTextFile(registryPath);
    {
      await using orch = await startOrchestrator({ registry: registryPath, dir });
      const old = await allRunning(orch.url, ["a", "b"]);

      const invalid = await api(orch.url, "POST", "/api/services", {
        body: { name: "e", cmd: "sleep", restart_policy: "sometimes", stop_timeout: -1 },
      });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.body.problems.map((p: Body) => p.path), [
        "restart_policy",
        "stop_timeout",
      ]);
      assert.equal(await Deno.readTextFile(registryPath), original, "nothing written");

      const added = await api(orch.url, "POST", "/api/services", { body: sleeper("e", e) });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.name, "e");
      const taken = await api(orch.url, "POST", "/api/services", { body: sleeper("e", e) });
      assert.equal(taken.status, 409);

      const replaced = await api(orch.url, "PUT", "/api/services/a", {
        body: { cmd: "sleep", args: [String(a2)] },
      });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(
        (await api(orch.url, "PUT", "/api/services/nope", { body: sleeper("nope", 1) })).status,
        404,
      );

      const deleted = await api(orch.url, "DELETE", "/api/services/b");
      assert.equal(deleted.status, 200);
      assert.equal(await processAlive(old.b!), false, "b is stopped");

      const now = await allRunning(orch.url, ["a", "e"]);
      assert.notEqual(now.a, old.a, "a restarted with its new definition");
      const file = JSON.parse(await Deno.readTextFile(registryPath));
      assert.deepEqual(file.defaults, FAST, "defaults kept as written");
      assert.deepEqual(file.services, [
        { name: "a", cmd: "sleep", args: [String(a2)] },
        sleeper("e", e),
      ]);
      JSON.parse(await Deno.readTextFile(`${registryPath}.bak`));
      await orch.stop();
    }
    await using again = await startOrchestrator({ registry: registryPath, dir });
    await allRunning(again.url, ["a", "e"]);
    assert.deepEqual((await serviceStatus(again.url, "a")).pid !== null, true);
  } finally {
    await removeDir(dir);
  }
});

Deno.test("reload starts added services in dependency order", async () => {
  const { before } = registries();
  await using orch = await startOrchestrator({ registry: before });
  await allRunning(orch.url, ["a", "b", "c"]);
  await writeRegistry(orch.dir, {
    ...before,
    services: [
      ...before.services,
      { ...sleeper("app", uniqueSeconds()), depends_on: [{ service: "db", condition: "healthy" }] },
      { ...sleeper("db", uniqueSeconds()), start_grace: 0.5 },
    ],
  });
  const answer = await api(orch.url, "POST", "/api/services/reload");
  assert.deepEqual(answer.body.added, ["app", "db"]);
  await allRunning(orch.url, ["a", "b", "c", "app", "db"]);
  const app = await serviceStatus(orch.url, "app");
  const db = await serviceStatus(orch.url, "db");
  assertAtLeast(
    Date.parse(app.started_at) - Date.parse(db.started_at),
    500,
    "ms between the start of db and of app (db is healthy after its start_grace)",
  );
});
