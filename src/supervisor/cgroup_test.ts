import assert from "node:assert/strict";
import {
  Cgroup,
  cgroupDirectory,
  enterCgroup,
  instanceName,
  instanceOwner,
  openInstance,
  ownCgroupDirectory,
  parseCgroup2Mounts,
  parseOwnCgroup,
  removeStaleInstances,
  serviceCgroupName,
} from "./cgroup.ts";
import { waitFor } from "../../tests/harness.ts";

const HYBRID = `22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

Deno.test("parseCgroup2Mounts() finds the cgroup2 mount of a hybrid layout, not the v1 ones", () => {
  assert.deepEqual(parseCgroup2Mounts(HYBRID), [
    { root: "/", mountPoint: "/sys/fs/cgroup/unified" },
  ]);
});

Deno.test("parseCgroup2Mounts() reads optional fields, escaped paths and bind mounts", () => {
  const text =
    `25 20 0:23 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate
90 22 0:23 /system.slice/edge.service /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw
91 22 0:40 / /mnt/cgroup2ish rw - tmpfs cgroup2 rw
`;
  assert.deepEqual(parseCgroup2Mounts(text), [
    { root: "/", mountPoint: "/sys/fs/cgroup" },
    { root: "/system.slice/edge.service", mountPoint: "/mnt/my cgroups" },
  ]);
  assert.deepEqual(parseCgroup2Mounts(""), []);
});

Deno.test("parseOwnCgroup() takes the 0:: line and refuses a removed cgroup", () => {
  const v1 = "4:memory:/process_api/9f7c\n1:cpu:/\n";
  assert.equal(parseOwnCgroup(`${v1}0::/\n`), "/");
  assert.equal(parseOwnCgroup("0::/system.slice/edge.service\n"), "/system.slice/edge.service");
  assert.equal(parseOwnCgroup(v1), undefined);
  assert.equal(parseOwnCgroup("0::/user.slice/gone (deleted)\n"), undefined);
});

Deno.test("cgroupDirectory() maps a cgroup path through the mount that shows it", () => {
  const unified = [{ mountPoint: "/sys/fs/cgroup", root: "/" }];
  assert.equal(cgroupDirectory(unified, "/"), "/sys/fs/cgroup");
  assert.equal(cgroupDirectory(unified, "/a.slice/b.service"), "/sys/fs/cgroup/a.slice/b.service");
  const bind = [{ mountPoint: "/mnt/cg/", root: "/a.slice" }];
  assert.equal(cgroupDirectory(bind, "/a.slice/b.service"), "/mnt/cg/b.service");
  assert.equal(cgroupDirectory(bind, "/a.slice"), "/mnt/cg");
  assert.equal(cgroupDirectory(bind, "/a.slicer"), undefined, "a prefix of a name is no parent");
  assert.equal(cgroupDirectory(bind, "/other"), undefined);
});

Deno.test("instanceName() and instanceOwner() agree; serviceCgroupName() avoids interface files", () => {
  assert.equal(instanceName(123, 1), "edgevisor-123");
  assert.equal(instanceName(123, 2), "edgevisor-123-2");
  assert.equal(instanceOwner("edgevisor-123"), 123);
  assert.equal(instanceOwner("edgevisor-123-2"), 123);
  assert.equal(instanceOwner("edgevisor-x"), undefined);
  assert.equal(instanceOwner("svc-web"), undefined);
  assert.equal(serviceCgroupName("cgroup.procs"), "svc-cgroup.procs");
});

const own = ownCgroupDirectory();
const usable = "dir" in own && !("reason" in openProbe());

/** Whether an instance can be opened here (it is removed again at once). */
function openProbe(): { instance: Cgroup } | { reason: string } {
  const opened = openInstance("/bin/sh");
  if ("instance" in opened) opened.instance.remove();
  return opened;
}

Deno.test({
  name: "Cgroup holds a process moved in before its command runs, kills it and is removed",
  ignore: !usable,
  async fn() {
    const opened = openInstance("/bin/sh");
    if (!("instance" in opened)) throw new Error(opened.reason);
    const service = new Cgroup(`${opened.instance.path}/${serviceCgroupName("t")}`);
    service.create();
    service.create(); // idempotent
    const launch = enterCgroup("/bin/sh", service, "sh", ["-c", "sleep 30 & sleep 30; wait"]);
    const child = new Deno.Command(launch.cmd, {
      args: launch.args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(() => service.procs().length === 3, { message: "sh and two sleeps" });
      assert.ok(service.procs().includes(child.pid), "the spawned pid itself is inside");
      assert.equal(service.populated(), true);
      assert.equal(service.remove(), false, "a populated cgroup cannot be removed");
      assert.equal(service.kill(), true);
      assert.equal((await child.status).signal, "SIGKILL");
      assert.equal(await service.waitEmpty(Date.now() + 5000), true);
      assert.deepEqual(service.procs(), []);
    } finally {
      service.kill();
      await child.status;
      await service.waitEmpty(Date.now() + 5000);
      assert.equal(service.remove(), true);
      assert.equal(opened.instance.remove(), true);
    }
    assert.equal(service.exists(), false);
    assert.equal(service.populated(), false, "a cgroup that is gone holds nothing");
  },
});

Deno.test({
  name: "removeStaleInstances() removes empty directories of dead orchestrators only",
  ignore: !usable,
  fn() {
    const parent = (own as { dir: string }).dir;
    const dead = new Cgroup(`${parent}/${instanceName(2 ** 22 + 7, 1)}`);
    const alive = new Cgroup(`${parent}/${instanceName(Deno.pid, 99)}`);
    dead.create();
    new Cgroup(`${dead.path}/svc-a`).create();
    alive.create();
    try {
      const removed = removeStaleInstances(parent, (pid) => pid !== 2 ** 22 + 7);
      assert.deepEqual(removed, [`${dead.path}/svc-a`, dead.path]);
      assert.equal(alive.exists(), true, "this process's own instance stays");
    } finally {
      new Cgroup(`${dead.path}/svc-a`).remove();
      dead.remove();
      alive.remove();
    }
  },
});
