/**
 * The lock that keeps a second orchestrator off a state directory: two
 * would each start a copy of every service.
 *
 * It is an exclusive `flock(2)` on `{stateDir}/edgevisor.lock`, taken
 * without waiting and held for the life of the orchestrator by a descriptor
 * kept open. The kernel gives it to one process only, however many start at
 * the same instant, and drops it when that process ends, SIGKILL included:
 * there is never a stale lock to clean up. The descriptor is opened with
 * `O_CLOEXEC`, so the services spawned do not inherit it and a service that
 * outlives the orchestrator does not hold the lock.
 *
 * The holder writes its pid into the file, for the message the others give.
 * The file itself is never removed: a process could otherwise lock a file
 * that is no longer in the directory while another creates and locks a new
 * one.
 *
 * @example
 * ```ts
 * const lock = lockStateDirectory("/var/lib/edgevisor");
 * try {
 *   // supervise
 * } finally {
 *   lock.release();
 * }
 * ```
 *
 * @module
 */

/** Name of the lock file in the state directory. */
export const LOCK_FILE = "edgevisor.lock";

/** The state directory is locked by another process. */
export class StateDirectoryInUseError extends Error {
  /** The state directory. */
  readonly stateDir: string;
  /** Pid of the holder, when it could be read and that process lives. */
  readonly pid: number | undefined;
  /** Create the error: `another edgevisor (pid N) uses the state directory "DIR"`. */
  constructor(stateDir: string, pid: number | undefined, options?: ErrorOptions) {
    super(
      `another edgevisor${pid === undefined ? "" : ` (pid ${pid})`} uses the state directory ${
        JSON.stringify(stateDir)
      }`,
      options,
    );
    this.name = "StateDirectoryInUseError";
    this.stateDir = stateDir;
    this.pid = pid;
  }
}

/** A held lock of a state directory. */
export interface StateLock {
  /** The lock file. */
  readonly path: string;
  /** Give the lock up (the file stays, emptied); calling it again does nothing. */
  release(): void;
}

/**
 * Lock `stateDir` (which must exist) for this process, without waiting.
 *
 * @throws {StateDirectoryInUseError} when another process holds the lock.
 * @throws {Error} `cannot lock "PATH": …` when the lock file cannot be opened or locked.
 */
export function lockStateDirectory(stateDir: string): StateLock {
  const path = `${stateDir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  let locked: boolean;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o644 });
  } catch (error) {
    throw new Error(`cannot lock ${JSON.stringify(path)}: ${messageOf(error)}`, { cause: error });
  }
  try {
    locked = file.tryLockSync(true);
    if (locked) {
      file.truncateSync(0);
      writeAll(file, new TextEncoder().encode(`${Deno.pid}\n`));
    }
  } catch (error) {
    file.close();
    throw new Error(`cannot lock ${JSON.stringify(path)}: ${messageOf(error)}`, { cause: error });
  }
  if (!locked) {
    file.close();
    throw new StateDirectoryInUseError(stateDir, holderPid(path));
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      try {
        file.truncateSync(0);
      } catch {
        // the pid stays in the file; the lock goes with the descriptor anyway
      }
      file.close();
    },
  };
}

/**
 * The pid in the lock file, when it names a live process. The holder writes
 * it just after taking the lock: a moment before, the file is empty or holds
 * the pid of a holder that died.
 */
function holderPid(path: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(path).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    Deno.statSync(`/proc/${pid}`);
    return pid;
  } catch {
    return undefined;
  }
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let rest = data;
  while (rest.length > 0) rest = rest.subarray(file.writeSync(rest));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
