// The client's direct reads, gathered per node: reads of a node already busy with one wait, and
// go together as one POST /mget, each still answered on its own.

import { Coalescer } from "@cache/async/coalesce";
import { CacheError, type CallInit, retries, unreached } from "./call.ts";
import { keySegment } from "@cache/protocol/key_path";
import {
  Key,
  keyBytes,
  MAX_BATCH,
  MAX_BATCH_BYTES,
  MGetResponse,
  StoredItem,
} from "@cache/protocol/wire";

/** A node refused a batch of reads as a whole (a key it holds, say): each read goes alone. */
export class BatchRefused extends Error {
  constructor(cause: unknown) {
    super("The node refused the batch of reads", { cause });
    this.name = "BatchRefused";
  }
}

/** How gathered reads reach a node. */
export interface GatheredReadsOptions {
  /**
   * Calls `path` on `node`, stamped with the client's ring epoch; resolves to the parsed body or
   * throws CacheError.
   */
  callNode(node: string, path: string, init: CallInit): Promise<unknown>;
}

/**
 * Reads of one node at a time: a read of an idle node goes alone as `GET /keys/{key}`; reads made
 * while one is out wait and go together as one `POST /mget`. A failure fails every read of the
 * batch; a node that cannot be reached fails the reads queued behind too, at once.
 *
 * @example
 * ```ts
 * import { GatheredReads } from "./reads.ts";
 * const callNode = (node: string, path: string) => caller.call(node, path, {});
 * const reads = new GatheredReads({ callNode });
 * const item = await reads.read("http://127.0.0.1:8081", "user:42"); // { key, value, version }
 * ```
 */
export class GatheredReads {
  readonly #options: GatheredReadsOptions;
  readonly #coalescer = new Coalescer<string, StoredItem | undefined>(
    (node, keys) => this.#readBatch(node, keys),
    {
      inFlight: 1,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf: keyBytes,
      // A node that could not be reached or did not answer: the reads queued behind go their own
      // way at once rather than wait for it too.
      failsWaiting: (_node, error) => unreached(error) ? error : undefined,
    },
  );

  constructor(options: GatheredReadsOptions) {
    this.#options = options;
  }

  /**
   * `key` on `node`, with its value and version, or undefined; rejects with {@link BatchRefused}
   * to go alone.
   */
  read(node: string, key: string): Promise<StoredItem | undefined> {
    return this.#coalescer.submit(node, key);
  }

  /**
   * Reads `keys` on `node`: alone as `GET /keys/{key}`, together as one `POST /mget`; an item, or
   * undefined for a key not there. Any failure fails the whole batch; an `/mget` the node refused
   * for a reason a newer ring would not change, as {@link BatchRefused}.
   */
  async #readBatch(
    node: string,
    keys: string[],
  ): Promise<(StoredItem | undefined | Promise<StoredItem | undefined>)[]> {
    const { callNode } = this.#options;
    if (keys.length === 1) {
      return [await itemOf(callNode(node, `/keys/${keySegment(keys[0])}`, {}))];
    }
    const body = JSON.stringify({ keys: [...new Set(keys)] });
    const init = { method: "POST", headers: { "content-type": "application/json" }, body };
    let answer: MGetResponse;
    try {
      answer = MGetResponse.parse(await callNode(node, "/mget", init));
    } catch (error) {
      if (retries(error)) throw error;
      return this.#withoutRefusedKeys(node, keys, new BatchRefused(error));
    }
    const found = new Map(answer.items.map((item) => [item.key, item]));
    return keys.map((key) => found.get(key));
  }

  /**
   * After `node` refused a batch: one key no node takes (empty, ".", too long) refuses the whole
   * `/mget`, so the keys the schema accepts are read again together, and only the others fail
   * with `refused`, to go alone for their own answers. A batch of valid keys stays refused.
   */
  #withoutRefusedKeys(
    node: string,
    keys: string[],
    refused: BatchRefused,
  ): Promise<StoredItem | undefined>[] {
    const valid = keys.filter((key) => Key.safeParse(key).success);
    if (valid.length === keys.length || valid.length === 0) {
      return keys.map(() => Promise.reject(refused));
    }
    const again = this.#readBatch(node, valid);
    const at = new Map(valid.map((key, i) => [key, i]));
    return keys.map(async (key) => {
      const i = at.get(key);
      if (i === undefined) throw refused;
      return await (await again)[i];
    });
  }
}

/**
 * The item a read of one key answered, its value and version, or undefined for the node's or
 * master's 404.
 *
 * @example
 * ```ts
 * import { itemOf } from "./reads.ts";
 * const item = await itemOf(caller.call("http://127.0.0.1:8080", "/keys/k", {}));
 * item?.version; // "7.1733160000000123"
 * ```
 */
export async function itemOf(read: Promise<unknown>): Promise<StoredItem | undefined> {
  try {
    return StoredItem.parse(await read);
  } catch (error) {
    if (error instanceof CacheError && error.status === 404) return undefined;
    throw error;
  }
}
