import assert from "node:assert/strict";
import { expandVariables, type VariableLookup } from "./expand.ts";

const env: Record<string, string> = { HOME: "/home/pi", EMPTY: "", PORT: "9000" };
const lookup: VariableLookup = (name) => (Object.hasOwn(env, name) ? env[name] : undefined);

Deno.test("expandVariables() replaces ${VAR} and applies defaults", () => {
  assert.deepEqual(expandVariables("${HOME}/app:${PORT:-80}:${MISSING:-80}", lookup), {
    value: "/home/pi/app:9000:80",
    problems: [],
  });
});

Deno.test("expandVariables() uses :- for unset or empty and - for unset only", () => {
  assert.equal(expandVariables("[${EMPTY:-d}][${EMPTY-d}][${NONE-d}]", lookup).value, "[d][][d]");
});

Deno.test("expandVariables() expands nested defaults only when used", () => {
  assert.deepEqual(expandVariables("${NONE:-${HOME}/x}", lookup), {
    value: "/home/pi/x",
    problems: [],
  });
  assert.deepEqual(expandVariables("${HOME:-${NOT_SET}}", lookup), {
    value: "/home/pi",
    problems: [],
  });
  assert.deepEqual(expandVariables("${NONE:-${NOT_SET}}", lookup).problems, [
    'variable "NOT_SET" is not set',
  ]);
});

Deno.test("expandVariables() keeps $$ as a literal $ and a lone $ as is", () => {
  assert.equal(
    expandVariables("$$HOME $$${HOME} $HOME a$ $1", lookup).value,
    "$HOME $/home/pi $HOME a$ $1",
  );
  assert.equal(expandVariables("${NONE:-a$$b}", lookup).value, "a$b");
});

Deno.test("expandVariables() reports every bad reference", () => {
  assert.deepEqual(expandVariables("${A} ${B} ${} ${1X} ${A:+x} ${", lookup).problems, [
    'variable "A" is not set',
    'variable "B" is not set',
    'invalid variable reference "${}"; expected ${NAME}, ${NAME:-default} or $$ for a literal $',
    'invalid variable reference "${1X}"; expected ${NAME}, ${NAME:-default} or $$ for a literal $',
    'invalid variable reference "${A:+x}"; expected ${NAME}, ${NAME:-default} or $$ for a literal $',
    'unterminated "${" at character 29',
  ]);
});

Deno.test("expandVariables() reports a lookup that throws", () => {
  const denied: VariableLookup = () => {
    throw new Error("Requires env access");
  };
  assert.deepEqual(expandVariables("${X}", denied).problems, [
    'variable "X" cannot be read: Requires env access',
  ]);
});

Deno.test("expandVariables() limits nesting of defaults", () => {
  const text = "${A:-".repeat(100) + "x" + "}".repeat(100);
  assert.deepEqual(expandVariables(text, lookup).problems, [
    "variable references are nested more than 16 deep",
  ]);
});
