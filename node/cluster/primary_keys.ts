// The keys a node is the primary of, read for /stats: marked per ring, then kept as keys move.

import type { Ring } from "@cache/ring/ring";
import type { Store } from "../store/store.ts";

/**
 * Reads the keys `store` holds whose primary is `address` in the ring `ring()` gives (undefined
 * while that ring is empty: standalone, or before the first one). Marks the slots `address` owns
 * once per ring, then reads the store's running sum: summing the store's 2^20 slot counts on every
 * `/stats` cost 8-10 ms, and 300 callers at once held a node past its lease. `store` must count its
 * slots (`countsSlots`).
 */
export function primaryKeys(
  store: Store,
  address: string,
  ring: () => Ring,
): () => number | undefined {
  let counted: Ring | undefined; // the ring whose slots the store counts as owned
  return () => {
    const now = ring();
    if (now.size === 0) return undefined;
    if (now !== counted) {
      store.countOwned(now.ownedSlots(address));
      counted = now;
    }
    return store.ownedKeys;
  };
}
