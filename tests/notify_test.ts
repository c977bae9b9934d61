/**
 * The systemd notification protocol over a real unix datagram socket bound
 * by the test: `READY=1` once the API answers and the services are
 * launched, `STATUS=` counts, `WATCHDOG=1` pings, `STOPPING=1` at shutdown.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FAST,
  removeDir,
  sh,
  startOrchestrator,
  tempDir,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** A bound notification socket and the messages it received, parsed. */
function bindNotifySocket(path: string) {
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: Record<string, string>[] = [];
  const receiving = (async () => {
    try {
      while (true) {
        const [data] = await socket.receive();
        const text = new TextDecoder().decode(data);
        messages.push(Object.fromEntries(
          text.split("\n").map((l) => {
            const at = l.indexOf("=");
            return [l.slice(0, at), l.slice(at + 1)];
          }),
        ));
      }
    } catch {
      // closed
    }
  })();
  return {
    messages,
    async close() {
      socket.close();
      await receiving;
    },
  };
}

async function checkProtocol(notifySocket: string, bindPath: string, dir: string) {
  const socket = bindNotifySocket(bindPath);
  try {
    const registry = {
      defaults: FAST,
      services: [
        { name: "one", cmd: "sleep", args: [String(uniqueSeconds())] },
        {
          name: "two",
          ...sh(
            `echo "socket=$\${NOTIFY_SOCKET:-unset} $\${WATCHDOG_USEC:-unset}"; sleep ${uniqueSeconds()}`,
          ),
        },
      ],
    };
    const orch = await startOrchestrator({
      registry,
      env: { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: "200000" },
    });
    try {
      const ready = await waitFor(() => socket.messages.find((m) => m.READY === "1"), {
        message: "READY=1",
      });
      assert.match(ready.STATUS!, /^2 services: /);
      assert.doesNotMatch(ready.STATUS!, /stopped/, "autostart services launched before READY");
      assert.equal(ready.MAINPID, String(orch.pid));
      const list = await (await fetch(`${orch.url}/api/services/list`)).json();
      for (const s of list.services) assert.notEqual(s.pid, null);
      await waitFor(() => socket.messages.filter((m) => m.WATCHDOG === "1").length >= 2, {
        message: "two WATCHDOG=1 pings",
      });
      await waitFor(
        () => socket.messages.some((m) => m.STATUS === "2 services: 2 running"),
        { message: "STATUS=2 services: 2 running" },
      );
      await waitFor(async () => {
        const logs = await (await fetch(`${orch.url}/api/services/logs/two?stream=stdout`)).json();
        return logs.stdout.includes("socket=unset unset");
      }, { message: "services not to inherit NOTIFY_SOCKET and WATCHDOG_USEC" });
      await fetch(`${orch.url}/api/services/stop/two`, { method: "POST" }).then((r) =>
        r.body?.cancel()
      );
      await waitFor(
        () => socket.messages.some((m) => m.STATUS === "2 services: 1 stopped, 1 running"),
        { message: "STATUS after a stop" },
      );
      const status = await orch.stop();
      assert.equal(status.code, 0);
      // The datagram may be taken from the socket after the exit is seen.
      await waitFor(() => socket.messages.some((m) => m.STOPPING === "1"), {
        message: "STOPPING=1",
      });
      const stopping = socket.messages.findIndex((m) => m.STOPPING === "1");
      assert.ok(
        stopping > socket.messages.findIndex((m) => m.READY === "1"),
        "STOPPING=1 after READY=1",
      );
    } finally {
      await orch.destroy();
    }
  } finally {
    await socket.close();
    await removeDir(dir);
  }
}

Deno.test("runOrchestrator() speaks sd_notify to a socket path", async () => {
  const dir = await tempDir();
  await checkProtocol(`${dir}/notify`, `${dir}/notify`, dir);
});

Deno.test("runOrchestrator() speaks sd_notify to an abstract socket (@name)", async () => {
  const dir = await tempDir();
  const name = `edgevisor-test-${crypto.randomUUID()}`;
  await checkProtocol(`@${name}`, `\0${name}`, dir);
});
