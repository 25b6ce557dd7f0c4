// Where a scan's page ends: the fewest smallest slots that hold a page of keys, found in linear time.

/** The slots a page takes: every key in a slot up to `last`; the first slot after it, if any. */
export interface PageBounds {
  last: number;
  next: number | null;
}

/**
 * The bounds of a page of at least `count` keys (fewer when there are fewer) from keys in `slots`
 * (one entry per key, any order): whole slots, the smallest first. Linear on average, with no
 * sort of every key: a node's page of 1,000 keys out of 1,000,000 takes one selection. Undefined
 * when `slots` is empty.
 *
 * @example
 * ```ts
 * import { pageBounds } from "./scan_page.ts";
 * pageBounds([9, 3, 3, 7, 12], 2); // { last: 3, next: 7 }: both keys of slot 3
 * pageBounds([9, 3, 3, 7, 12], 3); // { last: 7, next: 9 }
 * ```
 */
export function pageBounds(slots: ArrayLike<number>, count: number): PageBounds | undefined {
  if (slots.length === 0) return undefined;
  const wanted = Math.min(Math.max(1, count), slots.length);
  const last = kthSmallest(Float64Array.from(slots), wanted - 1);
  let next = Infinity;
  for (let i = 0; i < slots.length; i++) if (slots[i] > last && slots[i] < next) next = slots[i];
  return { last, next: next === Infinity ? null : next };
}

/**
 * The `k`-th smallest value of `values` (0 the smallest), reordering them: Hoare's selection, on a
 * pivot at random. Clients choose the order keys are written in, hence their slots' order here: a
 * fixed pivot, which such an order can defeat at every step, would make a page N² work.
 */
function kthSmallest(values: Float64Array, k: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[lo + Math.floor(Math.random() * (hi - lo + 1))];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const swap = values[i];
        values[i++] = values[j];
        values[j--] = swap;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}
