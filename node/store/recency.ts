// A least-recently-used order whose links live in the records' headers: O(1), no allocation.

import { NEWER, OLDER } from "./records.ts";

/**
 * Record refs from least to most recently used, linked through each record's {@link OLDER} and
 * {@link NEWER} words, so a read can make its record most recent on the hot path.
 *
 * @example
 * ```ts
 * import { RecencyList } from "./recency.ts";
 * const words = new Uint32Array(64); // refs 1 to 7, as an arena's words would hold them
 * const list = new RecencyList(words);
 * list.append(1);
 * list.append(2);
 * list.touch(1);
 * list.oldest; // 2
 * ```
 */
export class RecencyList {
  readonly #words: Uint32Array;
  #oldest = 0;
  #newest = 0;

  /** `words` holds the records' headers: an arena's u32 view. */
  constructor(words: Uint32Array) {
    this.#words = words;
  }

  /** The least recently used ref, the next to evict; 0 when empty. */
  get oldest(): number {
    return this.#oldest;
  }

  /** The ref used after `ref`, or 0 after the newest: for walking every record. */
  newerThan(ref: number): number {
    return this.#words[ref * 2 + NEWER];
  }

  /** Adds `ref` as the most recently used. It must not be in the list. */
  append(ref: number): void {
    const words = this.#words;
    words[ref * 2 + OLDER] = this.#newest;
    words[ref * 2 + NEWER] = 0;
    if (this.#newest !== 0) words[this.#newest * 2 + NEWER] = ref;
    else this.#oldest = ref;
    this.#newest = ref;
  }

  /** Takes `ref`, which must be in the list, out of it. */
  unlink(ref: number): void {
    const words = this.#words;
    const older = words[ref * 2 + OLDER];
    const newer = words[ref * 2 + NEWER];
    if (older !== 0) words[older * 2 + NEWER] = newer;
    else this.#oldest = newer;
    if (newer !== 0) words[newer * 2 + OLDER] = older;
    else this.#newest = older;
  }

  /** Makes `ref`, which must be in the list, the most recently used. */
  touch(ref: number): void {
    if (ref === this.#newest) return;
    this.unlink(ref);
    this.append(ref);
  }

  /** Empties the list. */
  clear(): void {
    this.#oldest = this.#newest = 0;
  }
}
