// The keys a node is the primary of, read for /stats: marked per ring, its scoring in slices, then
// kept as keys move.

import type { Ring } from "@cache/ring/ring";
import { SLICE_MS, Slices } from "@cache/async/slices";
import type { Store } from "../store/store.ts";

/**
 * Reads the keys `store` holds whose primary is `address` in the ring `ring()` gives (undefined
 * while that ring is empty: standalone, or before the first one). Marks the slots `address` owns
 * once per ring, then reads the store's running sum: summing the store's 2^20 slot counts on every
 * `/stats` cost 8-10 ms, and 300 callers at once held a node past its lease. Marking scores every
 * slot against every node (62 ms at 3 nodes, 837 ms at 200, which held the node in one go), so
 * the scoring goes in slices of `sliceMs` (`Ring.scoreAll`), calls made meanwhile waiting for it;
 * a ring that changes meanwhile is marked instead. `store` must count its slots (`countsSlots`).
 * `onMarked` is told of each ring once its slots are marked (eviction reads the marks too).
 */
export function primaryKeys(
  store: Store,
  address: string,
  ring: () => Ring,
  sliceMs = SLICE_MS,
  onMarked: (ring: Ring) => void = () => {},
): () => Promise<number | undefined> {
  let counted: Ring | undefined; // the ring whose slots the store counts as owned
  let marking: Promise<void> | undefined;

  async function mark(): Promise<void> {
    const slices = new Slices(sliceMs);
    for (let now = ring(); now !== counted && now.size > 0; now = ring()) {
      if (!await now.scoreAll(slices, () => ring() === now)) continue; // replaced: mark that one
      store.countOwned(now.ownedSlots(address)); // every slot scored: a few ms
      counted = now;
      onMarked(now);
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
