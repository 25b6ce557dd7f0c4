// Which keys a full LRU store evicts when it holds copies for other primaries (`copiesLast`).

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
 * A store of room for 10 keys holding 5 copies (written first, so oldest) then 5 keys it is the
 * primary of, each slot of those marked owned; `evicted` lists what it evicts, in order.
 */
function fullStore(copiesLast: boolean) {
  const primaries = keysOf("p", 5);
  const copies = keysOf("c", 5, new Set(primaries.map(slotOf)));
  const evicted: string[] = [];
  const store = new Store({
    maxBytes: 10 * entryBytes("p0", "v"),
    countsSlots: true,
    copiesLast: () => copiesLast,
    onEvict: (key: string, _stamp: Stamp) => evicted.push(key),
  });
  const owned = new Uint8Array(SLOTS);
  for (const key of primaries) owned[slotOf(key)] = 1;
  store.countOwned(owned);
  for (const [i, key] of copies.entries()) store.apply({ key, version: i + 1, value: "v" });
  for (const key of primaries) store.set(key, "v");
  return { store, primaries, copies, evicted };
}

Deno.test("Store: with copiesLast, keys it is the primary of are evicted before older copies", () => {
  const { store, primaries, copies, evicted } = fullStore(true);
  store.get(primaries[0]); // read, so the least recently used primary key is p1
  for (const key of keysOf("n", 3, new Set([...primaries, ...copies].map(slotOf)))) {
    store.set(key, "v"); // not in an owned slot either: written here, as a copy would be
  }
  assert.deepEqual(evicted, [primaries[1], primaries[2], primaries[3]]);
  for (const key of copies) assert.ok(store.peek(key), `copy ${key} kept`);
  assert.equal(store.stats().evictions, 3);
});

Deno.test("Store: without copiesLast, the least recently used goes, copy or not", () => {
  const { store, copies, evicted } = fullStore(false);
  for (const key of keysOf("n", 3)) store.set(key, "v");
  assert.deepEqual(evicted, copies.slice(0, 3));
});

Deno.test("Store: with copiesLast and copies alone, copies are evicted and the bound holds", () => {
  const { store, primaries, copies, evicted } = fullStore(true);
  const more = keysOf("m", 200, new Set([...primaries, ...copies].map(slotOf)));
  for (const [i, key] of more.entries()) store.apply({ key, version: 100 + i, value: "v" });
  // The primaries went first, then the oldest copies: the last written are held.
  assert.deepEqual(evicted.slice(0, 5).sort(), [...primaries].sort());
  const { keys, bytes } = store.stats();
  assert.equal(evicted.length, 210 - keys);
  assert.ok(keys >= 8 && bytes <= 10 * entryBytes("p0", "v"), `${keys} keys, ${bytes} bytes`);
  assert.deepEqual(more.slice(-keys).filter((key) => !store.peek(key)), []);
});
