// Reads through a master whose ring is behind the nodes' (a follower cut off from its leader): a
// miss on an owner by that ring is no answer, since the key may have moved by the newer one.

import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";
import { EPOCH_HEADER } from "@cache/protocol/wire";
import { Router } from "./router.ts";

const A = "http://a:1", B = "http://b:1";

/** Nodes at `nodeEpoch` that hold `held` (key to node), answering misses with 404. */
function nodes(held: Record<string, string>, nodeEpoch: number): Fetch {
  return (input, init) => {
    const url = new URL(String(input));
    const headers = { [EPOCH_HEADER]: String(nodeEpoch) };
    if (url.pathname === "/mget") {
      const { keys } = JSON.parse(String(init?.body)) as { keys: string[] };
      const items = keys.filter((key) => held[key] === url.origin)
        .map((key) => ({ key, value: "v", version: "1.1" }));
      const missing = keys.filter((key) => held[key] !== url.origin);
      return Promise.resolve(Response.json({ items, missing }, { headers }));
    }
    const key = decodeURIComponent(url.pathname.slice("/keys/".length));
    return Promise.resolve(
      held[key] === url.origin
        ? Response.json({ key, value: "v", version: "1.1" }, { headers })
        : Response.json({ error: "not found" }, { status: 404, headers }),
    );
  };
}

/** A settled placement the test may move on, and a catch-up that moves it (or not). */
function behind(moveTo?: Ring) {
  const placement = { ring: new Ring([A]), epoch: 7, term: 1, replicas: 1, unsettledRings: [] };
  let caughtUp = 0;
  const catchUp = () => {
    caughtUp++;
    if (moveTo) Object.assign(placement, { ring: moveTo, epoch: 8 });
    return Promise.resolve();
  };
  return { placement, catchUp, caughtUp: () => caughtUp };
}

Deno.test("a miss on an owner whose node knows a newer ring is read again by the newer ring", async () => {
  // By epoch 8 the key moved to B; this master still has epoch 7, which puts it on A.
  const { placement, catchUp, caughtUp } = behind(new Ring([B]));
  const router = new Router({ placement, fetch: nodes({ k: B }, 8), timeoutMs: 100, catchUp });
  const answer = await router.get("k");
  assert.equal(answer.status, 200);
  assert.equal(caughtUp(), 1);
});

Deno.test("a miss on an owner whose node knows a newer ring is 503 while the master cannot catch up", async () => {
  const { placement, catchUp } = behind();
  const router = new Router({ placement, fetch: nodes({ k: B }, 8), timeoutMs: 100, catchUp });
  const error = await router.get("k").then(() => undefined, (e) => e);
  assert.equal(error?.status, 503, "not a 404 for a key that may be held by the newer ring");
  const mget = await router.mget(["k"]).then(() => undefined, (e) => e);
  assert.equal(mget?.status, 503);
});

Deno.test("a miss on an owner at the master's own epoch stays a 404, asking no catch-up", async () => {
  const { placement, catchUp, caughtUp } = behind();
  const router = new Router({ placement, fetch: nodes({}, 7), timeoutMs: 100, catchUp });
  assert.equal((await router.get("k")).status, 404);
  assert.deepEqual((await router.mget(["k"])).missing, ["k"]);
  assert.equal(caughtUp(), 0);
});
