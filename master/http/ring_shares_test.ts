// Each node's share of the ring for the dashboard, its slots scored in slices.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import { ringShares } from "./ring_shares.ts";

const nodes = (count: number) => Array.from({ length: count }, (_, i) => `http://n${i}:1`);

Deno.test("ringShares() scores a ring in slices, timers running between them", async () => {
  // 40 nodes: 40 M slot scores, about 100 ms here, which the first dashboard poll after a ring
  // change spent in one go, every request to the master waiting.
  const ring = new Ring(nodes(40));
  let between = 0;
  const tick = setInterval(() => between++, 0);
  const shares = await ringShares(ring, 1);
  clearInterval(tick);
  assert.ok(between >= 3, `${between} timers ran while scoring`);
  assert.deepEqual(shares, new Ring(nodes(40)).shares(), "the shares of a ring scored at once");
  assert.equal(await ringShares(ring, 1), shares, "counted once per ring");
});

Deno.test("ringShares() of an empty ring is empty", async () => {
  assert.deepEqual(await ringShares(new Ring()), new Map());
});
