import assert from "node:assert/strict";
import {
  findJsonSyntaxError,
  jsonNestingExceeds,
  lineColumn,
  loadYamlParser,
  MAX_JSON_NESTING,
  parseText,
} from "./parse_text.ts";

await loadYamlParser();

Deno.test("parseText() parses JSON and YAML", () => {
  assert.deepEqual(parseText('\uFEFF{"a": [1]}', "json"), { ok: true, value: { a: [1] } });
  assert.deepEqual(parseText("a: [1]\n", "yaml"), { ok: true, value: { a: [1] } });
});

Deno.test("parseText() reports empty documents", () => {
  for (
    const [text, format] of [["", "json"], ["\n ", "yaml"], ["# nothing\n", "yaml"], [
      "---\n",
      "yaml",
    ]] as const
  ) {
    assert.deepEqual(parseText(text, format), {
      ok: false,
      problems: [{ path: "", message: "registry is empty" }],
    });
  }
});

Deno.test("parseText() reports YAML resource exhaustion instead of throwing", () => {
  const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' +
    Array.from({ length: 8 }, (_, i) => {
      const prev = i === 0 ? "a" : `l${i - 1}`;
      return `l${i}: &l${i} [${Array(9).fill(`*${prev}`).join(",")}]\n`;
    }).join("");
  const result = parseText(bomb, "yaml");
  assert.equal(result.ok, false);
});

Deno.test("findJsonSyntaxError() agrees with JSON.parse on what is valid", () => {
  const valid = [
    '{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}',
    "[]",
    " 0 ",
    '"x"',
    "[[[]]]",
  ];
  for (const text of valid) {
    JSON.parse(text);
    assert.equal(findJsonSyntaxError(text), undefined, text);
  }
  const invalid: [string, number, string][] = [
    ["{", 1, "unexpected end of input"],
    ['{"a" 1}', 5, 'expected ":"; got "1"'],
    ["[1 2]", 3, 'expected "," or "]"; got "2"'],
    ["[1,]", 3, 'unexpected "]" after "," (trailing comma)'],
    ["{'a': 1}", 1, 'expected a double-quoted property name; got "\'"'],
    ["[01]", 1, "invalid number"],
    ["[-]", 1, "invalid number"],
    ['["\\x"]', 2, 'invalid escape "\\\\x"'],
    ["[NaN]", 1, 'unexpected word "NaN"'],
    ["{} {}", 3, 'unexpected "{" after the end of the document'],
    ['["abc', 1, "unterminated string"],
  ];
  for (const [text, offset, reason] of invalid) {
    assert.throws(() => JSON.parse(text));
    assert.deepEqual(findJsonSyntaxError(text), { offset, reason }, text);
  }
});

Deno.test("findJsonSyntaxError() handles deep nesting without recursion", () => {
  assert.deepEqual(findJsonSyntaxError("[".repeat(200_000)), {
    offset: 200_000,
    reason: "unexpected end of input",
  });
});

Deno.test("lineColumn() counts lines and columns from 1", () => {
  assert.equal(lineColumn("ab\ncd", 0), "1:1");
  assert.equal(lineColumn("ab\ncd", 4), "2:2");
  assert.equal(lineColumn("ab\n", 3), "2:1");
});

Deno.test("jsonNestingExceeds() counts arrays and objects, not brackets in strings", () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
  assert.equal(jsonNestingExceeds(nested(MAX_JSON_NESTING)), false);
  assert.equal(jsonNestingExceeds(nested(MAX_JSON_NESTING + 1)), true);
  assert.equal(jsonNestingExceeds('{"a":{"b":[{}]}}', 4), false);
  assert.equal(jsonNestingExceeds('{"a":{"b":[{}]}}', 3), true);
  assert.equal(jsonNestingExceeds('["[[[[", "{{\\"[[", {}]', 2), false);
  assert.equal(jsonNestingExceeds("[[]][[]]", 2), false, "siblings do not add up");
  assert.equal(jsonNestingExceeds("]]]]" + "[[[", 2), true, "stray closers do not hide depth");
  assert.equal(jsonNestingExceeds("[".repeat(1_000_000)), true);
});

Deno.test("parseText() reports YAML that exhausts the parser's stack as nested too deeply", () => {
  const deep = 100_000;
  const result = parseText(`services: []\nx: ${"[".repeat(deep)}${"]".repeat(deep)}\n`, "yaml");
  assert.ok(!result.ok);
  assert.ok(result.problems.length > 0);
  for (const problem of result.problems) {
    assert.match(problem.message, /^invalid YAML( at \d+:\d+)?: nested too deeply$/);
  }
});
