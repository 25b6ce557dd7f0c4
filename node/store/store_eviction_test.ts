// Which keys a full LRU store evicts when it holds copies for other primaries (`copyShare`), and
// what it keeps of a state a primary evicted.

import assert from "node:assert/strict";
import { COPY_SHARE_SLACK, entryBytes, Store } from "./store.ts";
import type { Stamp } from "@cache/protocol/replica";
import { slotOf } from "@cache/ring/ring";
import { SLOTS } from "@cache/ring/rendezvous";

/** `count` keys `${prefix}0`… none of whose slots is among `avoid`'s. */
function keysOf(prefix: string, count: number, avoid = new Set<number>()): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (!avoid.has(slotOf(`${prefix}${i}`))) keys.push(`${prefix}${i}`);
  }
  return keys;
}

/**
 * A store of room for 10 keys holding `copyCount` copies (written first, so oldest) then keys it is
 * the primary of, each slot of those marked owned; `evicted` lists what it evicts, in order.
 */
function fullStore(copyShare: number, copyCount = 5) {
  const primaries = keysOf("p", 10 - copyCount);
  const copies = keysOf("c", copyCount, new Set(primaries.map(slotOf)));
  const evicted: string[] = [];
  const store = new Store({
    maxBytes: 10 * entryBytes("p0", "v"),
    countsSlots: true,
    copyShare: () => copyShare,
    onEvict: (key: string, _stamp: Stamp) => evicted.push(key),
  });
  const owned = new Uint8Array(SLOTS);
  for (const key of primaries) owned[slotOf(key)] = 1;
  store.countOwned(owned);
  for (const [i, key] of copies.entries()) store.apply({ key, version: i + 1, value: "v" });
  for (const key of primaries) store.set(key, "v");
  return { store, primaries, copies, evicted };
}

Deno.test("Store: with a copyShare, keys it is the primary of are evicted before older copies", () => {
  const { store, primaries, copies, evicted } = fullStore(0.5);
  store.get(primaries[0]); // read, so the least recently used primary key is p1
  for (const key of keysOf("n", 2, new Set([...primaries, ...copies].map(slotOf)))) {
    store.set(key, "v"); // not in an owned slot either: written here, as a copy would be
  }
  assert.deepEqual(evicted, [primaries[1], primaries[2]]);
  for (const key of copies) assert.ok(store.peek(key), `copy ${key} kept`);
  assert.equal(store.stats().evictions, 2);
});

Deno.test("Store: without a copyShare, the least recently used goes, copy or not", () => {
  const { store, copies, evicted } = fullStore(0);
  for (const key of keysOf("n", 3)) store.set(key, "v");
  assert.deepEqual(evicted, copies.slice(0, 3));
});

Deno.test("Store: copies past their share and its slack are evicted like any other key", () => {
  // 7 copies of 10 keys, past 0.5 + COPY_SHARE_SLACK: a node whose peers never evict their keys'
  // copies would otherwise keep none of its own.
  const { store, primaries, copies, evicted } = fullStore(0.5, 7);
  for (const key of keysOf("n", 2, new Set([...primaries, ...copies].map(slotOf)))) {
    store.set(key, "v");
  }
  assert.deepEqual(evicted, copies.slice(0, 2));
  for (const key of primaries) assert.ok(store.peek(key), `primary key ${key} kept`);
  assert.ok(COPY_SHARE_SLACK > 0 && 0.5 + COPY_SHARE_SLACK < 0.7);
});

Deno.test("Store: with a copyShare and copies alone, copies are evicted and the bound holds", () => {
  const { store, primaries, copies, evicted } = fullStore(0.5);
  const more = keysOf("m", 200, new Set([...primaries, ...copies].map(slotOf)));
  for (const [i, key] of more.entries()) store.apply({ key, version: 100 + i, value: "v" });
  // The primaries went first, then the oldest copies: the last written are held.
  assert.deepEqual(evicted.slice(0, 5).sort(), [...primaries].sort());
  const { keys, bytes } = store.stats();
  assert.equal(evicted.length, 210 - keys);
  assert.ok(keys >= 8 && bytes <= 10 * entryBytes("p0", "v"), `${keys} keys, ${bytes} bytes`);
  assert.deepEqual(more.slice(-keys).filter((key) => !store.peek(key)), []);
});

Deno.test("Store.dropEvicted() of a key it does not hold yet refuses that state's copy when it comes", () => {
  // The notice can come before the copy (sent after it, in a later /replicate): taken then, the
  // copy stayed on the backup alone, and came back when the backup took over.
  const store = new Store();
  assert.equal(store.dropEvicted("k", { version: 5, epoch: 2 }), false);
  assert.equal(store.apply({ key: "k", version: 5, epoch: 2, value: "evicted" }), false);
  assert.equal(store.peek("k"), undefined);
  assert.equal(store.apply({ key: "k", version: 6, epoch: 2, value: "later" }), true);
  assert.equal(store.peek("k")?.value, "later");
  // A notice older than the value held leaves it.
  assert.equal(store.dropEvicted("k", { version: 5, epoch: 2 }), false);
  assert.equal(store.peek("k")?.value, "later");
});
