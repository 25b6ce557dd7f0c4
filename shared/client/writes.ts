// The client's writes: of one key, in direct mode to every owner at once (stamped_writes.ts) or
// gathered per primary (writes to a node already busy with one wait, and go together as one
// POST /mset, each still answered as its own POST /keys would have been), alone when conditional;
// and of many items, one POST /mset per owning node.

import { Coalescer } from "@cache/async/coalesce";
import { batches, checkItems, itemBytes } from "./batches.ts";
import { CacheError, type CallInit, checkKey, retries, unreached } from "./call.ts";
import { conditionFields, notApplied } from "./conditions.ts";
import type { Item } from "./items.ts";
import { type SetOptions, ttlField } from "./options.ts";
import { post, type Router } from "./router.ts";
import { type StampedWrites, Unstamped } from "./stamped_writes.ts";
import { unreplicatedKeys } from "@cache/protocol/unreplicated";
import { MAX_BATCH, MAX_BATCH_BYTES, utf8Bytes, VERSION_FLOOR_HEADER } from "@cache/protocol/wire";

/** A write on its way to its primary. */
export interface Write {
  /** The key written. */
  key: string;
  /** The `KeyValue` as JSON, `ttl` included: the body of its own `POST /keys`. */
  body: string;
  /** The epoch of the ring the write was routed by. */
  epoch: number;
  /** A version the primary must give the write one above: see `VERSION_FLOOR_HEADER`. */
  floor?: number;
}

/** How gathered writes reach a node. */
export interface GatheredWritesOptions {
  /**
   * Calls `path` on `node`, stamped with ring `epoch`; resolves to the parsed body or throws
   * CacheError.
   */
  callNode(node: string, path: string, init: CallInit, epoch: number): Promise<unknown>;
}

const JSON_TYPE = { "content-type": "application/json" };

/** The headers of a JSON write, asking for a version above `floor` when it is not 0. */
function writeHeaders(floor: number): Record<string, string> {
  return floor === 0 ? JSON_TYPE : { ...JSON_TYPE, [VERSION_FLOOR_HEADER]: String(floor) };
}

/**
 * Writes to one primary at a time: a write to an idle node goes alone as `POST /keys`; writes made
 * while one is out wait and go together, in the order they were made, as one `POST /mset`, which
 * the node applies in order, so the last write of a key wins. Each write settles as its own
 * `POST /keys` would have: nothing resolves before every backup has it. A node that cannot be
 * reached fails the writes queued behind too, at once.
 *
 * @example
 * ```ts
 * import type { CallInit } from "./call.ts";
 * import { GatheredWrites } from "./writes.ts";
 * const callNode = (node: string, path: string, init: CallInit) => caller.call(node, path, init);
 * const writes = new GatheredWrites({ callNode });
 * const body = JSON.stringify({ key: "user:42", value: "Ada", ttl: 60 });
 * await writes.write("http://127.0.0.1:8081", { key: "user:42", body, epoch: 3 });
 * ```
 */
export class GatheredWrites {
  readonly #options: GatheredWritesOptions;
  readonly #coalescer = new Coalescer<Write, void>(
    (node, writes) => this.#writeBatch(node, writes),
    {
      inFlight: 1,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf: (write) => utf8Bytes(write.body) + 1, // and a comma
      // A node that could not be reached or did not answer: the writes queued behind go their own
      // way at once rather than wait for it too.
      failsWaiting: (_node, error) => unreached(error) ? error : undefined,
    },
  );

  constructor(options: GatheredWritesOptions) {
    this.#options = options;
  }

  /**
   * Stores `write` on its primary `node`; rejects with the CacheError its own `POST /keys` would
   * have had (a 421 or a node unreached, to be sent again by a newer ring).
   */
  write(node: string, write: Write): Promise<void> {
    return this.#coalescer.submit(node, write);
  }

  /**
   * Sends `writes` to their primary `node`: alone as `POST /keys`, together as one `POST /mset`.
   * A 421 or a node unreached fails them all, to go again by a newer ring. A batch the node
   * refuses wrote nothing (a 4xx, or 507 for a full store), so each write is sent again alone for
   * its own answer. Any other error may have come after the primary stored the batch: the writes
   * of the keys it names as `unreplicated` (a backup did not take them) get that error and the
   * others are stored, as each alone would have had; without that list, every write gets it.
   */
  async #writeBatch(node: string, writes: Write[]): Promise<(void | Promise<void>)[]> {
    if (writes.length === 1) return [await this.#alone(node, writes[0])];
    const { epoch } = writes[0];
    // A ring change while they waited: one epoch per call, so these go alone.
    if (writes.some((write) => write.epoch !== epoch)) return this.#eachAlone(node, writes);
    const body = `{"items":[${writes.map((write) => write.body).join(",")}]}`;
    const floors = writes.flatMap((write) => write.floor === undefined ? [] : [write.floor]);
    const init = { method: "POST", headers: writeHeaders(Math.max(0, ...floors)), body };
    try {
      await this.#options.callNode(node, "/mset", init, epoch);
      return writes.map(() => undefined);
    } catch (error) {
      // A newer ring (421) or no answer: each write goes again by the ring read after it.
      if (!(error instanceof CacheError) || error.status === 421 || unreached(error)) throw error;
      if (error.status < 500 || error.status === 507) return this.#eachAlone(node, writes);
      const unreplicated = unreplicatedKeys(error.details);
      if (!unreplicated) throw error;
      return writes.map((write) => unreplicated.has(write.key) ? Promise.reject(error) : undefined);
    }
  }

  /** `write` sent alone as `POST /keys`. */
  async #alone(node: string, write: Write): Promise<void> {
    const init = { method: "POST", headers: writeHeaders(write.floor ?? 0), body: write.body };
    await this.#options.callNode(node, "/keys", init, write.epoch);
  }

  /**
   * Each of `writes` sent alone, all at once but for writes of one key, which go one after the
   * other in the order they were made, so the last still wins.
   */
  #eachAlone(node: string, writes: Write[]): Promise<void>[] {
    const last = new Map<string, Promise<void>>();
    return writes.map((write) => {
      const before = last.get(write.key);
      const sent = before
        ? before.then(() => this.#alone(node, write), () => this.#alone(node, write))
        : this.#alone(node, write);
      last.set(write.key, sent);
      return sent;
    });
  }
}

