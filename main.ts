/**
 * The `edgevisor` executable: runs the command line and exits with its code.
 * The only place that exits the process.
 *
 * A plain `edgevisor run` starts the orchestrator without loading the
 * command-line library (see `src/cli/run_fast.ts`); every other command line
 * goes to the full one.
 *
 * @module
 */
import { processEnv, writer } from "./src/cli/io.ts";
import { runPlain } from "./src/cli/run_fast.ts";

if (import.meta.main) {
  let code = await runPlain(Deno.args, processEnv, writer(Deno.stderr));
  if (code === undefined) {
    const { denoIo, main } = await import("./src/cli/program.ts");
    code = await main(Deno.args, { ...denoIo(), isTerminal: Deno.stdout.isTerminal() });
  }
  Deno.exit(code);
}
