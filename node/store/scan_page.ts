// Where a scan's page ends: the fewest smallest slots that hold a page of keys, found in one pass
// that keeps only a page's worth of slots.

/** The slots a page takes: every key in a slot up to `last`; the first slot after it, if any. */
export interface PageBounds {
  last: number;
  next: number | null;
}

/**
 * The `count` smallest slots of those added, as a max-heap: the largest of them ends a page of
 * whole slots that holds `count` keys (all of them, when fewer were added). Memory for `count`
 * slots whatever is added, and at most log2(count) steps an addition, in any order: a client
 * chooses the order keys are written in, hence their slots' order on a node.
 *
 * @example
 * ```ts
 * import { SmallestSlots } from "./scan_page.ts";
 * const smallest = new SmallestSlots(2);
 * for (const slot of [9, 3, 3, 7, 12]) smallest.add(slot);
 * smallest.last; // 3: both keys of slot 3
 * ```
 */
export class SmallestSlots {
  readonly #heap: Float64Array;
  #size = 0;

  constructor(count: number) {
    this.#heap = new Float64Array(Math.max(1, count));
  }

  add(slot: number): void {
    const heap = this.#heap;
    if (this.#size < heap.length) {
      let i = this.#size++;
      while (i > 0 && heap[(i - 1) >> 1] < slot) {
        heap[i] = heap[(i - 1) >> 1];
        i = (i - 1) >> 1;
      }
      heap[i] = slot;
    } else if (slot < heap[0]) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const child = left + 1 < heap.length && heap[left + 1] > heap[left] ? left + 1 : left;
        if (heap[child] <= slot) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = slot;
    }
  }

  /** The largest slot kept: the last a page takes; undefined when none was added. */
  get last(): number | undefined {
    return this.#size === 0 ? undefined : this.#heap[0];
  }
}

/**
 * The bounds of a page of at least `count` keys (fewer when there are fewer) from keys in `slots`
 * (one entry per key, any order): whole slots, the smallest first. Undefined when `slots` is
 * empty.
 *
 * @example
 * ```ts
 * import { pageBounds } from "./scan_page.ts";
 * pageBounds([9, 3, 3, 7, 12], 2); // { last: 3, next: 7 }: both keys of slot 3
 * pageBounds([9, 3, 3, 7, 12], 3); // { last: 7, next: 9 }
 * ```
 */
export function pageBounds(slots: ArrayLike<number>, count: number): PageBounds | undefined {
  const smallest = new SmallestSlots(count);
  for (let i = 0; i < slots.length; i++) smallest.add(slots[i]);
  const last = smallest.last;
  if (last === undefined) return undefined;
  let next = Infinity;
  for (let i = 0; i < slots.length; i++) if (slots[i] > last && slots[i] < next) next = slots[i];
  return { last, next: next === Infinity ? null : next };
}
