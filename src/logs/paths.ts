/**
 * Where the captured output of a service lives, in the OmegaOS layout
 * `{log_dir}/{name}.stdout.log` and `{log_dir}/{name}.stderr.log`.
 *
 * @module
 */

import { join } from "../path.ts";

/**
 * Names that may become part of a log file name: no separator, at most 64 characters,
 * and a letter or digit first, which also rules out `.`, `..` and hidden files.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Path of the log file of one captured stream of a service.
 *
 * The service name is checked again here, even though the registry validates
 * it earlier, so that no name can make the path escape `logDir`.
 *
 * @example
 * ```ts
 * logPath("/var/log/edgevisor", "api", "stderr"); // "/var/log/edgevisor/api.stderr.log"
 * ```
 *
 * @param logDir Directory that holds the log files of every service.
 * @param name Service name, matching `/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/`.
 * @param stream Which stream of the service.
 * @returns `join(logDir, `${name}.${stream}.log`)`.
 * @throws {TypeError} If `logDir` is empty, `name` is not a safe file name part, or `stream` is neither `stdout` nor `stderr`.
 */
export function logPath(logDir: string, name: string, stream: "stdout" | "stderr"): string {
  if (typeof logDir !== "string" || logDir === "") {
    throw new TypeError("Cannot build a log path: the log directory is empty");
  }
  if (typeof name !== "string" || !SAFE_NAME.test(name)) {
    throw new TypeError(
      `Cannot build a log path for service "${String(name)}": the name must match ${SAFE_NAME}`,
    );
  }
  if (stream !== "stdout" && stream !== "stderr") {
    throw new TypeError(
      `Cannot build a log path for stream "${String(stream)}": expected "stdout" or "stderr"`,
    );
  }
  return join(logDir, `${name}.${stream}.log`);
}
