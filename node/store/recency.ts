// A least-recently-used order whose links live on the entries themselves: O(1), no allocation.

/** An entry of a {@link RecencyList}: its neighbours in the list, kept on the entry. */
export interface Linked<T> {
  older: T | undefined;
  newer: T | undefined;
}

/**
 * Entries from least to most recently used. Touching, adding and removing are O(1) and allocate
 * nothing, so a read can make its entry most recent on the hot path.
 *
 * @example
 * ```ts
 * import { RecencyList } from "./recency.ts";
 * interface Entry { key: string; older: Entry | undefined; newer: Entry | undefined }
 * const entry = (key: string): Entry => ({ key, older: undefined, newer: undefined });
 * const list = new RecencyList<Entry>();
 * const a = entry("a"), b = entry("b");
 * list.append(a);
 * list.append(b);
 * list.touch(a);
 * list.oldest?.key; // "b"
 * ```
 */
export class RecencyList<T extends Linked<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;

  /** The least recently used entry, the next to evict. */
  get oldest(): T | undefined {
    return this.#oldest;
  }

  /** Adds `entry` as the most recently used. It must not be in the list. */
  append(entry: T): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }

  /** Takes `entry`, which must be in the list, out of it. */
  unlink(entry: T): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = entry.newer = undefined;
  }

  /** Makes `entry`, which must be in the list, the most recently used. */
  touch(entry: T): void {
    this.unlink(entry);
    this.append(entry);
  }
}
