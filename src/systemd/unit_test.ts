import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { timeoutStopFor, UNIT, unitText } from "./unit.ts";

const SERVICE_FILE = fileURLToPath(new URL("../../systemd/edgevisor.service", import.meta.url));

/** `systemd-analyze verify` of `text`, with ExecStart pointing to an existing executable. */
async function verify(text: string): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_unit_" });
  try {
    const bin = `${dir}/edgevisor`;
    await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.chmod(bin, 0o755);
    const unit = `${dir}/edgevisor.service`;
    await Deno.writeTextFile(unit, text.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`));
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", unit],
      env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_LOG_TARGET: "console" },
    }).output();
    const decode = new TextDecoder();
    return {
      code: out.code,
      output: (decode.decode(out.stdout) + decode.decode(out.stderr)).trim(),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("UNIT is what systemd/edgevisor.service holds", async () => {
  assert.equal(await Deno.readTextFile(SERVICE_FILE), UNIT);
});

Deno.test("UNIT passes systemd-analyze verify without a warning", async () => {
  const result = await verify(UNIT);
  assert.equal(result.code, 0, result.output);
  assert.equal(result.output, "");
});

Deno.test("unitText() with another user, registry and stop timeout passes systemd-analyze verify", async () => {
  const text = unitText({
    user: "robot",
    registry: "/srv/robot/registry.json",
    timeoutStopSec: 200,
  });
  assert.match(text, /^User=robot$/m);
  assert.match(
    text,
    /^ExecStart=\/usr\/local\/bin\/edgevisor run --registry \/srv\/robot\/registry.json$/m,
  );
  assert.match(text, /^ReadWritePaths=-\/srv\/robot$/m);
  assert.match(text, /^TimeoutStopSec=200s$/m);
  const result = await verify(text);
  assert.equal(result.code, 0, result.output);
  assert.equal(result.output, "");
});

Deno.test("systemd-analyze verify reports a broken unit (the check can fail)", async () => {
  const result = await verify(UNIT.replace("KillMode=mixed", "KillMode=sometimes"));
  assert.match(result.output, /kill mode/i);
});

Deno.test("UNIT has the settings the deployment relies on", () => {
  for (
    const line of [
      "Type=notify",
      "ExecStart=/usr/local/bin/edgevisor run --registry /etc/edgevisor/registry.json",
      "User=edgevisor",
      "Restart=on-failure",
      "RestartPreventExitStatus=2",
      "KillMode=mixed",
      "TimeoutStopSec=90s",
      "WatchdogSec=30s",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "StateDirectory=edgevisor",
      "LogsDirectory=edgevisor",
      "ReadWritePaths=-/etc/edgevisor",
      "WantedBy=multi-user.target",
    ]
  ) assert.ok(UNIT.split("\n").includes(line), line);
});

Deno.test("timeoutStopFor() leaves 30 s over the largest stop_timeout, at least 90", () => {
  assert.equal(timeoutStopFor(0), 90);
  assert.equal(timeoutStopFor(60), 90);
  assert.equal(timeoutStopFor(100.5), 131);
});
