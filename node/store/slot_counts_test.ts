// Keys per ring slot: counted as they come and go, a byte a slot until a slot needs more.

import assert from "node:assert/strict";
import { SLOTS } from "@cache/ring/rendezvous";
import { SlotCounts } from "./slot_counts.ts";

Deno.test("SlotCounts holds a byte a slot, and widens as a slot passes what its width holds", () => {
  // Four bytes a slot from the start took a node's peak 4 MiB higher: 0.07 of a 64 MB bound.
  const slots = new SlotCounts(() => 7); // every key in slot 7
  assert.equal(slots.counts.byteLength, SLOTS);
  const owned = new Uint8Array(SLOTS);
  owned[7] = 1;
  slots.own(owned);
  for (let i = 0; i < 255; i++) slots.add(`k${i}`);
  assert.equal(slots.counts.byteLength, SLOTS);
  slots.add("k255"); // past 255: two bytes a slot, the counts kept
  assert.deepEqual([slots.counts.byteLength, slots.counts[7], slots.ownedKeys], [
    2 * SLOTS,
    256,
    256,
  ]);
  for (let i = 256; i < 65_536; i++) slots.add(`k${i}`); // past 65,535: four bytes
  assert.deepEqual([slots.counts.byteLength, slots.counts[7]], [4 * SLOTS, 65_536]);
  slots.remove(7);
  assert.deepEqual([slots.counts[7], slots.ownedKeys], [65_535, 65_535]);
});
