// Cutting batch calls into sizes no node refuses: the client's mget and mset, and the CLI's.

import { MAX_BATCH, MAX_BATCH_BYTES, utf8Bytes } from "@cache/protocol/wire";

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
