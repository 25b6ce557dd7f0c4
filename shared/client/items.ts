// What the client takes and hands out besides plain values: items to write, keys as read with
// their versions, and counters.

import type { StoredItem } from "@cache/protocol/wire";

/** An item of {@link CacheClient.mset}. */
export interface Item {
  key: string;
  value: string;
  ttlSeconds?: number;
}

/**
 * A key as read: its value, its version (an opaque string that changes with every write of the
 * key: compare it for equality only), and `ttlSeconds`, the seconds it has left when it expires.
 */
export interface VersionedItem extends Item {
  version: string;
}

/** What an increment answers: the key's new value and its version. */
export interface Counter {
  key: string;
  value: number;
  version: string;
}

/**
 * A key as read, as the client hands it out: `ttl` is `ttlSeconds`; undefined stays undefined.
 *
 * @example
 * ```ts
 * import { versioned } from "./items.ts";
 * versioned({ key: "a", value: "1", version: "7.1", ttl: 9.5 });
 * // { key: "a", value: "1", version: "7.1", ttlSeconds: 9.5 }
 * ```
 */
export function versioned(item: StoredItem | undefined): VersionedItem | undefined {
  if (item === undefined) return undefined;
  const { key, value, version } = item;
  return item.ttl === undefined
    ? { key, value, version }
    : { key, value, version, ttlSeconds: item.ttl };
}
