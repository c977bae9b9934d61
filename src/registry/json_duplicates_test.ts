import assert from "node:assert/strict";
import { findJsonDuplicateKeys } from "./json_duplicates.ts";

Deno.test("findJsonDuplicateKeys() names the object of each duplicate", () => {
  assert.deepEqual(findJsonDuplicateKeys('{"a": 1, "b": {"c": [0, {"d": 1, "d": 2}]}, "a": 3}'), [
    { path: "b.c[1]", message: 'duplicate key "d"' },
    { path: "", message: 'duplicate key "a"' },
  ]);
});

Deno.test("findJsonDuplicateKeys() is not fooled by strings holding brackets, commas and quotes", () => {
  const text =
    '{"a": "x\\", \\"a\\": {", "b": ["}", ",", "\\\\"], "c": {"a": 1}, "k\\"": 1, "k\\u0022": 2}';
  assert.deepEqual(JSON.parse(text).c, { a: 1 });
  assert.deepEqual(findJsonDuplicateKeys(text), [{ path: "", message: 'duplicate key "k\\""' }]);
  assert.deepEqual(findJsonDuplicateKeys('{"a": {}, "b": {}, "c": [[], {}]}'), []);
});

Deno.test("findJsonDuplicateKeys() reports at most 50 and counts the rest", () => {
  const text = "[" + Array.from({ length: 60 }, () => '{"x": 1, "x": 2}').join(",") + "]";
  const found = findJsonDuplicateKeys(text);
  assert.equal(found.length, 51);
  assert.deepEqual(found[49], { path: "[49]", message: 'duplicate key "x"' });
  assert.deepEqual(found[50], { path: "", message: "10 more duplicate keys" });
});
