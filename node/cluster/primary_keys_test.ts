// The keys a node is the primary of: marked once per ring, in slices, then followed as keys come
// and go.

import assert from "node:assert/strict";
import { Ring } from "@cache/ring/ring";
import { Store } from "../store/store.ts";
import { primaryKeys } from "./primary_keys.ts";

const SELF = "http://a:1";

/** A ring that counts how often it is asked for a node's slots. */
function countedRing(nodes: string[]): { ring: Ring; asked: () => number } {
  const ring = new Ring(nodes);
  let asked = 0;
  const ownedSlots = ring.ownedSlots.bind(ring);
  ring.ownedSlots = (node) => {
    asked++;
    return ownedSlots(node);
  };
  return { ring, asked: () => asked };
}

/** `count` node addresses, `SELF` first. */
function addresses(count: number): string[] {
  return [SELF, ...Array.from({ length: count - 1 }, (_, i) => `http://n${i}:1`)];
}

Deno.test("primaryKeys() marks a ring's slots once and follows the keys written after", async () => {
  const store = new Store({ countsSlots: true });
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  for (const key of keys.slice(0, 200)) store.set(key, "v");
  let { ring, asked } = countedRing([SELF, "http://b:1", "http://c:1"]);
  const marked: Ring[] = [];
  const read = primaryKeys(store, SELF, () => ring, undefined, (done) => marked.push(done));
  const mine = (held: string[]) => held.filter((key) => ring.owner(key) === SELF).length;
  assert.equal(await read(), mine(keys.slice(0, 200)));
  assert.deepEqual(marked, [ring], "told once its slots were marked");
  for (const key of keys.slice(200)) store.set(key, "v");
  for (const key of keys.slice(0, 50)) store.delete(key);
  for (let i = 0; i < 100; i++) assert.equal(await read(), mine(keys.slice(50)));
  assert.equal(asked(), 1, "one marking for the ring");

  ({ ring, asked } = countedRing([SELF, "http://b:1"])); // b took over c's share
  assert.equal(await read(), mine(keys.slice(50)));
  assert.equal(marked.at(-1), ring);
  assert.ok(mine(keys.slice(50)) > 0 && mine(keys.slice(50)) < 250);
  assert.equal(asked(), 1, "one marking for the new ring");
});

Deno.test("primaryKeys() is undefined while the ring is empty", async () => {
  const store = new Store({ countsSlots: true });
  store.set("k", "v");
  assert.equal(await primaryKeys(store, SELF, () => new Ring())(), undefined);
});

Deno.test("primaryKeys() marks in slices: timers run between them, and writes meanwhile count", async () => {
  // At 40 nodes a marking scores 40 M slot-node pairs: about 100 ms on this machine, in one go
  // before, when the first /stats after a ring change held the node for all of it.
  const ring = new Ring(addresses(40));
  const store = new Store({ countsSlots: true });
  const keys = Array.from({ length: 4000 }, (_, i) => `k${i}`);
  for (const key of keys.slice(0, 2000)) store.set(key, "v");
  const read = primaryKeys(store, SELF, () => ring, 1);
  let between = 0; // timers run while the marking goes on
  let written = 2000;
  const tick = setInterval(() => {
    between++;
    // Keys land in slots marked and slots not yet marked; some owned keys go.
    for (let i = 0; i < 50 && written < keys.length; i++) store.set(keys[written++], "v");
    store.delete(keys[between]);
  }, 0);
  const primaries = read();
  const reads = await Promise.all([primaries, read()]); // a second call shares the marking
  clearInterval(tick);
  assert.ok(between >= 3, `${between} timers ran during the marking`);
  const held = keys.slice(0, written).filter((key) => store.get(key) !== undefined);
  const mine = held.filter((key) => ring.owner(key) === SELF).length;
  assert.deepEqual(reads, [mine, mine]);
  assert.equal(await read(), mine);
});

Deno.test("primaryKeys() answers for the ring that replaced the one it was marking", async () => {
  let ring = new Ring(addresses(40));
  const store = new Store({ countsSlots: true });
  const keys = Array.from({ length: 3000 }, (_, i) => `k${i}`);
  for (const key of keys) store.set(key, "v");
  const read = primaryKeys(store, SELF, () => ring, 1);
  const smaller = new Ring(addresses(2)); // SELF and n0 share the keys now
  setTimeout(() => ring = smaller, 0);
  const primaries = await read();
  assert.equal(ring, smaller, "the ring changed while marking");
  assert.equal(primaries, keys.filter((key) => smaller.owner(key) === SELF).length);
  assert.ok(primaries! > 1000 && primaries! < 2000);
});
