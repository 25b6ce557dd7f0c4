import assert from "node:assert/strict";
import { errorResponse } from "./error_response.ts";
import { HttpError } from "@cache/protocol/errors";
import { createLogger, silentLogger } from "@cache/log/log";

Deno.test("errorResponse() answers an HttpError with its status, message and details", async () => {
  const error = new HttpError(409, "Node is marked down", { term: 3 });
  const answer = errorResponse(error, "POST", "/register", silentLogger);
  assert.equal(answer.status, 409);
  assert.deepEqual(await answer.json(), { term: 3, error: "Node is marked down" });
});

Deno.test("errorResponse() answers anything else with a 500 that hides it, and logs it", async () => {
  const lines: string[] = [];
  const log = createLogger("test", { write: (line) => lines.push(line) });
  const answer = errorResponse(new TypeError("secret detail"), "GET", "/keys/a", log);
  assert.equal(answer.status, 500);
  assert.deepEqual(await answer.json(), { error: "Internal server error" });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "error");
  assert.equal(line.path, "/keys/a");
  assert.match(line.error, /secret detail/);
});
