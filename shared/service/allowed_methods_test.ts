import assert from "node:assert/strict";
import { silentLogger } from "@cache/log/log";
import { allowedMethods } from "./allowed_methods.ts";
import { createApi } from "./api.ts";
import { Metrics } from "./metrics.ts";

Deno.test("allowedMethods() lists the methods routed at a path, HEAD beside GET", () => {
  const allowed = allowedMethods([
    { method: "ALL", path: "/*" },
    { method: "POST", path: "/keys" },
    { method: "GET", path: "/keys" },
    { method: "GET", path: "/keys/:key" },
    { method: "DELETE", path: "/keys/:key" },
    { method: "POST", path: "/keys/:key/incr" },
    { method: "GET", path: "/files/:name{[a-z]+\\.txt}" },
    { method: "GET", path: "/a.b" },
  ]);
  assert.deepEqual(allowed("/keys"), ["POST", "GET", "HEAD"]);
  assert.deepEqual(allowed("/keys/k"), ["GET", "HEAD", "DELETE"]);
  assert.deepEqual(allowed("/keys/k/incr"), ["POST"]);
  assert.deepEqual(allowed("/keys/k/l"), [], "a key's slashes are escaped: no route");
  assert.deepEqual(allowed("/files/notes.txt"), ["GET", "HEAD"]);
  assert.deepEqual(allowed("/files/Notes.md"), []);
  assert.deepEqual(allowed("/aXb"), [], "a literal dot");
  assert.deepEqual(allowed("/nodes"), [], "middleware routes nothing");
});

Deno.test("a request with a method its path is not routed for gets 405 with Allow", async () => {
  const app = createApi({
    title: "t",
    description: "",
    maxBodyBytes: 1024,
    log: silentLogger,
    metrics: new Metrics(),
  });
  app.get("/keys/:key", (c) => c.json({}));
  app.delete("/keys/:key", (c) => c.body(null, 204));
  const answer = await app.request("/keys/k", { method: "PUT", body: "{}" });
  assert.equal(answer.status, 405);
  assert.equal(answer.headers.get("allow"), "GET, HEAD, DELETE");
  assert.deepEqual(await answer.json(), {
    error: "PUT is not allowed on /keys/k: use GET, HEAD, DELETE",
  });
  const unknown = await app.request("/kyes/k", { method: "PUT" });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("allow"), null);
});
