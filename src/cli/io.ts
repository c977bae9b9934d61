/**
 * The process environment and standard streams as the command line uses
 * them; shared by the full command line and the plain `run` of `main.ts`.
 *
 * @module
 */

/** The environment variable `name`; an empty value, or no permission to read it, counts as unset. */
export function processEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env: as if unset
  }
}

/** A function that writes text whole to `file` (`Deno.stdout`, `Deno.stderr`). */
export function writer(file: { writeSync(data: Uint8Array): number }): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
  };
}
