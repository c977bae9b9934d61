import assert from "node:assert/strict";
import { trimmableRanges } from "./memory_trim.ts";

const EXE = "/usr/bin/edgevisor";

/** One smaps entry with the given header fields and sizes in KiB. */
function entry(
  range: string,
  perms: string,
  path: string,
  kib: { rss: number; anonymous?: number; swap?: number; dirty?: number },
): string {
  return [
    `${range} ${perms} 00000000 fe:00 1441990                    ${path}`,
    `Size:               9999 kB`,
    `Rss:                ${kib.rss} kB`,
    `Pss:                ${kib.rss} kB`,
    `Private_Dirty:      ${kib.dirty ?? 0} kB`,
    `Anonymous:          ${kib.anonymous ?? 0} kB`,
    `Swap:               ${kib.swap ?? 0} kB`,
    `VmFlags: rd mr mw me sd`,
  ].join("\n");
}

Deno.test("trimmableRanges: only clean, read-only, resident mappings of the executable", () => {
  const smaps = [
    entry("1000-3000", "r--p", EXE, { rss: 8 }), // rodata: taken
    entry("3000-7000", "r-xp", EXE, { rss: 12 }), // text: taken
    entry("7000-8000", "rw-p", EXE, { rss: 4, anonymous: 4, dirty: 4 }), // data: writable
    entry("8000-9000", "r--p", EXE, { rss: 4, anonymous: 4, dirty: 4 }), // relro: private pages
    entry("9000-a000", "r--p", EXE, { rss: 0, swap: 4 }), // swapped private page
    entry("a000-b000", "r--p", EXE, { rss: 0 }), // nothing resident
    entry("b000-c000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", { rss: 4 }), // not ours
    entry("c000-d000", "r-xp", `${EXE} (deleted)`, { rss: 4 }), // replaced on disk
    entry("d000-e000", "rw-p", "", { rss: 4, anonymous: 4, dirty: 4 }), // anonymous
    entry("7f00-8f00", "r-xp", EXE, { rss: 4 }), // a second text mapping: taken
  ].join("\n");
  assert.deepEqual(trimmableRanges(smaps, EXE), [
    { start: 0x1000n, length: 0x2000n, residentBytes: 8192 },
    { start: 0x3000n, length: 0x4000n, residentBytes: 12288 },
    { start: 0x7f00n, length: 0x1000n, residentBytes: 4096 },
  ]);
});

Deno.test("trimmableRanges: nothing from an empty or foreign text", () => {
  assert.deepEqual(trimmableRanges("", EXE), []);
  assert.deepEqual(trimmableRanges("garbage\nRss: 4 kB\n", EXE), []);
});

Deno.test({
  name: "trimMemory: unmaps resident executable pages, and the process goes on working",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // A process of its own, so that the test runner's pages are left alone.
    const script = `
      import { trimMemory } from ${
      JSON.stringify(new URL("./memory_trim.ts", import.meta.url).href)
    };
      const fileKib = () => Number(/RssFile:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
      const before = fileKib();
      const result = trimMemory();
      const after = fileKib();
      // work after the trim: parse, allocate, collect
      const sum = JSON.parse(JSON.stringify(Array.from({ length: 10000 }, (_, i) => i))).reduce((a, b) => a + b, 0);
      console.log(JSON.stringify({ before, after, result, sum }));
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = output.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const { code, stdout, stderr } = await output.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const report = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(report.sum, 49_995_000);
    assert.ok(report.result.executableBytes > 1_048_576, JSON.stringify(report));
    assert.ok(report.after < report.before, JSON.stringify(report));
  },
});
