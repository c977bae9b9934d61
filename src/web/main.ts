/// <reference lib="dom" />
/**
 * Entry of the `/services` page's script: bundled by `deno task page` into
 * `src/api/page_bundle.ts`, which the orchestrator serves inline.
 *
 * @module
 */
import { ServicesPage } from "./services_page.ts";

new ServicesPage().start();
