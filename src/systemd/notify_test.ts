import assert from "node:assert/strict";
import { encodeState, Notifier, parseNotifySocket, watchdogIntervalMs } from "./notify.ts";

Deno.test("parseNotifySocket() reads paths and abstract names", () => {
  assert.deepEqual(parseNotifySocket("/run/systemd/notify"), {
    transport: "unixpacket",
    path: "/run/systemd/notify",
  });
  assert.deepEqual(parseNotifySocket("@abc"), { transport: "unixpacket", path: "\0abc" });
  assert.equal(parseNotifySocket(undefined), undefined);
  assert.equal(parseNotifySocket(""), undefined);
  assert.equal(parseNotifySocket("vsock:2:1"), undefined);
});

Deno.test("watchdogIntervalMs() is half of WATCHDOG_USEC, for this pid only", () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 7), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 7), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "8" }, 7), undefined);
  assert.equal(watchdogIntervalMs({}, 7), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "x" }, 7), undefined);
});

Deno.test("encodeState() writes KEY=VALUE lines", () => {
  assert.equal(encodeState({ READY: 1, STATUS: "a\nb" }), "READY=1\nSTATUS=a b");
});

Deno.test("Notifier.notify() sends one datagram to a real socket; a missing socket is logged once", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/notify`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const lines: string[] = [];
  const notifier = new Notifier({ transport: "unixpacket", path }, { log: (l) => lines.push(l) });
  try {
    assert.equal(await notifier.notify({ READY: 1, STATUS: "ok" }), true);
    const [data] = await socket.receive();
    assert.equal(new TextDecoder().decode(data), "READY=1\nSTATUS=ok");
    const lost = new Notifier({ transport: "unixpacket", path: `${dir}/none` }, {
      log: (l) => lines.push(l),
    });
    assert.equal(await lost.notify({ WATCHDOG: 1 }), false);
    assert.equal(await lost.notify({ WATCHDOG: 1 }), false);
    lost.close();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^cannot notify systemd at ".*\/none": /);
  } finally {
    notifier.close();
    socket.close();
    await Deno.remove(dir, { recursive: true });
  }
});
