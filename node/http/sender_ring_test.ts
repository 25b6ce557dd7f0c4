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
function startNode(view: () => RingView | undefined) {
  // Bound first: the node's address names it in the ring.
  const served: { app?: { fetch: (request: Request) => Response | Promise<Response> } } = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => served.app!.fetch(request),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const store = new Store();
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
  });
  return { store, strays, server, url };
}

Deno.test("A key a sender on an older ring hands over goes on to its owner in the receiver's ring", async () => {
  let current: RingView | undefined;
  const a = startNode(() => current);
  const c = startNode(() => current);
  try {
    const b = "http://127.0.0.1:9"; // the node behind: it only sends
    const ring = (epoch: number, nodes: string[]): RingView => ({
      term: 1,
      epoch,
      replicas: 1,
      nodes: [...nodes].sort(),
      joined: {},
      settled: false,
    });
    const before = ring(2, [a.url, b]);
    current = ring(3, [a.url, b, c.url]);
    const owner = (view: RingView, key: string) => new Ring(view.nodes).owner(key);
    let key = "";
    for (let i = 0; !key; i++) {
      if (owner(before, `k${i}`) === a.url && owner(current, `k${i}`) === c.url) key = `k${i}`;
    }
    // B, still on the ring before, hands A the key A owned there, then drops its own copy.
    await sendReplicas(
      fetch,
      a.url,
      [{ key, version: 5, epoch: 2, value: "its only copy" }],
      1000,
      {
        term: 1,
        epoch: 2,
      },
    );
    assert.ok(await a.strays.idle(5000));
    assert.equal(c.store.get(key)?.value, "its only copy", "its owner in the ring now has it");
    assert.equal(a.store.get(key), undefined, "and A, not an owner, dropped it");
  } finally {
    await a.server.shutdown();
    await c.server.shutdown();
  }
});
