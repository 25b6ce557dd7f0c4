import assert from "node:assert/strict";
import { fenced } from "./fence.ts";

const self = "http://127.0.0.1:8081";
const request = (path: string, method = "GET") => new Request(`${self}${path}`, { method });

Deno.test("fenced() answers key routes with 503 once the lease ran out, and nothing else", async () => {
  let left = 100;
  const fence = fenced(() => left, self);
  assert.equal(fence(request("/keys/a")), undefined, "within the lease: served as usual");
  left = 0;
  for (
    const [path, method] of [["/keys/a"], ["/keys", "POST"], ["/mget", "POST"], ["/mset", "POST"]]
  ) {
    const answer = fence(request(path, method));
    assert.equal(answer?.status, 503, path);
    assert.match((await answer!.json()).error, /cannot confirm its ring is current/);
  }
  // Copies from primaries, read repair, probes and stats go on.
  for (const path of ["/replicate", "/replica/a", "/health", "/ready", "/stats", "/keysx"]) {
    assert.equal(fence(request(path)), undefined, path);
  }
});
