/**
 * The API token on the command line: `--token-file`, `--public-read` and
 * `--insecure` of `run`, and `--token` / `--token-file` of the client
 * commands, with `EDGEVISOR_TOKEN` as the fallback. No option shows the
 * token as a default in `--help`, and no message contains it.
 *
 * @module
 */
import { Option } from "commander";
import { readTokenFile } from "../api/auth.ts";
import { ApiClient } from "./client.ts";

/** `--token-file` of `run`. */
export function tokenFileRunOption() {
  return new Option(
    "--token-file <file>",
    "file holding the API token (one trailing newline is ignored); default: EDGEVISOR_TOKEN",
  );
}

/** `--public-read` of `run`. */
export function publicReadOption() {
  return new Option(
    "--public-read",
    "let anyone read (list, status, logs, events, metrics) on a non-loopback --listen",
  );
}

/** `--insecure` of `run`. */
export function insecureOption() {
  return new Option(
    "--insecure",
    "allow a non-loopback --listen without a token (logs a warning at every start)",
  );
}

/** `--token` of a client command. */
export function tokenOption() {
  return new Option(
    "--token <token>",
    "API token (other users can see it in ps: prefer --token-file or EDGEVISOR_TOKEN)",
  );
}

/** `--token-file` of a client command. */
export function tokenFileOption() {
  return new Option("--token-file <file>", "file holding the API token");
}

/**
 * The client of a client command: `--url`, with the token of `--token`,
 * else `--token-file`, else `EDGEVISOR_TOKEN`.
 */
export function clientFor(
  flags: { url: string; token?: string; tokenFile?: string },
  env: (name: string) => string | undefined,
): ApiClient {
  const token = tokenOf(flags, env);
  return new ApiClient(flags.url, token === undefined ? {} : { token });
}

/**
 * The token a client command sends: `--token`, else the content of
 * `--token-file`, else `EDGEVISOR_TOKEN`.
 */
export function tokenOf(
  flags: { token?: string; tokenFile?: string },
  env: (name: string) => string | undefined,
): string | undefined {
  return flags.token ??
    (flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile) : env("EDGEVISOR_TOKEN"));
}
