import assert from "node:assert/strict";
import { assertSpawnable, inOwnSession } from "./guards.ts";
import { trackSpawn } from "./reaper.ts";

Deno.test("inOwnSession() goes through setsid when there is one, else detached", () => {
  assert.deepEqual(inOwnSession("app", ["-v"], (p) => `/usr/bin/${p}`), {
    cmd: "/usr/bin/setsid",
    args: ["--", "app", "-v"],
    detached: false,
    spawned: trackSpawn,
  });
  assert.deepEqual(inOwnSession("app", ["-v"], () => undefined), {
    cmd: "app",
    args: ["-v"],
    detached: true,
    spawned: trackSpawn,
  });
});

Deno.test("assertSpawnable() throws what a spawn would: missing cwd, command, or exec bit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/run.sh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/data.txt`, "x", { mode: 0o644 });
    assertSpawnable("sh", undefined, "/nowhere:/usr/bin:/bin");
    assertSpawnable("run.sh", undefined, `/nowhere:${dir}`);
    assertSpawnable("./run.sh", dir, "/nowhere");
    assertSpawnable(`${dir}/run.sh`, undefined, "");
    assertSpawnable("run.sh", dir, ":/nowhere"); // an empty PATH entry is the working directory
    assert.throws(
      () => assertSpawnable("sh", `${dir}/gone`, "/bin"),
      (e: Error) => e instanceof Deno.errors.NotFound && /cwd/.test(e.message),
    );
    assert.throws(
      () => assertSpawnable("edgevisor-no-such-cmd", undefined, "/usr/bin:/bin"),
      Deno.errors.NotFound,
    );
    assert.throws(() => assertSpawnable("./nope", dir, "/bin"), Deno.errors.NotFound);
    assert.throws(() => assertSpawnable("./data.txt", dir, "/bin"), Deno.errors.PermissionDenied);
    assert.throws(() => assertSpawnable("data.txt", undefined, dir), Deno.errors.PermissionDenied);
    assert.throws(() => assertSpawnable(dir, undefined, "/bin"), Deno.errors.PermissionDenied);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
