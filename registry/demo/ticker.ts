/**
 * Demo service: logs `tick <n>` every second to stdout; every 5th tick goes
 * to stderr instead. Stops cleanly on SIGTERM or SIGINT.
 *
 * @module
 */

let count = 0;
const timer = setInterval(() => {
  count++;
  if (count % 5 === 0) console.error(`tick ${count} (every 5th tick goes to stderr)`);
  else console.log(`tick ${count}`);
}, 1000);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    clearInterval(timer);
    console.log(`ticker: ${signal} after ${count} ticks, stopping`);
    Deno.exit(0);
  });
}

console.log(`ticker: started (pid ${Deno.pid})`);
