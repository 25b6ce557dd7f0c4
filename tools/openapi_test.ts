import assert from "node:assert/strict";
import { parse } from "yaml";
import { DOCUMENTS, renderDocuments } from "./openapi.ts";

Deno.test("committed OpenAPI documents match the route declarations", async () => {
  for (const [path, yaml] of Object.entries(await renderDocuments())) {
    const committed = await Deno.readTextFile(new URL(`../${path}`, import.meta.url));
    assert.equal(committed, yaml, `${path} is stale: run deno task openapi`);
  }
});

Deno.test("the master's document declares every route with its error responses", async () => {
  const documents = await renderDocuments();
  const master = parse(documents[DOCUMENTS.master]);
  assert.deepEqual(Object.keys(master.paths).sort(), [
    "/dashboard",
    "/dashboard/app.js",
    "/dashboard/state",
    "/keys",
    "/keys/{key}",
    "/keys/{key}/incr",
    "/keys/{key}/touch",
    "/leader",
    "/live",
    "/metrics",
    "/mget",
    "/mset",
    "/nodes",
    "/ready",
    "/register",
    "/register/{address}",
    "/ring",
    "/ring/owners/{key}",
    "/stats",
  ]);
  const get = master.paths["/keys/{key}"].get;
  assert.deepEqual(Object.keys(get.responses).sort(), [
    "200",
    "400",
    "401",
    "403",
    "404",
    "502",
    "503",
    "504",
  ]);
  assert.equal(
    get.responses["404"].content["application/json"].schema.$ref,
    "#/components/schemas/Error",
  );
  assert.deepEqual(Object.keys(master.paths["/keys"]).sort(), ["delete", "get", "post"]);
  // A route open even with tokens declares no 401.
  assert.equal(master.paths["/live"].get.responses["401"], undefined);
  const set = master.paths["/keys"].post;
  assert.equal(
    set.responses["412"].content["application/json"].schema.$ref,
    "#/components/schemas/Conflict",
  );
  const incr = master.paths["/keys/{key}/incr"].post;
  assert.deepEqual(Object.keys(incr.responses).sort(), [
    "200",
    "400",
    "401",
    "403",
    "409",
    "413",
    "415",
    "502",
    "503",
    "504",
    "507",
  ]);
  const node = parse(documents[DOCUMENTS.node]);
  assert.deepEqual(Object.keys(node.paths).sort(), [
    "/evicted",
    "/keys",
    "/keys/{key}",
    "/keys/{key}/incr",
    "/keys/{key}/touch",
    "/live",
    "/metrics",
    "/mget",
    "/mset",
    "/ready",
    "/replica/{key}",
    "/replicate",
    "/stamped",
    "/stats",
  ]);
  const stamped = node.paths["/stamped"].post;
  assert.deepEqual(Object.keys(stamped.responses).sort(), [
    "200",
    "400",
    "401",
    "403",
    "409",
    "413",
    "415",
    "421",
    "503",
    "504",
    "507",
  ]);
});

Deno.test("the documents declare the headers the services read and answer with", async () => {
  const documents = await renderDocuments();
  const master = parse(documents[DOCUMENTS.master]);
  const node = parse(documents[DOCUMENTS.node]);
  const answers = (document: { paths: Record<string, Record<string, { responses: object }>> }) =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        Object.entries(operation.responses).map(([status, answer]) => ({
          what: `${method} ${path} ${status}`,
          headers: Object.keys((answer as { headers?: object }).headers ?? {}),
        }))
      )
    );
  for (const { what, headers } of answers(master)) assert.ok(headers.includes("x-node-time"), what);
  for (const { what, headers } of answers(node)) {
    assert.ok(headers.includes("x-node-time") && headers.includes("x-ring-epoch"), what);
  }
  for (const document of [master, node]) {
    for (const [path, item] of Object.entries(document.paths as Record<string, object>)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!operation.requestBody) continue;
        for (const status of ["413", "415"]) {
          assert.ok(operation.responses[status], `${method} ${path} declares ${status}`);
        }
      }
    }
  }
  assert.deepEqual(
    Object.keys(node.paths["/keys"].post.responses["401"].headers).sort(),
    ["www-authenticate", "x-node-time", "x-ring-epoch"],
  );
  // What a sender puts in its headers: a write's deadline on both, the ring on a node's routes.
  const names = (operation: { parameters?: { name: string; required?: boolean }[] }) =>
    (operation.parameters ?? []).map((p) => `${p.name}${p.required ? "!" : ""}`);
  assert.deepEqual(names(master.paths["/keys"].post), ["x-deadline"]);
  assert.deepEqual(names(master.paths["/mget"].post), []);
  assert.deepEqual(names(node.paths["/keys"].post), [
    "x-ring-epoch",
    "x-deadline",
    "x-version-above",
  ]);
  assert.deepEqual(names(node.paths["/stamped"].post), ["x-ring-epoch!", "x-deadline"]);
  assert.ok(!names(node.paths["/keys/{key}"].delete).includes("x-version-above"), "sets only");
  assert.match(node.paths["/mset"].post.responses["409"].description, /x-version-above/);
  // The fields a refusal names beside `error`.
  const schemaOf = (answer: { content: Record<string, { schema: { $ref: string } }> }) =>
    answer.content["application/json"].schema.$ref;
  assert.equal(
    schemaOf(node.paths["/keys"].post.responses["421"]),
    "#/components/schemas/Misdirected",
  );
  assert.equal(
    schemaOf(node.paths["/mset"].post.responses["502"]),
    "#/components/schemas/WriteFailure",
  );
  assert.equal(
    schemaOf(master.paths["/keys"].post.responses["504"]),
    "#/components/schemas/WriteFailure",
  );
});
