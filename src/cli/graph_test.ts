import assert from "node:assert/strict";
import { parseRegistry } from "../registry/load.ts";
import { formatGraph } from "./graph.ts";

Deno.test("formatGraph() draws dependencies as DOT, coloured by readiness check", () => {
  const registry = parseRegistry(
    JSON.stringify({
      health_checks: { web: { type: "http", port: 80 } },
      services: [
        { name: "api", cmd: "x", health_check: "web", depends_on: ["db"], restart_with: ["db"] },
        { name: "db", cmd: "x", port: 5432 },
        { name: "job", cmd: "x", depends_on: [{ service: "api", condition: "healthy" }] },
      ],
    }),
    { env: {} },
  );
  assert.equal(
    formatGraph(registry),
    [
      "digraph edgevisor {",
      "  rankdir=LR;",
      '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
      '  edge [fontname="Helvetica", fontsize=10];',
      '  "api" [label="api\\n(http)", fillcolor=palegreen];',
      '  "db" [label="db\\n(tcp)", fillcolor=lightblue];',
      '  "job" [label="job", fillcolor=white];',
      '  "api" -> "db" [label="started", style=bold];',
      '  "job" -> "api" [label="healthy"];',
      "}",
      "",
    ].join("\n"),
  );
});
