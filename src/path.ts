/**
 * POSIX path functions with the results of `node:path`'s, for the modules
 * every `edgevisor run` loads: importing any `node:` module initialises
 * Deno's Node layer, several MiB kept for the life of the process.
 *
 * @module
 */

/** `path` without `.` segments and repeated slashes, with `..` applied; a trailing slash stays. */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") segments.push(segment);
    else if (segments.length > 0 && segments.at(-1) !== "..") segments.pop();
    else if (!absolute) segments.push("..");
  }
  const joined = segments.join("/");
  const trailing = path.endsWith("/") && joined !== "" ? "/" : "";
  if (absolute) return `/${joined}${trailing}`;
  if (joined === "") return path.endsWith("/") ? "./" : ".";
  return joined + trailing;
}

/** The non-empty `parts` joined with `/`, normalised. */
export function join(...parts: string[]): string {
  const nonEmpty = parts.filter((part) => part !== "");
  return nonEmpty.length === 0 ? "." : normalize(nonEmpty.join("/"));
}

/** Whether `path` starts at the root. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** The absolute path of `paths` applied from the working directory, right to left up to an absolute one. */
export function resolve(...paths: string[]): string {
  let resolved = "";
  for (let i = paths.length - 1; i >= 0 && !isAbsolute(resolved); i--) {
    const path = paths[i]!;
    if (path !== "") resolved = resolved === "" ? path : `${path}/${resolved}`;
  }
  if (!isAbsolute(resolved)) resolved = `${Deno.cwd()}/${resolved}`;
  const normal = normalize(resolved);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** `path` up to the slash before its last segment (`.` when there is none, `/` for the root). */
export function dirname(path: string): string {
  const absolute = path.startsWith("/");
  let end = path.length - 1;
  while (end > 0 && path[end] === "/") end--; // trailing slashes
  while (end > 0 && path[end] !== "/") end--; // the last segment
  if (end <= 0) return absolute ? "/" : ".";
  return absolute && end === 1 ? "//" : path.slice(0, end);
}

/** The last segment of `path`. */
export function basename(path: string): string {
  const trimmed = trimTrailingSlashes(path);
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}
