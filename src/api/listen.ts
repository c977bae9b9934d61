/**
 * Parse the `HOST:PORT` address the API listens on (`--listen`).
 *
 * @module
 */

/** A parsed listen address, ready for `Deno.serve`. */
export interface ListenAddress {
  /** Host name or IP address; an IPv6 address without its brackets. */
  hostname: string;
  /** TCP port, 1 to 65535. */
  port: number;
}

/**
 * Parse `HOST:PORT`, with an IPv6 host in brackets (`[::1]:8080`).
 * Throws `TypeError` for a malformed address and `RangeError` for a port out of range.
 *
 * @example
 * ```ts
 * parseListenAddress("127.0.0.1:8080"); // { hostname: "127.0.0.1", port: 8080 }
 * parseListenAddress("[::1]:8080"); // { hostname: "::1", port: 8080 }
 * ```
 */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)\]|([^\s:/[\]@]+)):([0-9]+)$/.exec(value);
  if (match === null) {
    throw new TypeError(
      `Invalid listen address ${
        JSON.stringify(value)
      }: expected HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080`,
    );
  }
  const hostname = match[1] ?? match[2] ?? "";
  const portText = match[3] ?? "";
  const port = portText.length <= 5 ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new RangeError(
      `Invalid listen address ${JSON.stringify(value)}: port must be from 1 to 65535`,
    );
  }
  return { hostname, port };
}
