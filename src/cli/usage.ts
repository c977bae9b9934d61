/**
 * Argument parsers of the command line: a parameter error becomes a usage
 * error (exit 2) instead of a runtime failure.
 *
 * @module
 */
import { InvalidArgumentError } from "commander";

/** Turn a parameter error into commander's invalid-argument error (a usage error). */
export function usage<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}
