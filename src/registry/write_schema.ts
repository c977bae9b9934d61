/**
 * Script: write the registry JSON Schema to `registry/schema.json`.
 *
 * ```sh
 * deno run --allow-read --allow-write src/registry/write_schema.ts
 * ```
 *
 * @module
 */
import { REGISTRY_SCHEMA_URL, registryJsonSchemaText } from "./json_schema.ts";

/** Write the generated schema to `registry/schema.json`; returns the path written. */
export async function writeRegistrySchema(url: URL = REGISTRY_SCHEMA_URL): Promise<URL> {
  await Deno.writeTextFile(url, registryJsonSchemaText());
  return url;
}

if (import.meta.main) {
  const url = await writeRegistrySchema();
  console.error(`wrote ${url.pathname}`);
}
