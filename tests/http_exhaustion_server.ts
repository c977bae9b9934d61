/**
 * The program that `http_exhaustion_test.ts` runs under a low descriptor
 * limit: the bounded HTTP server on a free loopback port, answering
 * `{"ok": true}`, logging to stderr.
 *
 * It prints one JSON line on stdout once listening: `port`,
 * `maxConnections`, and `held`. With `LEAVE_FDS=N` it first takes every
 * descriptor but `N` (on `/dev/null`), as the pipes and log files of
 * services would, so that accepting runs out of descriptors. SIGTERM gives
 * them back, shuts the server down and ends the program.
 *
 * @module
 */
import { serveHttp } from "../src/api/http_server.ts";

const server = serveHttp({
  hostname: "127.0.0.1",
  port: 0,
  handler: () => Response.json({ ok: true }),
  log: (line) => console.error(line),
});

const held: Deno.FsFile[] = [];
const onTerm = async () => {
  Deno.removeSignalListener("SIGTERM", onTerm);
  for (const file of held.splice(0)) file.close();
  await server.shutdown();
  console.error("stopped");
};
Deno.addSignalListener("SIGTERM", onTerm); // before the descriptors run out: it needs one

const leave = Number(Deno.env.get("LEAVE_FDS") ?? 0);
if (leave > 0) {
  try {
    while (true) held.push(Deno.openSync("/dev/null"));
  } catch {
    // out of descriptors
  }
  for (const file of held.splice(-leave)) file.close();
}
console.log(
  JSON.stringify({
    port: server.addr.port,
    maxConnections: server.maxConnections,
    held: held.length,
  }),
);
