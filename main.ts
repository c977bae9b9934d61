/**
 * The `edgevisor` executable: runs the command line and exits with its code.
 * The only place that exits the process.
 *
 * @module
 */
import { denoIo, main } from "./src/cli/program.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { ...denoIo(), isTerminal: Deno.stdout.isTerminal() }));
}
