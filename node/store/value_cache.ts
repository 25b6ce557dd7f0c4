// Recently decoded values by record ref: a hot key's reads decode its bytes once, not every time.

/** Slots of a cache: at most this many values are kept. */
export const CACHE_SLOTS = 4096;

/** Longest value kept, in UTF-16 units: the cache holds at most 4096 × 1 KiB × 2 bytes. */
export const MAX_CACHED_LENGTH = 1024;

/**
 * Decoded values of records, one per slot chosen by the record's ref, so the cache's memory is
 * bounded whatever the store holds. A value is kept only when its record is read a second time
 * in a row of its slot: a scan over many keys keeps nothing, and so leaves the garbage collector
 * no strings to carry. A value is valid while its record is unchanged: the store calls
 * {@link forget} whenever it rewrites or frees a record, before its ref can mean another.
 *
 * @example
 * ```ts
 * import { ValueCache } from "./value_cache.ts";
 * const cache = new ValueCache();
 * cache.read(19, () => "v"); // decoded, not kept: read once
 * cache.read(19, () => "v"); // decoded and kept
 * cache.read(19, () => "never called"); // "v"
 * cache.forget(19);
 * ```
 */
export class ValueCache {
  readonly #kept = new Uint32Array(CACHE_SLOTS); // the ref whose value each slot keeps
  readonly #values: (string | undefined)[] = new Array(CACHE_SLOTS).fill(undefined);
  readonly #seen = new Uint32Array(CACHE_SLOTS); // the ref last read in each slot, not kept

  /** The value of the record at `ref`: kept, or from `decode`. */
  read(ref: number, decode: (ref: number) => string): string {
    const slot = slotOf(ref);
    if (this.#kept[slot] === ref) return this.#values[slot]!;
    const value = decode(ref);
    if (this.#seen[slot] !== ref) {
      this.#seen[slot] = ref;
    } else if (value.length <= MAX_CACHED_LENGTH) {
      this.#kept[slot] = ref;
      this.#values[slot] = value;
    }
    return value;
  }

  /** Drops what is known of the record at `ref`, which is about to change or go. */
  forget(ref: number): void {
    const slot = slotOf(ref);
    if (this.#seen[slot] === ref) this.#seen[slot] = 0;
    if (this.#kept[slot] !== ref) return;
    this.#kept[slot] = 0;
    this.#values[slot] = undefined;
  }

  /** Drops every value. */
  clear(): void {
    this.#kept.fill(0);
    this.#seen.fill(0);
    this.#values.fill(undefined);
  }
}

/** A slot by a mix of all the ref's bits: refs are spaced by their chunk size. */
function slotOf(ref: number): number {
  let h = Math.imul(ref ^ (ref >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & (CACHE_SLOTS - 1);
}
