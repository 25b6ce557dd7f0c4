// The router's ring: read again while the master says keys are moving, so misses go back to the
// nodes once they stop.

import assert from "node:assert/strict";
import { CacheError } from "./call.ts";
import { MASTER, missing, view } from "./client_test_support.ts";
import { MOVING_RING_READ_MS, Router } from "./router.ts";

Deno.test("Router reads the ring again while keys move, and asks nodes alone once they settled", async () => {
  const clock = { now: 0 };
  const ring = { current: { ...view(1, ["http://a:1"]), settled: false } };
  const calls: string[] = [];
  const router = new Router([MASTER], {
    mode: "direct",
    timeoutMs: 1000,
    now: () => clock.now,
    fetch: (input) => {
      const url = new URL(input);
      calls.push(`${url.origin}${url.pathname}`);
      if (url.pathname === "/ring") return Promise.resolve(Response.json(ring.current));
      return Promise.resolve(missing("k"));
    },
  });
  const miss = async () => {
    calls.length = 0;
    const error = await router.route("k", "/keys/k", {}, { read: true }).catch((e) => e);
    assert.ok(error instanceof CacheError && error.status === 404, String(error));
    return [...calls];
  };
  try {
    await router.refresh();
    // Keys move: a node's miss is asked of the master, which looks where they were.
    assert.deepEqual(await miss(), ["http://a:1/keys/k", `${MASTER}/keys/k`]);
    ring.current = { ...ring.current, settled: true };
    assert.deepEqual(await miss(), ["http://a:1/keys/k", `${MASTER}/keys/k`], "read a moment ago");
    clock.now += MOVING_RING_READ_MS;
    const read = await miss();
    assert.ok(read.includes(`${MASTER}/ring`), read.join());
    assert.equal(router.view?.settled, true);
    assert.deepEqual(await miss(), ["http://a:1/keys/k"], "settled: the node's miss is the answer");
  } finally {
    router.close();
  }
});
