/**
 * The modules of the program import one way: no module of `main.ts`,
 * `mod.ts` or `bench/` reaches itself again through its imports (type-only
 * imports included), so types and wire shapes stay at the bottom.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).href;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** The project's own modules reachable from `entry`, each with the project modules it imports. */
async function graph(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL(ROOT).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: InfoModule[];
  };
  const own = (s: string | undefined) => s !== undefined && s.startsWith(ROOT);
  const edges = new Map<string, string[]>();
  for (const m of modules) {
    if (!own(m.specifier)) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter(own) as string[];
    edges.set(m.specifier, [...new Set(deps)]);
  }
  return edges;
}

/** Every cycle found by a depth-first walk, as paths relative to the project. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const walk = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") {
        found.push(path.slice(path.indexOf(next)).concat(next).map((s) => s.slice(ROOT.length)));
      } else if (!state.has(next)) walk(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) if (!state.has(node)) walk(node);
  return found;
}

Deno.test("no module of the program imports itself back through its imports", async () => {
  for (const entry of ["main.ts", "mod.ts", "bench/bench.ts"]) {
    const edges = await graph(entry);
    assert.ok(edges.size > 20, `${entry}: the graph of its modules was read (${edges.size})`);
    assert.deepEqual(cycles(edges), [], `${entry}: import cycles`);
  }
});

Deno.test("the cycle finder finds a cycle", () => {
  const edges = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]].map((
    [k, v],
  ) => [ROOT + k, (v as string[]).map((x) => ROOT + x)]));
  assert.deepEqual(cycles(edges as Map<string, string[]>), [["a", "b", "c", "a"]]);
});
