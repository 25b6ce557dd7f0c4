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
