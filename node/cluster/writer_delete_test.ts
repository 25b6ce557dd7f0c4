// Writer.delete() while keys move: whether the key was stored is asked of the nodes it may still
// be on, without taking their copy in; and a read-modify-write, which takes their newest state.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import type { Fetch } from "@cache/http1/fetch";
import { entryBytes, Store } from "../store/store.ts";
import { Replicator } from "./replicator.ts";
import { Writer } from "./writer.ts";

const [a, b, c] = ["http://a:1", "http://b:1", "http://c:1"];
const ring = new Ring([a, b, c]);

/** The `n`-th key whose primary is `a`. */
function keyOfA(n: number): string {
  for (let i = 0;; i++) if (ring.owner(`k${i}`) === a && n-- === 0) return `k${i}`;
}

/**
 * A writer on `a` in ring `epoch`, keys moving; `b` holds the states `onB` gives (by key), `c`
 * holds nothing, or never answers when `silentC`.
 */
function moving(
  store: Store,
  onB: (key: string) => object | undefined,
  silentC = false,
  epoch = 2,
) {
  const fetch: Fetch = (input) => {
    const url = String(input);
    if (url.includes("/replicate")) return Promise.resolve(Response.json({ applied: 1 }));
    if (url.startsWith(c) && silentC) return new Promise<Response>(() => {});
    const key = decodeURIComponent(url.split("/replica/")[1] ?? "");
    const state = url.startsWith(b) ? onB(key) : undefined;
    if (state) return Promise.resolve(Response.json({ key, ...state }));
    return Promise.resolve(Response.json({ error: "not found" }, { status: 404 }));
  };
  const source = {
    view: { term: 0, epoch, replicas: 2, nodes: [a, b, c], joined: {}, settled: false },
    ring,
    refresh: () => Promise.resolve(true),
    leaseLeftMs: () => 10_000,
  };
  return new Writer(store, new Replicator({ self: a, ring: source, fetch, timeoutMs: 50 }), 1024);
}

Deno.test("Writer.delete() while keys move finds a key still on its old owner, taking no copy in", async () => {
  const [key, filler] = [keyOfA(0), keyOfA(1)];
  const value = "y".repeat(200);
  for (const eviction of ["noeviction", "lru"] as const) {
    // Full: taking the old owner's copy in would be refused (507), or evict the filler.
    const store = new Store({ maxBytes: entryBytes(filler, value) + 8, eviction });
    store.set(filler, value, 0, 2);
    const writer = moving(store, () => ({ version: 5, epoch: 1, value }));
    assert.equal(await writer.delete(key, { epoch: 2 }), true, eviction);
    assert.ok(store.peek(filler), `${eviction}: the filler was evicted`);
    assert.deepEqual(store.stats().evictions, 0);
    assert.equal(store.replica(key)?.deleted, true);
  }
});

Deno.test("Writer.delete() while keys move says not found for a deletion elsewhere, or one here newer", async () => {
  const key = keyOfA(0);
  const deletedOnB = moving(new Store(), () => ({ version: 5, epoch: 1, deleted: true }));
  assert.equal(await deletedOnB.delete(key, { epoch: 2 }), false);
  const store = new Store();
  store.apply({ key, version: 9, epoch: 1, deleted: true }); // newer than b's value
  const valueOnB = moving(store, () => ({ version: 5, epoch: 1, value: "v" }));
  assert.equal(await valueOnB.delete(key, { epoch: 2 }), false);
});

Deno.test("Writer.delete() while keys move deletes even when a node does not answer", async () => {
  const key = keyOfA(0);
  const store = new Store();
  const writer = moving(store, () => undefined, true);
  assert.equal(await writer.delete(key, { epoch: 2 }), false); // b has nothing, c is silent
  assert.equal(store.replica(key)?.deleted, true);
});

Deno.test("Writer's read-modify-write while keys move takes no peer state stamped past any clock", async () => {
  // A state stamped 2^53 - 1, taken in, left this node no version above it: every write it then
  // made as primary was refused by its backups. `/replicate` copies are bounded the same way.
  const key = keyOfA(0);
  const store = new Store();
  let version = Number.MAX_SAFE_INTEGER;
  const writer = moving(store, () => ({ version, epoch: 1, value: "5" }));
  const refused = await writer.incr(key, { by: 1 }, { epoch: 2 }).then(() => null, (e) => e);
  assert.equal(refused?.status, 409, String(refused));
  assert.match(refused.message, /ahead of this node's clock/);
  assert.equal(store.replica(key), undefined, "nothing taken in");
  version = 5;
  assert.equal((await writer.incr(key, { by: 1 }, { epoch: 2 })).value, 6);
});

Deno.test("Writer takes peers' states in ring epochs up to a minute past its clock or ring, no later", () => {
  // A state in epoch 2^53 - 1 put every later write of its key behind it. Epochs start from a
  // leader's clock, which can run ahead of this node's, so its ring counts as a clock too.
  const [key, other] = [keyOfA(0), keyOfA(1)];
  for (const [clock, ringEpoch, latest] of [[5_000_000, 2, 5_060_000], [0, 9_000_000, 9_060_000]]) {
    const store = new Store({ now: () => clock });
    const writer = moving(store, () => undefined, false, ringEpoch);
    const { refused, refusal } = writer.applyWhatFits([
      { key, version: 1, epoch: latest + 1, value: "past" },
      { key: other, version: 1, epoch: latest, value: "within" },
    ]);
    assert.deepEqual([refused, refusal?.status], [[key], 409], `clock ${clock}`);
    assert.match(
      refusal!.message,
      /Ring epoch \d+ is past \d+, the latest this node takes now: no ring has it yet/,
    );
    assert.deepEqual(store.keys(), [other]);
  }
});
