/**
 * Demo service: a tiny HTTP server. `GET /` answers with a line of text,
 * `GET /health` with `ok`. Listens on `HOST:PORT` (default 127.0.0.1:8081)
 * and shuts down cleanly on SIGTERM or SIGINT, letting requests in flight
 * finish.
 *
 * @module
 */

const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const port = Number(Deno.env.get("PORT") ?? "8081");
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`http: invalid PORT ${JSON.stringify(Deno.env.get("PORT"))}`);
  Deno.exit(2);
}

const started = Date.now();
let requests = 0;

const server = Deno.serve({
  hostname,
  port,
  onListen: ({ hostname, port }) => console.log(`http: listening on http://${hostname}:${port}`),
}, (request) => {
  requests++;
  const { pathname } = new URL(request.url);
  if (pathname === "/health") return new Response("ok\n");
  if (pathname === "/") {
    const uptime = ((Date.now() - started) / 1000).toFixed(1);
    return new Response(
      `hello from the edgevisor demo (pid ${Deno.pid}, up ${uptime} s, request #${requests})\n`,
    );
  }
  return new Response("not found\n", { status: 404 });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    console.log(`http: ${signal}, shutting down`);
    server.shutdown();
  });
}

await server.finished;
console.log(`http: stopped after ${requests} requests`);
