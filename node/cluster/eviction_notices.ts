// A primary's evictions told to its backups, so that they let the same states go: a key evicted
// where reads go is gone from every owner, as a Redis replica deletes what its primary evicts.

import { callPeer } from "@cache/http1/peer";
import type { Fetch } from "@cache/http1/fetch";
import type { Logger } from "@cache/log/log";
import type { EvictedState, Stamp } from "@cache/protocol/replica";
import { MAX_BATCH, MAX_BATCH_BYTES } from "@cache/protocol/wire";

/**
 * Milliseconds notices gather before a call takes them: sent at once, under writes that each
 * evict, they made a call of a few notices per write and cost 0.27-0.39 of such writes' rate.
 */
const GATHER_MS = 20;

/** Notices waiting for one backup at most: past it, new ones are not sent (see `unsent`). */
export const MAX_WAITING = 10 * MAX_BATCH;

/** Who this node is, where a key's owners are, and how a backup is told. */
export interface EvictionNoticesOptions {
  self: string;
  /** The owners of `key` in the ring this node follows, primary first; none without a ring. */
  owners: (key: string) => readonly string[];
  /** Tells `backup` of evicted states, a batch at a time; rejects when it did not take them. */
  send: (backup: string, evicted: EvictedState[]) => Promise<void>;
  log: Logger;
  /** Milliseconds notices gather before a call; default {@link GATHER_MS}. */
  gatherMs?: number;
}

/**
 * Tells a key's backups when this node, its primary, evicts it. Best effort and after the fact:
 * the write that made room is not held up; notices gather for a moment, and while one call per
 * backup is out; a backup that cannot be reached keeps its copy, as it did before it was told. A
 * backup lets go only a state at or below the one evicted, so a newer write is never lost to a
 * late notice.
 */
export class EvictionNotices {
  readonly #options: EvictionNoticesOptions;
  readonly #waiting = new Map<string, EvictedState[]>();
  readonly #sending = new Set<string>();
  /** Notices not sent: the backup's queue was full, or its call failed. */
  unsent = 0;

  constructor(options: EvictionNoticesOptions) {
    this.#options = options;
  }

  /**
   * Called as the store evicts `key`, stamped `stamp`: its backups are told, if this is its
   * primary.
   */
  evicted(key: string, stamp: Stamp): void {
    const owners = this.#options.owners(key);
    if (owners[0] !== this.#options.self) return;
    for (let i = 1; i < owners.length; i++) {
      this.#add(owners[i], { key, version: stamp.version, epoch: stamp.epoch ?? 0 });
    }
  }

  /** Resolves once no notice waits or is out (for tests). */
  async idle(): Promise<void> {
    while (this.#sending.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #add(backup: string, notice: EvictedState): void {
    let waiting = this.#waiting.get(backup);
    if (waiting === undefined) this.#waiting.set(backup, waiting = []);
    if (waiting.length >= MAX_WAITING) {
      this.unsent++;
      return;
    }
    waiting.push(notice);
    if (this.#sending.has(backup)) return;
    this.#sending.add(backup);
    // A little after: the evictions of the writes meanwhile go in one call, not one each.
    setTimeout(() => this.#drain(backup), this.#options.gatherMs ?? GATHER_MS);
  }

  async #drain(backup: string): Promise<void> {
    try {
      const waiting = this.#waiting.get(backup) ?? [];
      while (waiting.length > 0) {
        const batch = waiting.splice(0, batchLength(waiting));
        try {
          await this.#options.send(backup, batch);
        } catch (error) {
          this.unsent += batch.length;
          this.#options.log.debug("eviction notices not taken", {
            backup,
            keys: batch.length,
            error: String(error),
          });
        }
      }
      this.#waiting.delete(backup);
    } finally {
      this.#sending.delete(backup);
    }
  }
}

/**
 * How many of `waiting` go in one call: at most {@link MAX_BATCH}, and their JSON within
 * {@link MAX_BATCH_BYTES}, below any node's body limit (a key may take 1 KiB).
 */
function batchLength(waiting: EvictedState[]): number {
  let bytes = 0;
  let length = 0;
  while (length < Math.min(waiting.length, MAX_BATCH)) {
    bytes += waiting[length].key.length * 6 + 64; // a UTF-16 unit takes 6 in JSON at most
    if (bytes > MAX_BATCH_BYTES && length > 0) break;
    length++;
  }
  return length;
}

/** Sends `evicted` to `node`'s `/evicted` within `timeoutMs`; rejects unless it took them. */
export async function sendEvicted(
  fetch: Fetch,
  node: string,
  evicted: EvictedState[],
  timeoutMs: number,
): Promise<void> {
  const answer = await callPeer(fetch, node, "/evicted", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ evicted }),
  }, timeoutMs);
  if (answer.status !== 200) {
    throw new Error(
      `Node ${node} answered ${answer.status}: ${new TextDecoder().decode(answer.body)}`,
    );
  }
}
