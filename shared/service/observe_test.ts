import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { Hono } from "hono";
import { observeRequests, requestRecorder, routeNamer } from "./observe.ts";

Deno.test("requestRecorder() counts made-up methods as one `other` series, not one each", () => {
  const metrics = new Metrics();
  const record = requestRecorder(metrics);
  for (let i = 0; i < 1000; i++) record(`M${i}`, "unmatched", 404, performance.now());
  record("GET", "/keys/{key}", 200, performance.now());
  const lines = metrics.render().split("\n").filter((line) =>
    line.startsWith("http_requests_total")
  );
  assert.deepEqual(lines, [
    'http_requests_total{method="other",route="unmatched",status="404"} 1000',
    'http_requests_total{method="GET",route="/keys/{key}",status="200"} 1',
  ]);
});

Deno.test("routeNamer() names a path by the app's route template, or unmatched", () => {
  const name = routeNamer({
    routes: [
      { method: "ALL", path: "/*" },
      { method: "ALL", path: "/stats" }, // a middleware, as the token check mounts: no route
      { method: "GET", path: "/stats" },
      { method: "GET", path: "/keys/:key" },
      { method: "POST", path: "/keys/:key/incr" },
      { method: "POST", path: "/mset" },
      { method: "GET", path: "/reference/standalone.js" },
    ],
  });
  assert.equal(name("GET", "/keys/a"), "/keys/{key}");
  assert.equal(name("POST", "/keys/a/incr"), "/keys/{key}/incr");
  assert.equal(name("POST", "/mset"), "/mset");
  assert.equal(name("GET", "/reference/standalone.js"), "/reference/standalone.js");
  assert.equal(name("GET", "/reference/standaloneXjs"), "unmatched", "a dot is a dot");
  assert.equal(name("GET", "/keys/a/b"), "unmatched", "a parameter is one segment");
  assert.equal(name("DELETE", "/mset"), "unmatched");
  assert.equal(name("GET", "/stats"), "/stats");
  assert.equal(name("POST", "/stats"), "unmatched", "a middleware's path is no route");
  assert.equal(name("GET", "/nope"), "unmatched");
});

Deno.test("observeRequests() labels an answer of a path's middleware by the route, not the path", async () => {
  // A token refused on /keys/* was counted as route "/keys/*": neither a template nor unmatched.
  const metrics = new Metrics();
  const app = new Hono();
  app.use(observeRequests(metrics));
  app.use("/keys/*", (c) => Promise.resolve(c.json({ error: "A bearer token is required" }, 401)));
  app.get("/keys/:key", (c) => c.json({}));
  for (const method of ["GET", "OPTIONS"]) await app.request("/keys/a", { method });
  const lines = metrics.render().split("\n").filter((line) =>
    line.startsWith("http_requests_total")
  );
  assert.deepEqual(lines, [
    'http_requests_total{method="GET",route="/keys/{key}",status="401"} 1',
    'http_requests_total{method="OPTIONS",route="unmatched",status="401"} 1',
  ]);
});
