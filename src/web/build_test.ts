import assert from "node:assert/strict";
import { bundlePageScript, PAGE_BUNDLE_URL, pageBundleModule } from "./build.ts";

Deno.test("bundlePageScript() matches the committed src/api/page_bundle.ts", async () => {
  // `deno bundle --check`: the page's TypeScript is type-checked (DOM library) on the way.
  const fresh = await pageBundleModule(await bundlePageScript());
  const committed = await Deno.readTextFile(PAGE_BUNDLE_URL);
  assert.ok(
    committed === fresh,
    "src/api/page_bundle.ts is out of date with src/web/: run `deno task page`",
  );
});
