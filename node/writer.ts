// The node's write path: placement check, local write, then every backup, before acknowledging.

import { HttpError } from "../shared/errors.ts";
import { checkValueSize } from "../shared/key_routes.ts";
import type { Cluster } from "./cluster.ts";
import { EntryTooLargeError, type Replica, type Store, StoreFullError } from "./store.ts";

/** A write as the API receives it: `ttl` in seconds. */
export interface ItemWrite {
  key: string;
  value: string;
  ttl?: number;
}

/**
 * Applies writes and deletes as the keys' primary: checks placement, stores locally, then copies
 * to every backup and resolves only once all have it. Without a cluster, it only stores.
 */
export class Writer {
  readonly #store: Store;
  readonly #cluster: Cluster | undefined;
  readonly #maxValueBytes: number;
  readonly #defaultTtlSeconds: number;

  constructor(
    store: Store,
    cluster: Cluster | undefined,
    maxValueBytes: number,
    defaultTtlSeconds = 0,
  ) {
    this.#store = store;
    this.#cluster = cluster;
    this.#maxValueBytes = maxValueBytes;
    this.#defaultTtlSeconds = defaultTtlSeconds;
  }

  /**
   * Writes `items`, all or none locally, then replicates them; `epoch` is the routed ring epoch.
   * A value over the size limit refuses the whole batch (413) before anything is checked or
   * written; each value is measured once, for the limit and for the store's accounting.
   */
  async write(items: ItemWrite[], epoch?: number): Promise<void> {
    const writes = items.map(({ key, value, ttl }) => ({
      key,
      value,
      ttlMs: (ttl ?? this.#defaultTtlSeconds) * 1000,
      valueBytes: checkValueSize(value, this.#maxValueBytes),
    }));
    await this.#cluster?.checkPrimary(items.map((i) => i.key), epoch);
    let versions: number[];
    try {
      versions = this.#store.setMany(writes);
    } catch (error) {
      throw storeError(error);
    }
    const replicas: Replica[] = writes.map((w, i) => ({
      key: w.key,
      version: versions[i],
      value: w.value,
      ...(w.ttlMs > 0 ? { ttlMs: w.ttlMs } : {}),
    }));
    await this.#cluster?.replicate(replicas);
  }

  /** Deletes `key` here and on its backups; resolves whether it was here. */
  async delete(key: string, epoch?: number): Promise<boolean> {
    await this.#cluster?.checkPrimary([key], epoch);
    const { found, version } = this.#store.delete(key);
    await this.#cluster?.replicate([{ key, version, deleted: true }]);
    return found;
  }

  /** Applies replicas sent by a primary or a node handing keys over; returns how many changed. */
  apply(replicas: Replica[]): number {
    let changed = 0;
    try {
      for (const replica of replicas) if (this.#store.apply(replica)) changed++;
    } catch (error) {
      throw storeError(error);
    }
    return changed;
  }
}

/** A store refusal as the HTTP error it answers. */
function storeError(error: unknown): unknown {
  if (error instanceof EntryTooLargeError) return new HttpError(413, error.message);
  if (error instanceof StoreFullError) return new HttpError(507, error.message);
  return error;
}
