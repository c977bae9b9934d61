/**
 * Write a registry file so that a crash or a power cut at any moment leaves
 * either the old or the new content, never a mix: the text goes to a
 * temporary file beside the target, is flushed to disk, and is renamed over
 * the target; the previous content is kept as `{path}.bak`. Both keep the
 * mode of the file, whatever the umask.
 *
 * A symbolic link is followed: the file it leads to is the one replaced
 * (with its `.bak` beside it), and the link stays a link.
 *
 * @module
 */
import { basename, dirname } from "../path.ts";

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Keep the previous content as `{path}.bak`. @default true */
  backup?: boolean;
}

/**
 * Replace the content of `path` with `text` atomically. When `path` is a
 * symbolic link (or lies under one), the file it resolves to is replaced.
 *
 * Steps: write `{path}.tmp-{pid}`, fsync it; copy the current file to
 * `{path}.bak` the same way; rename the temporary file over `path`; fsync
 * the directory so that the rename itself is on disk.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/registry.json`, JSON.stringify({ services: [] }, null, 2) + "\n");
 * ```
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await resolveLinks(path);
  const dir = dirname(target);
  removeStaleTemps(dir, [basename(target), `${basename(target)}.bak`]);
  const mode = await currentMode(target);
  if (options.backup ?? true) {
    let previous: Uint8Array | undefined;
    try {
      previous = await Deno.readFile(target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (previous !== undefined) await replace(`${target}.bak`, previous, mode);
  }
  await replace(target, new TextEncoder().encode(text), mode);
  await syncDirectory(dir);
}

/**
 * The file `path` leads to: its real path when it exists, else `path`
 * itself (a new file is created where it is named).
 */
async function resolveLinks(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

/** Write `data` to a temporary file beside `path`, fsync it, rename it over `path`. */
async function replace(path: string, data: Uint8Array, mode: number | undefined): Promise<void> {
  const temp = `${dirname(path)}/.${basename(path)}.tmp-${Deno.pid}`;
  const file = await Deno.open(temp, { write: true, create: true, truncate: true, mode });
  try {
    let rest = data;
    while (rest.length > 0) rest = rest.subarray(await file.write(rest));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  file.close();
  try {
    // The mode given to open() is narrowed by the umask (0027 under the systemd unit).
    if (mode !== undefined) await Deno.chmod(temp, mode);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Remove temporary files left by writers that were killed (their pid no longer exists). */
function removeStaleTemps(dir: string, names: string[]): void {
  try {
    for (const entry of Deno.readDirSync(dir)) {
      const match = names
        .map((name) => entry.name.match(new RegExp(`^\\.${escape(name)}\\.tmp-(\\d+)$`)))
        .find((m) => m);
      if (!match || pidExists(Number(match[1]))) continue;
      try {
        Deno.removeSync(`${dir}/${entry.name}`);
      } catch {
        // gone already
      }
    }
  } catch {
    // unreadable directory: the write itself will report it
  }
}

function pidExists(pid: number): boolean {
  if (pid === Deno.pid) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    // Without the permission to look, assume the writer lives.
    return !(error instanceof Deno.errors.NotFound);
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function currentMode(path: string): Promise<number | undefined> {
  try {
    const mode = (await Deno.stat(path)).mode;
    return mode === null ? undefined : mode & 0o777;
  } catch {
    return undefined;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}
