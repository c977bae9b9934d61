import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import openapiTS, { astToString } from "openapi-typescript";
import { AnswerChecker, ContractError } from "./answer_check.ts";
import { createApp } from "./app.ts";
import { FakeControl, fakeStatus } from "./fake_control.ts";
import { type OpenApiDocument, openApiDocument } from "./openapi.ts";
import { PATHS } from "./paths.ts";
import { ROUTES } from "./routes.ts";

/** The document with today's old flaw: an `Error` component that is a reference to itself. */
function selfReferencing(): OpenApiDocument {
  const doc = structuredClone(openApiDocument());
  doc.components.schemas.Error = { $ref: "#/components/schemas/Error" };
  return doc;
}

Deno.test("openApiDocument() is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)", async () => {
  const validator = new Validator({ strict: false });
  const result = await validator.validate(structuredClone(openApiDocument()));
  assert.deepEqual(result.errors, undefined);
  assert.equal(result.valid, true);
  assert.equal(validator.version, "3.1");
  // Every reference resolves.
  assert.equal(typeof validator.resolveRefs(), "object");
});

Deno.test("openApiDocument() gives TypeScript types through openapi-typescript (Redocly's resolver)", async () => {
  const types = astToString(await openapiTS(structuredClone(openApiDocument()) as never));
  for (const { path } of Object.values(PATHS)) assert.ok(types.includes(`"${path}": {`), path);
  assert.match(types, /ServiceStatus: \{/);
  assert.match(types, /threads: number \| null;/);
  assert.match(types, /run_id: number;/);
  await assert.rejects(
    () => openapiTS(selfReferencing() as never),
    /Self-referencing circular pointer/,
    "openapi-typescript refuses a self-referencing component",
  );
});

Deno.test("openApiDocument() has no component that refers to itself, and ajv compiles every answer", () => {
  const doc = openApiDocument();
  for (const [id, schema] of Object.entries(doc.components.schemas)) {
    assert.notEqual(schema.$ref, `#/components/schemas/${id}`, id);
  }
  const checker = new AnswerChecker(doc);
  checker.check({
    method: "GET",
    path: "/api/services/status/nope",
    status: 404,
    headers: new Headers({ "content-type": "application/json" }),
    body: { ok: false, error: 'Unknown service "nope"' },
  });
  // The old flaw: ajv cannot check an error answer against it.
  assert.throws(() =>
    new AnswerChecker(selfReferencing()).check({
      method: "GET",
      path: "/api/services/status/nope",
      status: 404,
      headers: new Headers({ "content-type": "application/json" }),
      body: { ok: false, error: 'Unknown service "nope"' },
    })
  );
});

Deno.test("openApiDocument() documents every operation of the table with its statuses", () => {
  const doc = openApiDocument();
  const statuses = (name: keyof typeof PATHS) =>
    Object.keys(
      (doc.paths[PATHS[name].path]![PATHS[name].method.toLowerCase()] as {
        responses: Record<string, unknown>;
      }).responses,
    );
  assert.deepEqual(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)
    ).sort(),
    Object.values(PATHS).map(({ method, path }) => `${method} ${path}`).sort(),
  );
  assert.deepEqual(statuses("add"), [
    "201",
    "400",
    "401",
    "403",
    "408",
    "409",
    "413",
    "415",
    "422",
    "431",
    "500",
    "503",
  ]);
  assert.deepEqual(statuses("list"), ["200", "400", "401", "403", "408", "431", "500", "503"]);
  assert.deepEqual(statuses("logs"), [
    "200",
    "400",
    "401",
    "403",
    "404",
    "408",
    "431",
    "500",
    "501",
    "503",
  ]);
  const add = doc.paths["/api/services"]!.post as Record<string, unknown>;
  assert.deepEqual(add.requestBody, {
    required: true,
    content: {
      "application/json": { schema: { $ref: "#/components/schemas/ServiceDefinition" } },
    },
  });
  assert.deepEqual(doc.components.schemas.ServiceDefinition!.required, ["name"]);
  assert.ok(!("required" in doc.components.schemas.ServiceReplacement!));
  assert.deepEqual((add.responses as Record<string, unknown>)["400"], {
    $ref: "#/components/responses/InvalidRegistry",
  });
  const status = doc.components.schemas.ServiceStatus!;
  assert.equal(status.additionalProperties, false);
  for (const field of ["threads", "cpu_seconds", "kind", "runs", "next_run_at"]) {
    assert.ok(field in (status.properties as object), field);
  }
  assert.ok(
    "history" in ((doc.components.schemas.HealthInfo!.properties) as object),
    "health history",
  );
  const unauthorized = doc.components.responses.Unauthorized as { headers: object };
  assert.ok("WWW-Authenticate" in unauthorized.headers);
  assert.ok("Allow" in (doc.components.responses.MethodNotAllowed as { headers: object }).headers);
  assert.equal(Object.keys(ROUTES).length, Object.keys(PATHS).length);
});

Deno.test("openApiDocument() keeps the operation ids clients were generated with", () => {
  const doc = openApiDocument();
  const ids = Object.entries(doc.paths).flatMap(([, item]) =>
    Object.values(item).map((op) => (op as { operationId: string }).operationId)
  );
  for (
    const id of [
      "getApiServicesList",
      "getApiServicesStatusByName",
      "postApiServicesStopByName",
      "getApiServicesLogsByName",
      "getApiHealth",
      "getApiOpenapiJson",
    ]
  ) assert.ok(ids.includes(id), id);
});

Deno.test("AnswerChecker fails an answer that drifts from the document", () => {
  const checker = new AnswerChecker();
  const json = new Headers({ "content-type": "application/json" });
  const status = { ok: true, ...fakeStatus("a") };
  const check = (answer: Partial<Parameters<AnswerChecker["check"]>[0]>) =>
    checker.check({
      method: "GET",
      path: "/api/services/status/a",
      status: 200,
      headers: json,
      body: status,
      ...answer,
    });
  check({});
  assert.throws(() => check({ body: { ...status, extra: 1 } }), ContractError, "an extra field");
  const { threads: _, ...missing } = status;
  assert.throws(() => check({ body: missing }), ContractError, "a missing field");
  assert.throws(() => check({ body: { ...status, kind: "daemon" } }), ContractError, "a bad value");
  assert.throws(() => check({ status: 201 }), /status 201 is not documented/);
  assert.throws(
    () => check({ headers: new Headers({ "content-type": "text/html" }) }),
    /Content-Type "text\/html" is not documented/,
  );
  assert.throws(
    () => check({ method: "POST", status: 200 }),
    /takes GET, HEAD only: expected 405/,
  );
  assert.throws(
    () => check({ method: "POST", status: 405, headers: json, body: { ok: false, error: "x" } }),
    /Allow null; expected "GET, HEAD"/,
  );
  assert.throws(() => check({ path: "/api/nothing", status: 200 }), /must answer 404/);
  check({ path: "/api/nothing", status: 404, body: { ok: false, error: "Not found" } });
});

Deno.test("GET /api/openapi.json serves the document, and it matches itself", async () => {
  const app = createApp(new FakeControl([fakeStatus("a")]));
  const res = await app.request("/api/openapi.json");
  assert.equal(res.status, 200);
  const served = await res.json();
  assert.deepEqual(served, openApiDocument());
  new AnswerChecker().check({
    method: "GET",
    path: "/api/openapi.json",
    status: 200,
    headers: res.headers,
    body: served,
  });
});
