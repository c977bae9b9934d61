/**
 * `require` for the npm packages written in CommonJS that edgevisor loads
 * on demand (the NATS client). Run from source, Deno gives each of them its
 * own `require`; in the bundle (`deno task bundle`), such a package calls
 * the bundle's stand-in, which uses a global `require` when there is one.
 * The global is set only when such a package is about to be loaded, so a
 * run without NATS never loads `node:module` (Deno's Node layer, several
 * MiB).
 *
 * @module
 */

/** Make a global `require` (Node's, from `node:module`) available, once. */
export async function provideRequire(): Promise<void> {
  const global = globalThis as { require?: unknown };
  if (global.require !== undefined) return;
  const { createRequire } = await import("node:module");
  global.require = createRequire(import.meta.url);
}
