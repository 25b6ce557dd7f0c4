// Which keys a full LRU store evicts when it holds copies for other primaries (`copyShare`), and
// what it keeps of a state a primary evicted.

import assert from "node:assert/strict";
import { entryBytes, Store } from "./store.ts";
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
 * A store of room for 10 keys holding `copyCount` copies then keys it is the primary of (or those
 * first, `ownFirst`), each slot of those marked owned; `evicted` lists what it evicts, in order.
 */
function fullStore(copyShare: number, copyCount = 5, ownFirst = false) {
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
  const writeCopies = () => {
    for (const [i, key] of copies.entries()) store.apply({ key, version: i + 1, value: "v" });
  };
  if (!ownFirst) writeCopies();
  for (const key of primaries) store.set(key, "v");
  if (ownFirst) writeCopies();
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

Deno.test("Store: copies past their share and its slack go before the node's own older keys", () => {
  // A node whose peers never evict their keys' copies otherwise kept none of its own. 6 copies of
  // 10 are within 0.5 + COPY_SHARE_SLACK: its own keys still go first.
  const within = fullStore(0.5, 6, true);
  within.store.set(keysOf("n", 1, new Set(within.copies.map(slotOf)))[0], "v");
  assert.deepEqual(within.evicted, [within.primaries[0]]);
  const past = fullStore(0.5, 7, true);
  for (const key of keysOf("n", 2, new Set([...past.primaries, ...past.copies].map(slotOf)))) {
    past.store.set(key, "v");
  }
  assert.deepEqual(past.evicted, past.copies.slice(0, 2));
  for (const key of past.primaries) assert.ok(past.store.peek(key), `own key ${key} kept`);
});

Deno.test("Store: with a copyShare, copies written on and on leave its own keys their room", () => {
  const { store, primaries, copies, evicted } = fullStore(0.5);
  const more = keysOf("m", 200, new Set([...primaries, ...copies].map(slotOf)));
  for (const [i, key] of more.entries()) store.apply({ key, version: 100 + i, value: "v" });
  // Its own keys went first until copies passed 0.6 of the keys, then the oldest copies.
  assert.deepEqual(evicted.slice(0, 2), primaries.slice(0, 2));
  assert.deepEqual(evicted.slice(2, 7), copies);
  const { keys, bytes } = store.stats();
  assert.equal(evicted.length, 210 - keys);
  assert.ok(keys >= 8 && bytes <= 10 * entryBytes("p0", "v"), `${keys} keys, ${bytes} bytes`);
  for (const key of primaries.slice(2)) assert.ok(store.peek(key), `own key ${key} kept`);
  assert.deepEqual(more.slice(-(keys - 3)).filter((key) => !store.peek(key)), []);
});

Deno.test("Store.dropEvicted() refuses the evicted state's copy when it comes after the notice", () => {
  // The notice can come before the copy (sent after it, in a later /replicate): taken then, the
  // copy stayed on the backup alone, and came back when the backup took over.
  const store = new Store();
  assert.equal(store.dropEvicted("k", { version: 5, epoch: 2 }), false);
  assert.equal(store.apply({ key: "k", version: 5, epoch: 2, value: "evicted" }), false);
  assert.equal(store.peek("k"), undefined);
  // Remembered apart from deletions: not a state this node answers, scans or hands over.
  assert.equal(store.replica("k"), undefined);
  assert.equal(store.apply({ key: "k", version: 6, epoch: 2, value: "later" }), true);
  assert.equal(store.peek("k")?.value, "later");
  // A notice older than the value held leaves it.
  assert.equal(store.dropEvicted("k", { version: 5, epoch: 2 }), false);
  assert.equal(store.peek("k")?.value, "later");
  // Holding an older value: it goes, and the evicted state's late copy is not taken either.
  assert.equal(store.dropEvicted("k", { version: 8, epoch: 2 }), true);
  assert.equal(store.apply({ key: "k", version: 8, epoch: 2, value: "evicted" }), false);
  assert.equal(store.peek("k"), undefined);
});

Deno.test("Store.dropEvicted() remembers an evicted state for 30 s, 20,000 at most", () => {
  // Only while its copy may be on its way: remembered as long as deletions, a busy primary's
  // notices held tens of MB outside the bound.
  let now = 0;
  const store = new Store({ now: () => now });
  store.dropEvicted("k", { version: 5, epoch: 2 });
  now = 29_999;
  assert.equal(store.apply({ key: "k", version: 5, epoch: 2, value: "late" }), false);
  now = 30_001; // past its time, though no notice came since to push it out
  assert.equal(store.apply({ key: "k", version: 5, epoch: 2, value: "late" }), true);
  for (let i = 0; i < 20_001; i++) store.dropEvicted(`n${i}`, { version: 5, epoch: 2 });
  assert.equal(store.apply({ key: "n0", version: 5, epoch: 2, value: "late" }), true);
  assert.equal(store.apply({ key: "n1", version: 5, epoch: 2, value: "late" }), false);
});

Deno.test("Store: an eviction passes 65,536 copies at most, then evicts the oldest whichever it is", () => {
  // A node holding a long run of copies before its own keys would otherwise walk them all, on
  // every eviction, while it keeps few keys of its own.
  const copies = keysOf("c", 70_000);
  const own = keysOf("p", 70_000, new Set(copies.map(slotOf)));
  const evicted: string[] = [];
  const store = new Store({
    maxBytes: [...copies, ...own].reduce((bytes, key) => bytes + entryBytes(key, "v"), 0),
    countsSlots: true,
    copyShare: () => 0.5,
    onEvict: (key: string) => evicted.push(key),
  });
  const owned = new Uint8Array(SLOTS);
  for (const key of own) owned[slotOf(key)] = 1;
  store.countOwned(owned);
  for (const [i, key] of copies.entries()) store.apply({ key, version: i + 1, value: "v" });
  for (const key of own) store.set(key, "v");
  assert.equal(evicted.length, 0, "full, not past the bound");
  store.set(own[0], "a longer value"); // past the bound by a few bytes: one eviction
  assert.equal(evicted.length, 1);
  // 65,536 passed (all it may save), then the oldest: the copy after them, not an own key.
  assert.equal(evicted[0], copies[65_536]);
  assert.ok(store.peek(own[1]));
});
