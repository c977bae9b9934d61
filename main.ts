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
import { runPlain } from "./src/cli/run_fast.ts";

if (import.meta.main) {
  const env = (name: string) => {
    try {
      const value = Deno.env.get(name);
      return value === "" ? undefined : value;
    } catch {
      return undefined; // no --allow-env: as if unset
    }
  };
  const stderr = (text: string) => {
    let bytes = new TextEncoder().encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
  };
  let code = await runPlain(Deno.args, env, stderr);
  if (code === undefined) {
    const { denoIo, main } = await import("./src/cli/program.ts");
    code = await main(Deno.args, { ...denoIo(), isTerminal: Deno.stdout.isTerminal() });
  }
  Deno.exit(code);
}
