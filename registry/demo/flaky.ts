/**
 * Demo service: prints a few lines, then fails with exit code 1 after about
 * 2.5 seconds. With `restart_policy: "always"` and a tight `crash_loop` it
 * shows the crash-loop cooldown.
 *
 * @module
 */

console.log(`flaky: started (pid ${Deno.pid})`);
for (let step = 1; step <= 3; step++) {
  await new Promise((resolve) => setTimeout(resolve, 800));
  console.log(`flaky: working (${step}/3)`);
}
console.error("flaky: something went wrong, exiting with code 1");
Deno.exit(1);
