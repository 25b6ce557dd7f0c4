import assert from "node:assert/strict";
import { jsonAnswer, madeOf, NO_CONTENT, partsOf, toResponse } from "./answer.ts";

Deno.test("toResponse() builds the Response an answer's parts describe", async () => {
  const response = toResponse({
    status: 404,
    contentType: "application/json",
    body: '{"error":"no"}',
    headers: { "x-ring-epoch": "7" },
  });
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(response.headers.get("x-ring-epoch"), "7");
  assert.deepEqual(await response.json(), { error: "no" });
});

Deno.test("madeOf() remembers a Response's parts, and only that Response's", () => {
  const body = new TextEncoder().encode("[1]");
  const response = madeOf(new Response(body), { status: 200, contentType: "text/plain", body });
  assert.equal(partsOf(response)?.body, body);
  assert.equal(partsOf(new Response("other")), undefined);
});

Deno.test("jsonAnswer() and NO_CONTENT are parts toResponse() can build, a 204 with no body", async () => {
  const json = toResponse(jsonAnswer({ applied: 2 }, 201));
  assert.equal(json.status, 201);
  assert.equal(json.headers.get("content-type"), "application/json");
  assert.deepEqual(await json.json(), { applied: 2 });
  const none = toResponse(NO_CONTENT);
  assert.equal(none.status, 204);
  assert.equal(none.body, null);
  assert.ok(Object.isFrozen(NO_CONTENT));
});
