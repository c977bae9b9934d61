/**
 * Consistent views of a rotated log: `path`, `path.1` … `path.{keep}` opened
 * in one synchronous step. {@linkcode LogFile} rotates in one synchronous
 * step too, and the readers live in the same JavaScript thread, so such a
 * snapshot never sees a rotation half done; once opened, a file is read
 * through its descriptor, whatever name it has later, and identified by its
 * inode, never by reopening a path.
 *
 * @module
 */

/**
 * One log file opened for reading, shared by the readers that need it
 * (reference counted) and closed with its last {@linkcode LogHandle.release}.
 * Reads are positioned and synchronous, so that readers sharing the
 * descriptor never see each other's position.
 */
export class LogHandle {
  /** Inode of the file: its identity across renames. */
  readonly ino: number;
  readonly #file: Deno.FsFile;
  #refs = 1;

  private constructor(file: Deno.FsFile, ino: number) {
    this.#file = file;
    this.ino = ino;
  }

  /** Open `path` for reading; undefined when it does not exist (or is not a readable file). */
  static open(path: string): LogHandle | undefined {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch {
      return undefined;
    }
    try {
      const info = file.statSync();
      if (info.isFile && info.ino !== null) return new LogHandle(file, info.ino);
    } catch {
      // Unreadable: treated as missing.
    }
    file.close();
    return undefined;
  }

  /** The size of the file now, in bytes; 0 once it cannot be read any more. */
  size(): number {
    try {
      return this.#file.statSync().size;
    } catch {
      return 0;
    }
  }

  /**
   * Read into `buf` from byte `position`; the number of bytes read, less than
   * `buf.byteLength` only at the end of the file, 0 there or on an error.
   */
  read(buf: Uint8Array, position: number): number {
    let filled = 0;
    try {
      this.#file.seekSync(position, Deno.SeekMode.Start);
      while (filled < buf.byteLength) {
        const n = this.#file.readSync(buf.subarray(filled));
        if (n === null || n === 0) break;
        filled += n;
      }
    } catch {
      // A failed read ends the data: what was read so far counts.
    }
    return filled;
  }

  /** Take one more reference; each needs its own {@linkcode LogHandle.release}. */
  retain(): this {
    this.#refs++;
    return this;
  }

  /** Drop one reference; the last one closes the file. */
  release(): void {
    if (--this.#refs !== 0) return;
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Open `path`, `path.1` … `path.{keep}` in one synchronous step: the files of
 * the log, newest first, missing ones left out. The caller owns one
 * reference to each.
 *
 * @example
 * ```ts
 * const files = openSnapshot("/var/log/edgevisor/api.stdout.log", 3);
 * try {
 *   console.log(files.map((f) => f.size()));
 * } finally {
 *   for (const f of files) f.release();
 * }
 * ```
 */
export function openSnapshot(path: string, keep: number): LogHandle[] {
  const files: LogHandle[] = [];
  for (let i = 0; i <= keep; i++) {
    const file = LogHandle.open(i === 0 ? path : `${path}.${i}`);
    if (file !== undefined) files.push(file);
  }
  return files;
}

/** Release every handle of `files`. */
export function releaseAll(files: Iterable<LogHandle>): void {
  for (const file of files) file.release();
}
