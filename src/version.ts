/**
 * The version of edgevisor (kept equal to `deno.json` by a test).
 *
 * @module
 */

/** edgevisor's version. */
export const VERSION = "0.1.0";
