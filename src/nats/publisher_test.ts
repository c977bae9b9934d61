import assert from "node:assert/strict";
import { checkNatsOptions } from "./publisher.ts";

const url = "nats://127.0.0.1:4222";

Deno.test("checkNatsOptions() refuses control without authentication, unless insecure", () => {
  assert.match(checkNatsOptions({ url, control: true }).error ?? "", /^refusing --nats-control/);
  const insecure = checkNatsOptions({ url, control: true }, true);
  assert.equal(insecure.error, undefined);
  assert.match(insecure.warning ?? "", /^warning: NATS control is on .* \(--insecure\)/);
  assert.deepEqual(checkNatsOptions({ url }), {}, "no control, nothing to authorise");
  for (
    const auth of [
      { user: "u", pass: "p" },
      { token: "t" },
      { creds: "x.creds" },
      { nkey: "x.nk" },
      { tlsCert: "c.pem", tlsKey: "k.pem" },
      { url: "nats://u:p@127.0.0.1:4222" },
      { url: "nats://a:4222,nats://u:p@b:4222" },
    ]
  ) {
    assert.deepEqual(checkNatsOptions({ url, control: true, ...auth }), {}, JSON.stringify(auth));
  }
  assert.ok(
    checkNatsOptions({ url, control: true, tlsCert: "c.pem" }).error,
    "a cert needs its key",
  );
});

Deno.test("checkNatsOptions() checks names and the heartbeat interval", () => {
  assert.match(checkNatsOptions({ url, node: "a.b" }).error ?? "", /Invalid node "a.b"/);
  assert.match(checkNatsOptions({ url, domain: "a b" }).error ?? "", /Invalid JetStream domain/);
  assert.match(checkNatsOptions({ url: " , " }).error ?? "", /Invalid NATS URL/);
  assert.match(
    checkNatsOptions({ url, heartbeatIntervalMs: 3_600_001 }).error ?? "",
    /expected 0.1 to 3600 seconds/,
  );
  assert.ok(checkNatsOptions({ url, heartbeatIntervalMs: 50 }).error);
  assert.deepEqual(checkNatsOptions({ url, heartbeatIntervalMs: 100 }), {});
});
