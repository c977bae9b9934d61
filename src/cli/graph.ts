/**
 * `edgevisor graph FILE`: the dependency graph of a registry in Graphviz DOT,
 * nodes coloured by the kind of their readiness check.
 *
 * @module
 */
import type { Registry } from "../registry/load.ts";
import { dependenciesOf } from "../supervisor/deps.ts";
import { resolveChecks } from "../registry/checks.ts";

/** Fill colour of a node by the kind of its readiness check (`none` without one). */
export const READINESS_COLORS: Readonly<Record<string, string>> = {
  tcp: "lightblue",
  http: "palegreen",
  exec: "khaki",
  file: "lightpink",
  log: "plum",
  none: "white",
};

function escape(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

function quote(text: string): string {
  return `"${escape(text)}"`;
}

/**
 * DOT text of the registry's dependencies: one node per service (label: name
 * and readiness kind), one edge from each dependent to each dependency,
 * labelled with the condition; `restart_with` edges are bold.
 */
export function formatGraph(registry: Registry): string {
  const lines = [
    "digraph edgevisor {",
    "  rankdir=LR;",
    '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  for (const spec of registry.services) {
    const kind = resolveChecks(spec, registry.healthChecks).readiness?.type ?? "none";
    // `\n` is DOT's line break inside a label.
    const label = kind === "none" ? quote(spec.name) : `"${escape(spec.name)}\\n(${kind})"`;
    lines.push(`  ${quote(spec.name)} [label=${label}, fillcolor=${READINESS_COLORS[kind]}];`);
  }
  for (const spec of registry.services) {
    for (const dep of dependenciesOf(spec)) {
      const attrs = [`label=${quote(dep.condition)}`];
      if ((spec.restart_with ?? []).includes(dep.service)) attrs.push("style=bold");
      lines.push(`  ${quote(spec.name)} -> ${quote(dep.service)} [${attrs.join(", ")}];`);
    }
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
