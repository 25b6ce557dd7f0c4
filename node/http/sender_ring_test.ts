// A /replicate from a sender on an older ring, over HTTP: its keys go on to their owners here.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import type { RingView } from "@cache/protocol/wire";
import { createApp } from "./app.ts";
import { Store } from "../store/store.ts";
import { sendReplicas } from "../cluster/replicator.ts";
import { Strays } from "../cluster/strays.ts";

/** A node's app with its strays wired as `main.ts` wires them, served on 127.0.0.1. */
function startNode(view: () => RingView | undefined, sendOnWaitMs?: number, store = new Store()) {
  // Bound first: the node's address names it in the ring.
  const served: { app?: { fetch: (request: Request) => Response | Promise<Response> } } = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => served.app!.fetch(request),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const strays = new Strays({
    self: url,
    store,
    view,
    send: (node, replicas, placedBy) => sendReplicas(fetch, node, replicas, 1000, placedBy),
    batch: 100,
    log,
  });
  served.app = createApp({
    store,
    maxValueBytes: 1024,
    notReady: () => undefined,
    log,
    replicated: (entries, from) => strays.take(entries, from),
    sendOnWaitMs,
  });
  return { store, strays, server, url };
}

/** Rings 2 and 3 of term 1, and a key `a` owns in 2 and `c` owns in 3, `b` being in both. */
function moved(a: string, b: string, c: string) {
  const ring = (epoch: number, nodes: string[]): RingView => ({
    term: 1,
    epoch,
    replicas: 1,
    nodes: [...nodes].sort(),
    joined: {},
    settled: false,
  });
  const before = ring(2, [a, b]);
  const current = ring(3, [a, b, c]);
  const owner = (view: RingView, key: string) => new Ring(view.nodes).owner(key);
  for (let i = 0;; i++) {
    if (owner(before, `k${i}`) === a && owner(current, `k${i}`) === c) {
      return { before, current, key: `k${i}` };
    }
  }
}

Deno.test("A key a sender on an older ring hands over is on its owner in the receiver's ring once answered", async () => {
  let current: RingView | undefined;
  const a = startNode(() => current);
  const c = startNode(() => current);
  try {
    const b = "http://127.0.0.1:9"; // the node behind: it only sends
    const rings = moved(a.url, b, c.url);
    current = rings.current;
    // B, still on the ring before, hands A the key A owned there, then drops its own copy; or,
    // its primary there, sends A the copy of a write it then acknowledges.
    const replica = { key: rings.key, version: 5, epoch: 2, value: "its only copy" };
    await sendReplicas(fetch, a.url, [replica], 1000, { term: 1, epoch: 2 });
    // A read by ring 3 asks C: a write counts once C has it.
    assert.equal(
      c.store.get(rings.key)?.value,
      "its only copy",
      "its owner in the ring now has it",
    );
    assert.ok(await a.strays.idle(5000));
    assert.equal(a.store.get(rings.key), undefined, "and A, not an owner, dropped it");
  } finally {
    await a.server.shutdown();
    await c.server.shutdown();
  }
});

Deno.test("A full node sends on the keys it took from an older ring before it names those it refused", async () => {
  // Answered 507 with the keys it refused, it sent none on: their sender, counting the others as
  // taken, dropped its copies, and the keys stayed where no read by the ring looks.
  let current: RingView | undefined;
  const full = new Store({ maxBytes: 8192, eviction: "noeviction" });
  for (let i = 0; full.stats().bytes < 7800; i++) full.set(`k${i}held`, "v".repeat(200));
  const a = startNode(() => current, undefined, full);
  const c = startNode(() => current);
  try {
    const rings = moved(a.url, "http://127.0.0.1:9", c.url);
    current = rings.current;
    const big = { key: "big", version: 4, epoch: 2, value: "x".repeat(1000) }; // no room for it
    const value = "v".repeat(200); // as the keys held: room for one more
    const replica = { key: rings.key, version: 5, epoch: 2, value };
    const sent = await sendReplicas(fetch, a.url, [big, replica], 1000, { term: 1, epoch: 2 })
      .then(() => undefined, (error) => error);
    assert.deepEqual([sent?.answered, sent?.refused], [507, ["big"]]);
    assert.equal(c.store.get(rings.key)?.value, value, "its owner in the ring has it");
  } finally {
    current = undefined;
    a.strays.reset();
    await a.server.shutdown();
    await c.server.shutdown();
  }
});

Deno.test("A node names the copies it refused as stamped too far ahead, and sends the others on", async () => {
  // Refused whole, as before, a batch with one such copy (say from an older build) never handed
  // the keys batched with it over, and a leaving node lost them at R=1.
  let current: RingView | undefined;
  const a = startNode(() => current);
  const c = startNode(() => current);
  try {
    const rings = moved(a.url, "http://127.0.0.1:9", c.url);
    current = rings.current;
    const ahead = { key: "ahead", version: Number.MAX_SAFE_INTEGER, epoch: 2, value: "x" };
    const replica = { key: rings.key, version: 5, epoch: 2, value: "v" };
    const sent = await sendReplicas(fetch, a.url, [ahead, replica], 1000, { term: 1, epoch: 2 })
      .then(() => undefined, (error) => error);
    assert.deepEqual([sent?.answered, sent?.refused], [409, ["ahead"]]);
    assert.equal(c.store.get(rings.key)?.value, "v", "its owner in the ring has it");
    assert.equal(a.store.get("ahead") ?? c.store.get("ahead"), undefined);
  } finally {
    current = undefined;
    a.strays.reset();
    await a.server.shutdown();
    await c.server.shutdown();
  }
});

Deno.test("A /replicate from an older ring whose keys cannot be sent on in time answers 504", async () => {
  let current: RingView | undefined;
  const a = startNode(() => current, 200);
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const c = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    listener.close(); // the owner in ring 3: nothing listens there
    const rings = moved(a.url, "http://127.0.0.1:9", c);
    current = rings.current;
    const replica = { key: rings.key, version: 5, epoch: 2, value: "v" };
    const sent = await sendReplicas(fetch, a.url, [replica], 5000, { term: 1, epoch: 2 })
      .then(() => undefined, (error) => error);
    assert.match(String(sent), /504/);
    assert.equal(a.store.get(rings.key)?.value, "v", "applied here all the same, to go on later");
  } finally {
    current = undefined; // the retries stop finding a ring to send by
    a.strays.reset();
    await a.server.shutdown();
  }
});
