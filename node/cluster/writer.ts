// The node's write path: placement check, local write, then every backup, before acknowledging.

import { HttpError } from "@cache/protocol/errors";
import { checkValueSize } from "@cache/protocol/key_routes";
import type { KeyValue } from "@cache/protocol/wire";
import type { Replicator, Routing } from "./replicator.ts";
import { EntryTooLargeError, type Replica, type Store, StoreFullError } from "../store/store.ts";

/**
 * Applies writes and deletes as the keys' primary: checks placement, stores locally, then copies
 * to every backup and resolves only once all have it. Without a replicator, it only stores.
 */
export class Writer {
  readonly #store: Store;
  readonly #replicator: Replicator | undefined;
  readonly #maxValueBytes: number;
  readonly #defaultTtlSeconds: number;

  constructor(
    store: Store,
    replicator: Replicator | undefined,
    maxValueBytes: number,
    defaultTtlSeconds = 0,
  ) {
    this.#store = store;
    this.#replicator = replicator;
    this.#maxValueBytes = maxValueBytes;
    this.#defaultTtlSeconds = defaultTtlSeconds;
  }

  /**
   * Writes `items`, all or none locally, then replicates them; `routing` says the ring epoch the
   * sender routed them in and its deadline. The writes are stamped with this node's ring epoch.
   * A value over the size limit refuses the whole batch (413) before anything is checked or
   * written; each value is measured once, for the limit and for the store's accounting.
   */
  async write(items: KeyValue[], routing: Routing = {}): Promise<void> {
    const writes = items.map(({ key, value, ttl }) => ({
      key,
      value,
      ttlMs: (ttl ?? this.#defaultTtlSeconds) * 1000,
      valueBytes: checkValueSize(value, this.#maxValueBytes),
    }));
    const epoch = await this.#replicator?.checkPrimary(items.map((i) => i.key), routing) ?? 0;
    let versions: number[];
    try {
      versions = this.#store.setMany(writes, epoch);
    } catch (error) {
      throw storeError(error);
    }
    const replicas: Replica[] = writes.map((w, i) => ({
      key: w.key,
      version: versions[i],
      ...(epoch ? { epoch } : {}),
      value: w.value,
      ...(w.ttlMs > 0 ? { ttlMs: w.ttlMs } : {}),
    }));
    await this.#replicator?.replicate(replicas, routing.deadline);
  }

  /** Deletes `key` here and on its backups; resolves whether it was here. */
  async delete(key: string, routing: Routing = {}): Promise<boolean> {
    const epoch = await this.#replicator?.checkPrimary([key], routing) ?? 0;
    const { found, version } = this.#store.delete(key, epoch);
    const deletion = { key, version, ...(epoch ? { epoch } : {}), deleted: true };
    await this.#replicator?.replicate([deletion], routing.deadline);
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
