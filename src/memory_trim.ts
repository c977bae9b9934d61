/**
 * Give back to the kernel what only start-up needed. Loading and validating
 * leave two kinds of memory resident for the life of the process although
 * nothing uses it again:
 *
 * - free memory that the C allocator keeps in its arenas (the parser and the
 *   module loader allocate and free a lot while the program loads):
 *   `malloc_trim(0)` returns it;
 * - pages of the executable that only start-up read (the runtime's start-up
 *   snapshot, the module loader, the transpiler): they stay mapped until
 *   memory runs short. `madvise(MADV_DONTNEED)` unmaps them from this
 *   process; whatever is still used maps back on its next access, from the
 *   page cache.
 *
 * Only mappings of the executable that are read-only and hold no private
 * page (no copy-on-write page, resident or swapped) are touched: for those
 * the file is the only content, so unmapping loses nothing. Nothing is done
 * where `Deno.dlopen` is not allowed or glibc is missing.
 *
 * @module
 */

/** One mapping the trim may unmap. */
export interface TrimRange {
  /** First address. */
  start: bigint;
  /** Length in bytes. */
  length: bigint;
  /** Resident bytes before the trim. */
  residentBytes: number;
}

/** What {@linkcode trimMemory} did. */
export interface TrimResult {
  /** Whether `malloc_trim` returned memory. */
  heapReleased: boolean;
  /** Resident bytes of the executable's mappings that were unmapped. */
  executableBytes: number;
}

const MADV_DONTNEED = 4;

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/;
const FIELD = /^(Rss|Anonymous|Swap|Private_Dirty):\s+(\d+) kB$/;

/**
 * The mappings of `executable` in a `/proc/PID/smaps` text that can be
 * unmapped without losing anything: not writable, with no anonymous,
 * swapped or privately dirtied page, and resident.
 */
export function trimmableRanges(smaps: string, executable: string): TrimRange[] {
  const ranges: TrimRange[] = [];
  let current:
    | { range: TrimRange; candidate: boolean; private: number }
    | undefined;
  const close = () => {
    if (current?.candidate && current.private === 0 && current.range.residentBytes > 0) {
      ranges.push(current.range);
    }
  };
  for (const line of smaps.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      close();
      const [, from, to, perms, path] = header as unknown as [
        string,
        string,
        string,
        string,
        string,
      ];
      const start = BigInt(`0x${from}`);
      current = {
        range: { start, length: BigInt(`0x${to}`) - start, residentBytes: 0 },
        candidate: path === executable && !perms.includes("w"),
        private: 0,
      };
      continue;
    }
    const field = current && FIELD.exec(line);
    if (!current || !field) continue;
    const kib = Number(field[2]);
    if (field[1] === "Rss") current.range.residentBytes = kib * 1024;
    else current.private += kib;
  }
  close();
  return ranges;
}

/**
 * Return free allocator memory and the start-up pages of the executable to
 * the kernel (see the module documentation). Never throws; `undefined`
 * when it cannot be done here.
 */
export function trimMemory(): TrimResult | undefined {
  let libc;
  try {
    libc = Deno.dlopen(
      "libc.so.6",
      {
        malloc_trim: { parameters: ["usize"], result: "i32" },
        madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
      } as const,
    );
  } catch {
    return undefined; // no FFI permission, or not glibc
  }
  try {
    const heapReleased = libc.symbols.malloc_trim(0n) === 1;
    let executableBytes = 0;
    try {
      const ranges = trimmableRanges(
        Deno.readTextFileSync("/proc/self/smaps"),
        Deno.realPathSync(Deno.execPath()),
      );
      for (const range of ranges) {
        if (libc.symbols.madvise(range.start, range.length, MADV_DONTNEED) === 0) {
          executableBytes += range.residentBytes;
        }
      }
    } catch {
      // no /proc: the heap part is done
    }
    return { heapReleased, executableBytes };
  } finally {
    libc.close();
  }
}
