// The node's key-value store: string keys to string values, in memory.

/**
 * An in-memory map of string keys to string values.
 *
 * A miss is `undefined`, never an exception.
 */
export class Store {
  readonly #entries = new Map<string, string>();

  /** The value of `key`, or `undefined`. */
  get(key: string): string | undefined {
    return this.#entries.get(key);
  }

  /** Stores `value` under `key`, replacing any value it had. */
  set(key: string, value: string): void {
    this.#entries.set(key, value);
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Number of keys stored. */
  get size(): number {
    return this.#entries.size;
  }
}