/**
 * Stores `value` under `key` as {@link CacheClient.set} does, by `router`: with a condition alone,
 * sent again only when surely not applied; without one, in direct mode and with no signal of its
 * own, first to every owner at once by `stamped` when the key has backups, then (if that did not
 * store it) gathered per primary by `gathered`, else alone.
 *
 * @example
 * ```ts
 * import { GatheredWrites, writeKey } from "./writes.ts";
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "direct", timeoutMs: 5000 });
 * await router.refresh();
 * const writes = new GatheredWrites({
 *   callNode: (node, path, init, epoch) => router.callNode(node, path, init, undefined, epoch),
 * });
 * await writeKey(router, writes, "user:42", "Ada", { ttlSeconds: 60 });
 * ```
 */
export async function writeKey(
  router: Router,
  gathered: GatheredWrites,
  key: string,
  value: string,
  options: SetOptions,
  stamped?: StampedWrites,
): Promise<void> {
  const { signal } = options;
  checkKey(key, "key"); // before any call: every owner would refuse it, in turn
  const condition = conditionFields(options);
  const body = JSON.stringify({ key, value, ...ttlField(options.ttlSeconds), ...condition });
  if (condition.if !== undefined || condition.ifVersion !== undefined) {
    // Never gathered: /mset carries no conditions.
    await router.route(key, "/keys", post(body), { signal, retryable: notApplied });
    return;
  }
  let floor = 0;
  const owners = signal || !stamped ? [] : router.owners(key);
  if (owners.length > 1) {
    // One round trip to every owner. A write that lost to a newer state on its primary, or that
    // failed anywhere, goes again through the primary below, which orders it after what it holds
    // and gives it a version above the copies some owners may keep of this try.
    floor = stamped!.version();
    try {
      if (await stamped!.write(owners, body, router.view!.epoch, floor)) return;
    } catch (error) {
      // No copy anywhere (every owner refused it, this clock too far ahead of theirs, say): a
      // write like any other, which a version above this try's would have refused too.
      const unstamped = error instanceof Unstamped;
      if (unstamped) floor = 0;
      if (retries(unstamped ? error.cause : error)) await router.refreshOnce();
    }
  }
  let attempts = 2;
  const owner = signal ? undefined : router.owner(key);
  if (owner !== undefined) {
    // Writes without a signal of their own go together per primary (see GatheredWrites), each
    // answered as it would have been alone: its first attempt.
    try {
      const epoch = router.view!.epoch;
      return await gathered.write(owner, { key, body, epoch, ...(floor ? { floor } : {}) });
    } catch (error) {
      if (!retries(error)) throw error;
      await router.refreshOnce(); // a newer ring, or the node failed: one more try
      attempts = 1;
    }
  }
  const init = { method: "POST", headers: writeHeaders(floor), body };
  await router.route(key, "/keys", init, { signal, attempts });
}

/**
 * Writes `items` as {@link CacheClient.mset} does, by `router`: one `/mset` per owning node (per
 * batch), in parallel.
 *
 * @example
 * ```ts
 * import { writeItems } from "./writes.ts";
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "proxy", timeoutMs: 5000 });
 * await writeItems(router, [{ key: "a", value: "1" }, { key: "b", value: "2", ttlSeconds: 10 }]);
 * ```
 */
export async function writeItems(
  router: Router,
  items: Item[],
  signal?: AbortSignal,
): Promise<void> {
  checkItems(items); // all or nothing: no node stores its share of a call that fails for a bad item
  // Each owner's items in batches no node refuses for their size, all sent at once.
  const calls = [...router.groups(items, (i) => i.key)].flatMap(([owner, group]) =>
    batches(group, itemBytes).map((batch) => {
      const body = JSON.stringify({
        items: batch.map((i) => ({ key: i.key, value: i.value, ...ttlField(i.ttlSeconds) })),
      });
      return router.batch(owner, batch[0].key, "/mset", body, signal);
    })
  );
  // Settled, every share, before the call fails: a share still out (or sent again) would be stored
  // after a write its caller makes next, and read back over it.
  const failed = (await Promise.allSettled(calls)).find((call) => call.status === "rejected");
  if (failed) throw failed.reason;
}
