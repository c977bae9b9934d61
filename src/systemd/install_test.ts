import assert from "node:assert/strict";
import { main } from "../cli/program.ts";
import {
  describePlan,
  executePlan,
  type MachineFacts,
  planInstall,
  planUninstall,
} from "./install.ts";

const FRESH: MachineFacts = {
  execPath: "/home/me/edgevisor-x86_64-linux",
  compiled: true,
  userExists: false,
  binExists: false,
  registryExists: false,
  largestStopTimeout: 0,
};

Deno.test("planInstall() on a fresh machine: binary, user, directories, registry, unit, enable", () => {
  const text = describePlan(planInstall({ now: true }, FRESH));
  const commands = text.split("\n").filter((l) => l !== "" && !l.startsWith("    "));
  assert.deepEqual(commands, [
    "install -m 0755 /home/me/edgevisor-x86_64-linux /usr/local/bin/edgevisor",
    "useradd --system --user-group --no-create-home --home-dir /var/lib/edgevisor --shell /usr/sbin/nologin edgevisor",
    "install -d -m 0750 -o edgevisor -g edgevisor /etc/edgevisor",
    "install -d -m 0750 -o edgevisor -g edgevisor /var/lib/edgevisor",
    "install -d -m 0750 -o edgevisor -g edgevisor /var/log/edgevisor",
    "write /etc/edgevisor/registry.json (mode 0640):",
    "chown edgevisor:edgevisor /etc/edgevisor/registry.json",
    "write /etc/systemd/system/edgevisor.service (mode 0644):",
    "systemctl daemon-reload",
    "systemctl enable --now edgevisor.service",
  ]);
  assert.match(
    text,
    /^ {4}ExecStart=\/usr\/local\/bin\/edgevisor run --registry \/etc\/edgevisor\/registry.json$/m,
  );
});

Deno.test("planInstall() keeps what exists and sizes TimeoutStopSec from the registry", () => {
  const plan = planInstall({ user: "robot", registry: "/srv/r.json" }, {
    ...FRESH,
    execPath: "/usr/local/bin/edgevisor",
    userExists: true,
    binExists: true,
    registryExists: true,
    largestStopTimeout: 120,
  });
  const text = describePlan(plan);
  assert.doesNotMatch(text, /useradd|^install -m|registry.json \(mode/m);
  assert.match(text, /^ {4}TimeoutStopSec=150s$/m);
  assert.match(text, /^ {4}User=robot$/m);
  assert.match(text, /^systemctl enable edgevisor.service$/m);
  assert.match(text, /^# start it with: systemctl start edgevisor.service$/m);
});

Deno.test("planUninstall() disables, removes the unit and reloads", () => {
  assert.equal(
    describePlan(planUninstall()),
    "systemctl disable --now edgevisor.service\nrm -f /etc/systemd/system/edgevisor.service\n" +
      "systemctl daemon-reload\n" +
      "# kept: the user, the registry, /var/log/edgevisor, /var/lib/edgevisor and /usr/local/bin/edgevisor\n",
  );
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: (t: string) => void out.push(t),
      stderr: (t: string) => void err.push(t),
      env: {},
    },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

Deno.test("main() systemd install --dry-run prints the steps and changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const registry = `${dir}/registry.json`;
    const c = capture();
    const code = await main(
      ["systemd", "install", "--dry-run", "--user", "robot", "--registry", registry, "--now"],
      c.io,
    );
    assert.equal(code, 0, c.err());
    assert.match(c.out(), new RegExp(`^install -d -m 0750 -o robot -g robot ${dir}$`, "m"));
    assert.match(c.out(), new RegExp(`^write ${registry} \\(mode 0640\\):$`, "m"));
    assert.match(c.out(), /^write \/etc\/systemd\/system\/edgevisor.service \(mode 0644\):$/m);
    assert.match(
      c.out(),
      new RegExp(`^ {4}ExecStart=/usr/local/bin/edgevisor run --registry ${registry}$`, "m"),
    );
    assert.match(c.out(), /^systemctl enable --now edgevisor.service$/m);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main() systemd unit prints the unit; uninstall --dry-run its steps", async () => {
  const c = capture();
  assert.equal(await main(["systemd", "unit"], c.io), 0);
  assert.match(c.out(), /^\[Service\]$/m);
  assert.match(c.out(), /^Type=notify$/m);
  const u = capture();
  assert.equal(await main(["systemd", "uninstall", "--dry-run"], u.io), 0);
  assert.match(u.out(), /^systemctl disable --now edgevisor.service$/m);
});

Deno.test("executePlan() writes, runs and removes; a failing command stops it with its stderr", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    await executePlan({
      steps: [
        { kind: "write", path: `${dir}/unit`, text: "[Unit]\n", mode: 0o644 },
        { kind: "run", argv: ["cp", `${dir}/unit`, `${dir}/copy`] },
        { kind: "remove", path: `${dir}/unit` },
        { kind: "remove", path: `${dir}/never-there` },
      ],
      notes: ["done"],
    }, (line) => lines.push(line));
    assert.equal(await Deno.readTextFile(`${dir}/copy`), "[Unit]\n");
    assert.equal(lines.at(-1), "done");
    await assert.rejects(
      executePlan({
        steps: [
          { kind: "run", argv: ["sh", "-c", "echo nope >&2; exit 3"] },
          { kind: "write", path: `${dir}/after`, text: "", mode: 0o644 },
        ],
        notes: [],
      }, () => {}),
      /failed with code 3: nope/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["copy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
