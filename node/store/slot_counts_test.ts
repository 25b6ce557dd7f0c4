import assert from "node:assert/strict";
import { slotOf } from "@cache/ring/ring";
import { SLOTS } from "@cache/ring/rendezvous";
import { SlotCounts } from "./slot_counts.ts";

/** `n` keys of the slot of `k0`. */
function keysOfOneSlot(n: number): string[] {
  const slot = slotOf("k0");
  const keys: string[] = [];
  for (let i = 0; keys.length < n; i++) if (slotOf(`k${i}`) === slot) keys.push(`k${i}`);
  return keys;
}

Deno.test("SlotCounts holds a byte a slot, and widens as a slot passes what its width holds", () => {
  // Four bytes a slot from the start took a node's peak 4 MiB higher: 0.07 of a 64 MB bound.
  const slots = new SlotCounts();
  assert.equal(slots.counts.byteLength, SLOTS);
  const keys = keysOfOneSlot(256);
  const owned = new Uint8Array(SLOTS);
  owned[slotOf("k0")] = 1;
  slots.own(owned);
  for (const key of keys.slice(0, 255)) slots.add(key);
  assert.equal(slots.counts.byteLength, SLOTS);
  slots.add(keys[255]); // past 255: two bytes a slot, the counts kept
  assert.deepEqual([slots.counts.byteLength, slots.counts[slotOf("k0")]], [2 * SLOTS, 256]);
  assert.equal(slots.ownedKeys, 256);
  slots.remove(slotOf("k0"));
  assert.deepEqual([slots.counts[slotOf("k0")], slots.ownedKeys], [255, 255]);
});
