// Batch calls, the client's mget and mset and the CLI's: checked whole before any part is sent,
// and cut into sizes no node refuses.

import { CacheError, checkKey } from "./call.ts";
import type { Item } from "./items.ts";
import { KeyValue, MAX_BATCH, MAX_BATCH_BYTES, utf8Bytes } from "@cache/protocol/wire";
import { describeIssues } from "@cache/protocol/errors";

/**
 * Throws CacheError 400 for the first key of `keys` no node takes, named by its place in `keys`
 * as the master names it. Checked before any node is called: each node checks only its own share.
 *
 * @example
 * ```ts
 * import { checkKeys } from "./batches.ts";
 * checkKeys(["a", "b"]); // fine
 * checkKeys(["a", ""]); // throws CacheError 400: keys.1: Key must not be empty
 * ```
 */
export function checkKeys(keys: string[]): void {
  keys.forEach((key, i) => checkKey(key, `keys.${i}`));
}

/**
 * Throws CacheError 400 for the first item of `items` no node takes (its key, value or TTL), named
 * by its place in `items` as the master names it. Checked before any node is called: a node would
 * refuse only its own share, and the other nodes would store theirs.
 *
 * @example
 * ```ts
 * import { checkItems } from "./batches.ts";
 * checkItems([{ key: "a", value: "1" }]); // fine
 * checkItems([{ key: "a", value: "1", ttlSeconds: 0 }]); // throws CacheError 400: items.0.ttl: …
 * ```
 */
export function checkItems(items: Item[]): void {
  items.forEach((item, i) => {
    const checked = KeyValue.safeParse({ key: item.key, value: item.value, ttl: item.ttlSeconds });
    if (!checked.success) throw new CacheError(400, describeIssues(checked.error, ["items", i]));
  });
}

/**
 * `items` in order, cut into batches no node refuses for their size: at most `MAX_BATCH` items
 * and `MAX_BATCH_BYTES` by `sizeOf` each; an item larger than that goes alone.
 *
 * @example
 * ```ts
 * import { batches, itemBytes } from "./batches.ts";
 * batches([{ key: "a", value: "1" }], itemBytes); // [[{ key: "a", value: "1" }]]
 * ```
 */
export function batches<T>(items: T[], sizeOf: (item: T) => number): T[][] {
  const all: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (batch.length > 0 && (batch.length >= MAX_BATCH || bytes + size > MAX_BATCH_BYTES)) {
      all.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) all.push(batch);
  return all;
}

/**
 * The bytes `item` adds to an `/mset` body: its JSON and a comma.
 *
 * @example
 * ```ts
 * import { itemBytes } from "./batches.ts";
 * itemBytes({ key: "a", value: "1" }); // 24
 * ```
 */
export function itemBytes(item: { key: string; value: string; ttlSeconds?: number }): number {
  return utf8Bytes(JSON.stringify({ key: item.key, value: item.value, ttl: item.ttlSeconds })) + 1;
}
