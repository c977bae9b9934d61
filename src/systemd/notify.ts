/**
 * The systemd notification protocol (`sd_notify(3)`): datagrams of
 * `KEY=VALUE` lines sent to the unix socket named by `$NOTIFY_SOCKET` (a
 * path, or `@name` for the abstract namespace), from the main process
 * itself. Sending needs `Deno.listenDatagram`, which Deno offers with
 * `--unstable-net` (set in `deno.json` and in the compile tasks).
 *
 * @module
 */

/** Address of the notification socket. */
export interface NotifyAddress {
  /** Unix datagram socket (what Deno calls `unixpacket`). */
  transport: "unixpacket";
  /** File system path, or a NUL byte then the name for the abstract namespace. */
  path: string;
}

/**
 * Parse `$NOTIFY_SOCKET`: an absolute path, or `@name` for the abstract
 * namespace. Anything else (unset, empty, `vsock:` addresses) gives undefined.
 */
export function parseNotifySocket(value: string | undefined): NotifyAddress | undefined {
  if (value === undefined || value.length < 2) return undefined;
  if (value.startsWith("/")) return { transport: "unixpacket", path: value };
  if (value.startsWith("@")) return { transport: "unixpacket", path: `\0${value.slice(1)}` };
  return undefined;
}

/**
 * Interval of the watchdog pings in milliseconds: half of `$WATCHDOG_USEC`,
 * when it is set and `$WATCHDOG_PID` is unset or this process's pid.
 */
export function watchdogIntervalMs(
  env: { WATCHDOG_USEC?: string; WATCHDOG_PID?: string },
  pid: number = Deno.pid,
): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Encode fields as the protocol's `KEY=VALUE` lines (newlines inside values become spaces). */
export function encodeState(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value).replace(/\n/g, " ")}`)
    .join("\n");
}

/** Options of a {@linkcode Notifier}. */
export interface NotifierOptions {
  /** Where a failure to send is reported, once. @default nothing */
  log?: (line: string) => void;
}

/** Sends notifications to one socket from a datagram socket of its own in the abstract namespace. */
export class Notifier {
  #address: NotifyAddress;
  #conn: Deno.DatagramConn | undefined;
  #failed = false;
  #log: (line: string) => void;
  #encoder = new TextEncoder();

  /** A notifier for `address`; nothing is opened until the first send. */
  constructor(address: NotifyAddress, options: NotifierOptions = {}) {
    this.#address = address;
    this.#log = options.log ?? (() => {});
  }

  /**
   * A notifier for `$NOTIFY_SOCKET`, or undefined when it is unset. The
   * variables are removed from the environment so that the services do not
   * inherit them.
   */
  static fromEnv(options: NotifierOptions = {}): Notifier | undefined {
    const address = parseNotifySocket(Deno.env.get("NOTIFY_SOCKET"));
    Deno.env.delete("NOTIFY_SOCKET");
    return address ? new Notifier(address, options) : undefined;
  }

  /** Send `fields` in one datagram. Never throws; the first failure is logged. */
  async notify(fields: Record<string, string | number>): Promise<boolean> {
    try {
      this.#conn ??= openSender();
      await this.#conn.send(this.#encoder.encode(encodeState(fields)), this.#address);
      return true;
    } catch (error) {
      if (!this.#failed) {
        this.#failed = true;
        this.#log(
          `cannot notify systemd at ${JSON.stringify(this.#address.path.replace("\0", "@"))}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
      return false;
    }
  }

  /** Close the sending socket. */
  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = undefined;
  }
}

function openSender(): Deno.DatagramConn {
  const listen = (Deno as { listenDatagram?: typeof Deno.listenDatagram }).listenDatagram;
  if (typeof listen !== "function") {
    throw new Error("Deno.listenDatagram is not available; run with --unstable-net");
  }
  const name = `\0edgevisor-notify-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  return listen({ transport: "unixpacket", path: name });
}
