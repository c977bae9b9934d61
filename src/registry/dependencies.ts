/**
 * Cross-checks of `depends_on` and `restart_with` over the raw registry:
 * unknown names (with a suggestion), self-dependencies and cycles, each
 * named as a path `a -> b -> a`; and `schedule` on a service that is not a job.
 *
 * @module
 */
import { isPlainObject, listBriefly, type RawProblem, suggest } from "./problems.ts";

/** One dependency edge as written: target name and where it was written. */
interface Edge {
  to: string;
  index: number;
}

/** The name a `depends_on` entry refers to, if it has one. */
function targetOf(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry;
  if (isPlainObject(entry) && typeof entry.service === "string") return entry.service;
  return undefined;
}

/** Problems of `depends_on` and `restart_with` in the raw `services` array. */
export function checkDependencies(services: readonly unknown[]): RawProblem[] {
  const problems: RawProblem[] = [];
  const indexOf = new Map<string, number>();
  services.forEach((s, i) => {
    if (isPlainObject(s) && typeof s.name === "string" && !indexOf.has(s.name)) {
      indexOf.set(s.name, i);
    }
  });
  const known = [...indexOf.keys()];
  const unknown = (name: string) => {
    const near = suggest(name, known);
    return `unknown service ${JSON.stringify(name)}; ${
      near !== undefined
        ? `did you mean ${JSON.stringify(near)}?`
        : `services: ${listBriefly(known)}`
    }`;
  };

  const edges = new Map<string, Edge[]>();
  services.forEach((service, i) => {
    if (!isPlainObject(service)) return;
    if (service.schedule !== undefined && service.kind !== "job") {
      problems.push({
        path: ["services", i, "schedule"],
        message: 'only a job has a schedule; add "kind": "job"',
      });
    }
    if (typeof service.name !== "string") return;
    const name = service.name;
    const deps = Array.isArray(service.depends_on) ? service.depends_on : [];
    const targets = new Set<string>();
    const list: Edge[] = [];
    deps.forEach((entry: unknown, j) => {
      const to = targetOf(entry);
      if (to === undefined || to === "") return;
      const path = typeof entry === "string"
        ? ["services", i, "depends_on", j]
        : ["services", i, "depends_on", j, "service"];
      targets.add(to);
      if (to === name) {
        problems.push({ path, message: `dependency cycle: ${name} -> ${name}` });
      } else if (!indexOf.has(to)) problems.push({ path, message: unknown(to) });
      else list.push({ to, index: j });
    });
    if (indexOf.get(name) === i) edges.set(name, list);
    const restartWith = Array.isArray(service.restart_with) ? service.restart_with : [];
    restartWith.forEach((to: unknown, j) => {
      if (typeof to !== "string" || to === "") return;
      const path = ["services", i, "restart_with", j];
      if (!indexOf.has(to)) problems.push({ path, message: unknown(to) });
      else if (!targets.has(to)) {
        problems.push({ path, message: `${JSON.stringify(to)} is not in depends_on` });
      }
    });
  });

  for (const cycle of findCycles(edges)) {
    const first = cycle[0]!;
    const i = indexOf.get(first)!;
    const j = edges.get(first)!.find((e) => e.to === cycle[1])!.index;
    problems.push({
      path: ["services", i, "depends_on", j],
      message: `dependency cycle: ${[...cycle].join(" -> ")}`,
    });
  }
  return problems;
}

/**
 * Cycles found by a depth-first search (at least one for every set of
 * services that depend on each other in a circle), once each, written from
 * the name that comes first in registry order and closed (`a -> b -> a`).
 */
export function findCycles(edges: ReadonlyMap<string, readonly { to: string }[]>): string[][] {
  const order = [...edges.keys()];
  const rank = new Map(order.map((n, i) => [n, i]));
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "active");
    stack.push(node);
    for (const { to } of edges.get(node) ?? []) {
      if (state.get(to) === "active") {
        const loop = stack.slice(stack.indexOf(to));
        const start = loop.reduce(
          (best, n, k) => (rank.get(n) ?? 0) < (rank.get(loop[best]!) ?? 0) ? k : best,
          0,
        );
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        const key = rotated.join("\u0000");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...rotated, rotated[0]!]);
        }
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of order) if (!state.has(node)) visit(node);
  return cycles;
}
