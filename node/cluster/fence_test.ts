import assert from "node:assert/strict";
import { routeNamer } from "@cache/service/observe";
import { fenced } from "./fence.ts";

const self = "http://127.0.0.1:8081";
const request = (path: string, method = "GET") => new Request(`${self}${path}`, { method });

Deno.test("fenced() answers key routes with 503 once the lease ran out, and nothing else", async () => {
  let left = 100;
  const fence = fenced(() => left, self);
  assert.equal(fence(request("/keys/a")), undefined, "within the lease: served as usual");
  left = 0;
  const paths = [
    ["/keys/a"],
    ["/keys", "POST"],
    ["/mget", "POST"],
    ["/mget?x=1", "POST"],
    ["/mset", "POST"],
    ["/stamped", "POST"],
    ["/keys/a/incr", "POST"],
    ["/%6Beys/a"], // the router decodes it
    ["/%6dget", "POST"],
    ["/keys/a?x=%"], // a malformed escape in the query
    ["/%6Beys/a%"], // or in the path: the router decodes the valid ones
    ["/mget?%", "POST"],
    ["/mset#x", "POST"], // the router cuts the path at a fragment too
    ["/%6Dset#x", "POST"],
  ];
  for (const [path, method] of paths) {
    const answer = fence(request(path, method));
    assert.equal(answer?.status, 503, path);
    assert.match((await answer!.json()).error, /cannot confirm its ring is current/);
  }
  // Copies from primaries, read repair, probes and stats go on.
  for (const path of ["/replicate", "/replica/a", "/health", "/ready", "/stats", "/keysx"]) {
    assert.equal(fence(request(path)), undefined, path);
  }
});

Deno.test("fenced() answers with the headers every answer of the node carries", () => {
  const clock = { "x-ring-epoch": "7", "x-node-time": "1000" };
  const answer = fenced(() => 0, self, undefined, undefined, () => clock)(request("/keys/a"));
  assert.equal(answer?.headers.get("x-ring-epoch"), "7");
  assert.equal(answer?.headers.get("x-node-time"), "1000");
});

Deno.test("fenced() counts each 503 it answers in the request metrics, by route", () => {
  const recorded: string[] = [];
  // Named as the node's app names them (`HotPath.routeOf`).
  const routes = routeNamer({
    routes: [
      { method: "GET", path: "/keys/:key" },
      { method: "POST", path: "/keys/:key/incr" },
      { method: "POST", path: "/mget" },
    ],
  });
  const fence = fenced(() => 0, self, (method, route, status) => {
    recorded.push(`${method} ${route} ${status}`);
  }, routes);
  fence(request("/keys/a%2Fb"));
  fence(request("/keys/a/incr", "POST"));
  fence(request("/mget?x=1", "POST"));
  fence(request("/stats"));
  assert.deepEqual(recorded, [
    "GET /keys/{key} 503",
    "POST /keys/{key}/incr 503",
    "POST /mget 503",
  ]);
});
