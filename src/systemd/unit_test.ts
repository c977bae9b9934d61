import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { timeoutStopFor, UNIT, unitText } from "./unit.ts";

const SERVICE_FILE = fileURLToPath(new URL("../../systemd/edgevisor.service", import.meta.url));

/**
 * `systemd-analyze {command} … {unit}` on `text` written as `edgevisor.service`,
 * with ExecStart pointing to an existing executable.
 */
async function analyze(
  text: string,
  command: string[],
): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "edgevisor_unit_" });
  try {
    const bin = `${dir}/edgevisor`;
    await Deno.writeTextFile(bin, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    await Deno.chmod(bin, 0o755);
    const unit = `${dir}/edgevisor.service`;
    await Deno.writeTextFile(unit, text.replace(/^ExecStart=\S+/m, `ExecStart=${bin}`));
    const out = await new Deno.Command("systemd-analyze", {
      args: [...command, unit],
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

/** `systemd-analyze verify` of `text`. */
function verify(text: string): Promise<{ code: number; output: string }> {
  return analyze(text, ["verify"]);
}

/** The overall exposure `systemd-analyze security --offline=true` gives `text` (0 to 10). */
async function exposure(text: string): Promise<number> {
  const result = await analyze(text, ["security", "--offline=true", "--no-pager"]);
  const level = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.output)?.[1];
  assert.ok(level !== undefined, result.output);
  return Number(level);
}

/** Highest exposure the shipped unit may have (it is 2.8; 8.5 without its sandbox). */
const MAX_EXPOSURE = 3;

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

Deno.test("UNIT is rated at most 3 by systemd-analyze security", async () => {
  const level = await exposure(UNIT);
  assert.ok(level <= MAX_EXPOSURE, `exposure ${level}, expected at most ${MAX_EXPOSURE}`);
});

Deno.test("systemd-analyze security rates the unit without its sandbox above 3 (the check can fail)", async () => {
  const bare = UNIT.split("\n\n# Sandbox.")[0]! + "\n\n[Install]\nWantedBy=multi-user.target\n";
  assert.ok(!bare.includes("ProtectSystem="));
  assert.ok(await exposure(bare) > MAX_EXPOSURE);
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
      // edgevisor gives each service a cgroup under its own
      "Delegate=yes",
    ]
  ) assert.ok(UNIT.split("\n").includes(line), line);
});

Deno.test("UNIT leaves the unit's cgroup writable, devices usable and V8's JIT working", () => {
  for (
    const setting of [
      "ProtectControlGroups",
      "PrivateDevices",
      "DevicePolicy",
      "DeviceAllow",
      "ProtectClock",
      "MemoryDenyWriteExecute",
      "ProcSubset",
    ]
  ) assert.doesNotMatch(UNIT, new RegExp(`^${setting}=`, "m"), setting);
});

Deno.test("UNIT gives each sandbox setting a comment line above it", () => {
  const lines = UNIT.split("\n");
  const start = lines.findIndex((line) => line.startsWith("# Sandbox."));
  const end = lines.indexOf("[Install]");
  assert.ok(start > 0 && end > start);
  lines.slice(start, end).forEach((line, i, section) => {
    if (line === "" || line.startsWith("#")) return;
    assert.match(section[i - 1]!, /^# /, `no comment above ${line}`);
  });
});

Deno.test("timeoutStopFor() leaves 30 s over the largest stop_timeout, at least 90", () => {
  assert.equal(timeoutStopFor(0), 90);
  assert.equal(timeoutStopFor(60), 90);
  assert.equal(timeoutStopFor(100.5), 131);
});
