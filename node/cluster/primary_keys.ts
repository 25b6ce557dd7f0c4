// The keys a node is the primary of, read for /stats: marked per ring, in slices, then kept as keys
// move.

import type { Ring } from "@cache/ring/ring";
import { SLOTS } from "@cache/ring/rendezvous";
import { SLICE_MS, Slices } from "@cache/async/slices";
import type { Store } from "../store/store.ts";

/** Slots marked between two looks at the clock: about 1 ms at 200 nodes. */
const SLOTS_PER_STEP = 1024;

/**
 * Reads the keys `store` holds whose primary is `address` in the ring `ring()` gives (undefined
 * while that ring is empty: standalone, or before the first one). Marks the slots `address` owns
 * once per ring, then reads the store's running sum: summing the store's 2^20 slot counts on every
 * `/stats` cost 8-10 ms, and 300 callers at once held a node past its lease. The marking scores
 * every slot against every node (62 ms at 3 nodes, 837 ms at 200, which held the node in one go),
 * so it goes in slices of `sliceMs`, calls made meanwhile waiting for it; a ring that changes
 * meanwhile is marked instead. `store` must count its slots (`countsSlots`).
 */
export function primaryKeys(
  store: Store,
  address: string,
  ring: () => Ring,
  sliceMs = SLICE_MS,
): () => Promise<number | undefined> {
  let counted: Ring | undefined; // the ring whose slots the store counts as owned
  let marking: Promise<void> | undefined;

  async function mark(): Promise<void> {
    const slices = new Slices(sliceMs);
    marked: for (let now = ring(); now !== counted && now.size > 0; now = ring()) {
      for (let from = 0; from < SLOTS; from += SLOTS_PER_STEP) {
        if (slices.over()) {
          await slices.next();
          if (ring() !== now) continue marked;
        }
        store.countOwned(now.ownedSlots(address, from, from + SLOTS_PER_STEP), from);
      }
      counted = now;
    }
  }

  return async () => {
    for (;;) {
      const now = ring();
      if (now.size === 0) return undefined;
      if (now === counted) return store.ownedKeys;
      marking ??= mark().finally(() => marking = undefined);
      await marking;
    }
  };
}
