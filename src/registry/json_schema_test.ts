import assert from "node:assert/strict";
import {
  REGISTRY_SCHEMA_ID,
  REGISTRY_SCHEMA_URL,
  registryJsonSchema,
  registryJsonSchemaText,
} from "./json_schema.ts";

Deno.test("registryJsonSchemaText() matches the committed registry/schema.json", async () => {
  const committed = await Deno.readTextFile(REGISTRY_SCHEMA_URL);
  assert.ok(
    committed === registryJsonSchemaText(),
    "registry/schema.json is out of date with src/registry/schema.ts: run `deno task schema`",
  );
});

Deno.test("registryJsonSchema() describes the input side with defaults", () => {
  const schema = registryJsonSchema() as {
    $id: string;
    title: string;
    required: string[];
    $defs: { Service: { properties: Record<string, { default?: unknown }>; required: string[] } };
  };
  assert.equal(schema.$id, REGISTRY_SCHEMA_ID);
  assert.equal(schema.title, "edgevisor registry");
  assert.deepEqual(schema.required, ["services"]);
  const service = schema.$defs.Service;
  assert.deepEqual(service.required, ["name", "cmd"]);
  assert.equal(service.properties.restart_policy?.default, "on-failure");
  assert.deepEqual(service.properties.args?.default, []);
});
