// The keys a node is the primary of: marked once per ring, then followed as keys come and go.

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

Deno.test("primaryKeys() marks a ring's slots once and follows the keys written after", () => {
  const store = new Store({ countsSlots: true });
  const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
  for (const key of keys.slice(0, 200)) store.set(key, "v");
  let { ring, asked } = countedRing([SELF, "http://b:1", "http://c:1"]);
  const read = primaryKeys(store, SELF, () => ring);
  const mine = (held: string[]) => held.filter((key) => ring.owner(key) === SELF).length;
  assert.equal(read(), mine(keys.slice(0, 200)));
  for (const key of keys.slice(200)) store.set(key, "v");
  for (const key of keys.slice(0, 50)) store.delete(key);
  for (let i = 0; i < 100; i++) assert.equal(read(), mine(keys.slice(50)));
  assert.equal(asked(), 1, "one marking for the ring");

  ({ ring, asked } = countedRing([SELF, "http://b:1"])); // b took over c's share
  assert.equal(read(), mine(keys.slice(50)));
  assert.ok(mine(keys.slice(50)) > 0 && mine(keys.slice(50)) < 250);
  assert.equal(asked(), 1, "one marking for the new ring");
});

Deno.test("primaryKeys() is undefined while the ring is empty", () => {
  const store = new Store({ countsSlots: true });
  store.set("k", "v");
  assert.equal(primaryKeys(store, SELF, () => new Ring())(), undefined);
});
