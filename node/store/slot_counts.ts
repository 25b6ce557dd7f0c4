// Keys per ring slot, kept as entries come and go: the keys a node is the primary of are then a
// sum over the slots it owns, not a walk over every key.

import { hashKeyBytes } from "@cache/ring/hash";
import { slotOf } from "@cache/ring/ring";
import { SLOTS } from "@cache/ring/rendezvous";

const SLOT_MASK = SLOTS - 1;

/** Keys per slot, as wide as the fullest slot needs. */
export type SlotCountArray = Uint8Array | Uint16Array | Uint32Array;

/**
 * How many keys fall in each of the ring's {@link SLOTS} slots (`slotOf()`): a byte a slot, 1 MiB,
 * widened to 2 then 4 bytes a slot the first time a slot passes what its width holds (a node of
 * 100 million keys has about 95 a slot). 4 bytes a slot from the start took a standalone node's
 * peak under writes of 100 KB values 4 MiB higher, 0.07 of a 64 MB bound. A walk over every key
 * took 0.1 s per million keys, in which the node served nothing.
 *
 * @example
 * ```ts
 * import { SlotCounts } from "./slot_counts.ts";
 * import { slotOf } from "@cache/ring/ring";
 * const slots = new SlotCounts();
 * slots.add("k");
 * slots.counts[slotOf("k")]; // 1
 * ```
 */
export class SlotCounts {
  readonly #slotOf: (key: string) => number;
  #counts: SlotCountArray = new Uint8Array(SLOTS);
  #max = 0xff; // the largest count the slots' width holds
  #owned: Uint8Array | undefined; // 1 per slot owned, from own()
  #ownedKeys = 0; // the counts summed over the owned slots

  /** `slotOfKey` places keys: the ring's `slotOf()` unless a test gives another. */
  constructor(slotOfKey: (key: string) => number = slotOf) {
    this.#slotOf = slotOfKey;
  }

  /** Keys per slot. */
  get counts(): SlotCountArray {
    return this.#counts;
  }

  /** Counts a key held from now on. */
  add(key: string): void {
    const slot = this.#slotOf(key);
    let counts = this.#counts;
    if (counts[slot] === this.#max) {
      const bytes = counts instanceof Uint8Array;
      counts = this.#counts = bytes ? Uint16Array.from(counts) : Uint32Array.from(counts);
      this.#max = bytes ? 0xffff : 0xffffffff;
    }
    counts[slot]++;
    if (this.#owned !== undefined) this.#ownedKeys += this.#owned[slot];
  }

  /** Counts out a key of slot `slot` (see {@link slotOfBytes}). */
  remove(slot: number): void {
    this.#counts[slot]--;
    if (this.#owned !== undefined) this.#ownedKeys -= this.#owned[slot];
  }

  clear(): void {
    this.#counts.fill(0);
    this.#ownedKeys = 0;
  }

  /**
   * Sums the keys of the slots `owned` marks (1 a slot owned, 0 not: `Ring.ownedSlots()`) once,
   * then keeps the sum as keys come and go, so reading it costs nothing: summing 2^20 counts per
   * read let callers of `/stats` hold a node.
   */
  own(owned: Uint8Array): void {
    const counts = this.#counts;
    let sum = 0;
    for (let slot = 0; slot < SLOTS; slot++) if (owned[slot] !== 0) sum += counts[slot];
    this.#owned = owned;
    this.#ownedKeys = sum;
  }

  /** The slots last given to {@link own}, 1 a slot owned; undefined before. */
  get owned(): Uint8Array | undefined {
    return this.#owned;
  }

  /** The keys counted in the slots last given to {@link own}; 0 before. */
  get ownedKeys(): number {
    return this.#ownedKeys;
  }
}

/**
 * The ring slot of the key whose UTF-8 bytes are `length` bytes of `bytes` from `start`: `slotOf()`
 * of the key, from its bytes.
 */
export function slotOfBytes(bytes: Uint8Array, start: number, length: number): number {
  return hashKeyBytes(bytes, start, length, 0) & SLOT_MASK;
}
