// Writer increments and touches whose TTL is due at once: the backups drop what they wrote over.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import type { Fetch } from "@cache/http1/fetch";
import { Store } from "../store/store.ts";
import { Replicator } from "./replicator.ts";
import { Writer } from "./writer.ts";

const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
const ring = new Ring([a, b, c]);
const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => ring.owner(k) === a)!;

/** A writer on `a`, primary of `key`, in settled ring epoch 2; the bodies of its copies. */
function primary() {
  const copies: string[] = [];
  const fetch: Fetch = async (input, init) => {
    if (!String(input).includes("/replicate")) throw new Error(`Unexpected call ${input}`);
    copies.push(await new Response(init?.body).text());
    return Response.json({ applied: 1 });
  };
  const source = {
    view: { term: 0, epoch: 2, replicas: 2, nodes: [a, b, c], joined: {}, settled: true },
    ring,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 10_000,
  };
  const store = new Store({ now: () => 1_800_000_000_000 }); // a clock step is 0.24 us here
  const replicator = new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 });
  return { store, copies, writer: new Writer(store, replicator, 1024) };
}

for (const write of ["incr", "touch"] as const) {
  Deno.test(`Writer.${write}() with a TTL due at once sends its backups a deletion`, async () => {
    const { store, copies, writer } = primary();
    await writer.write([{ key, value: "5" }], { epoch: 2 });
    copies.length = 0;
    if (write === "incr") {
      await writer.incr(key, { by: 1, ttl: 1e-9, requestId: "r1" }, { epoch: 2 });
    } else assert.equal(await writer.touch(key, 1e-9, { epoch: 2 }), true);
    assert.equal(store.peek(key), undefined, "due at once here");
    assert.equal(copies.length, 1, "the backup was sent the write's end");
    assert.match(copies[0], new RegExp(`"key":"${key}".*"deleted":true`));
    // An increment's request id goes with it: a retry on a backup that takes over answers it.
    if (write === "incr") assert.match(copies[0], /"requests":\[\{"id":"r1","value":6/);
  });
}
