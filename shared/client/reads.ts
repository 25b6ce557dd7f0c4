// The client's reads: of one key, gathered per node in direct mode (reads of a node already busy
// with one wait, and go together as one POST /mget, each still answered on its own), and of many
// keys, one POST /mget per owning node.

import { Coalescer } from "@cache/async/coalesce";
import { batches, checkKeys } from "./batches.ts";
import {
  CacheError,
  type CallInit,
  expected,
  keyPath,
  retries,
  unreached,
  UnreadableAnswer,
} from "./call.ts";
import { post, type Router } from "./router.ts";
import {
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
      return [await itemOf(callNode(node, keyPath(keys[0]), {}), keys[0])];
    }
    const body = JSON.stringify({ keys: [...new Set(keys)] });
    const init = { method: "POST", headers: { "content-type": "application/json" }, body };
    let answer: MGetResponse;
    try {
      answer = mgetAnswer(await callNode(node, "/mget", init), keys, `${node}/mget`);
    } catch (error) {
      if (retries(error)) throw error;
      // Each read goes alone for its own answer. A key no node takes never gets here (keyPath
      // refuses it first), so this is a node's own refusal of the batch.
      const refused = new BatchRefused(error);
      return keys.map(() => Promise.reject(refused));
    }
    const found = new Map(answer.items.map((item) => [item.key, item]));
    return keys.map((key) => found.get(key));
  }
}

/**
 * The item a read of one key answered, its value and version, or undefined for the node's or
 * master's 404.
 *
 * @example
 * ```ts
 * import { itemOf } from "./reads.ts";
 * const item = await itemOf(caller.call("http://127.0.0.1:8080", "/keys/k", {}), "k");
 * item?.version; // "7.1733160000000123"
 * ```
 */
export async function itemOf(
  read: Promise<unknown>,
  key: string,
): Promise<StoredItem | undefined> {
  try {
    const item = expected(StoredItem, await read, `GET ${key}`);
    if (item.key === key) return item;
    throw new UnreadableAnswer(`GET ${key} answered for another key: ${item.key.slice(0, 60)}`);
  } catch (error) {
    if (error instanceof CacheError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * Reads `key` as {@link CacheClient.get} does: in direct mode gathered per node by `gathered`,
 * unless it has a signal of its own, else routed alone by `router`; its item, or undefined.
 *
 * @example
 * ```ts
 * import { GatheredReads, readKey } from "./reads.ts";
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "direct", timeoutMs: 5000 });
 * await router.refresh();
 * const reads = new GatheredReads({
 *   callNode: (node, path, init) => router.callNode(node, path, init),
 * });
 * await readKey(router, reads, "user:42"); // { key, value, version } or undefined
 * ```
 */
export async function readKey(
  router: Router,
  gathered: GatheredReads,
  key: string,
  signal?: AbortSignal,
): Promise<StoredItem | undefined> {
  const path = keyPath(key); // a key no path can carry throws, batched or not
  let attempts = 2;
  const owner = signal ? undefined : router.owner(key);
  if (owner !== undefined) {
    // Reads without a signal of their own go together per node (see GatheredReads).
    const routedBy = router.view?.epoch;
    try {
      const item = await gathered.read(owner, key);
      // An answer counts only if the ring has not changed since the read was routed (it may
      // have waited behind another call): if it has, the read is asked again by the new one. A
      // miss counts only from a settled ring: while keys move, the master looks where it was; so
      // does a hit that may be behind a copy on its way (see Router.mayBeBehind).
      if (router.view?.epoch === routedBy) {
        if (item === undefined ? !router.keysMoving() : !router.mayBeBehind(item)) return item;
        attempts = 0;
      }
    } catch (error) {
      if (!(error instanceof BatchRefused)) {
        if (!retries(error)) throw error; // the read went alone: this is its own answer
        await router.refreshOnce(); // the node failed: one more try by a newer ring
        attempts = 1;
      } // else: the node refused the batch as a whole; the read goes alone for its own answer
    }
  }
  return await itemOf(router.route(key, path, {}, { signal, read: true, attempts }), key);
}

/**
 * The items of `keys`, in their order, undefined for a key not stored: one `/mget` per owning node
 * (per batch), in parallel, by `router`.
 *
 * @example
 * ```ts
 * import { readKeys } from "./reads.ts";
 * import { Router } from "./router.ts";
 * const router = new Router(["http://127.0.0.1:8080"], { mode: "proxy", timeoutMs: 5000 });
 * const [a, b] = await readKeys(router, ["a", "b"]); // a?.value, b?.version
 * ```
 */
export async function readKeys(
  router: Router,
  keys: string[],
  signal?: AbortSignal,
): Promise<(StoredItem | undefined)[]> {
  checkKeys(keys);
  const found = new Map<string, StoredItem>();
  await readGroups({ router, found, signal }, keys, READ_ATTEMPTS);
  return keys.map((key) => found.get(key));
}

/** Rings a direct `mget` reads its keys by before it asks the master: the one held, one more. */
const READ_ATTEMPTS = 2;

/** What the reads of one `mget` share: the router, the items found so far, the call's signal. */
interface ManyReads {
  router: Router;
  found: Map<string, StoredItem>;
  signal?: AbortSignal;
}

/**
 * Reads `keys` into `found`, one `/mget` per owner (per batch) in the ring held. A call that fails
 * in a way a newer ring may route around reads the ring again and sends its keys again, grouped
 * by their owners in it (not all to one node: a node answers a key it no longer owns as missing),
 * `attempts` times in all; then through the master.
 */
async function readGroups(reads: ManyReads, keys: string[], attempts: number): Promise<void> {
  const { router, found, signal } = reads;
  const calls = [...router.groups(keys, (k) => k)].flatMap(([owner, group]) =>
    batches(group, keyBytes).map((batch) => [owner, batch] as const)
  );
  await Promise.all(calls.map(async ([owner, group]) => {
    if (owner === undefined || attempts === 0) return await readViaMaster(reads, group);
    let answer: MGetResponse;
    try {
      const body = post(JSON.stringify({ keys: group }));
      answer = mgetAnswer(await router.callNode(owner, "/mget", body, signal), group);
    } catch (error) {
      if (!(error instanceof CacheError) || signal?.aborted) throw error;
      if (error.status === 413) return await readHalves(reads, group, attempts);
      if (!retries(error)) throw error;
      await router.refreshAfterFailure(signal);
      return await readGroups(reads, group, attempts - 1);
    }
    for (const item of answer.items) found.set(item.key, item);
    // Misses while keys are still moving are asked again through the master, which looks
    // where they were, and so are hits that may be behind a copy on its way.
    const behind = answer.items.filter((item) => router.mayBeBehind(item)).map((item) => item.key);
    const ask = answer.missing.length > 0 && router.keysMoving()
      ? [...answer.missing, ...behind]
      : behind;
    if (ask.length > 0) await readViaMaster(reads, ask);
  }));
}

/** Reads `keys` through the master into `found`, its answer in place of any found before. */
async function readViaMaster(reads: ManyReads, keys: string[]): Promise<void> {
  const { router, found, signal } = reads;
  let answer: MGetResponse;
  try {
    answer = mgetAnswer(
      await router.viaMaster("/mget", post(JSON.stringify({ keys })), signal),
      keys,
    );
  } catch (error) {
    if (!(error instanceof CacheError) || error.status !== 413 || signal?.aborted) throw error;
    return await readHalves(reads, keys, 0);
  }
  for (const item of answer.items) found.set(item.key, item);
  for (const key of answer.missing) found.delete(key); // the master's answer, a deletion's too
}

/**
 * Reads `keys`, whose `/mget` was refused for the size of its answer (413, over 16 Mi characters
 * of JSON): in two halves, each as {@link readGroups} reads keys, and a key alone as a GET, which
 * has no such limit.
 */
async function readHalves(reads: ManyReads, keys: string[], attempts: number): Promise<void> {
  const { router, found, signal } = reads;
  if (keys.length === 1) {
    const [key] = keys;
    const item = await itemOf(router.route(key, keyPath(key), {}, { signal, read: true }), key);
    if (item) found.set(key, item);
    else found.delete(key);
    return;
  }
  // One half after the other: at once, their answers still met on the master, which refused
  // them (503, answers waiting to be read) past its budget.
  const half = Math.ceil(keys.length / 2);
  await readGroups(reads, keys.slice(0, half), attempts);
  await readGroups(reads, keys.slice(half), attempts);
}

/**
 * An `/mget` answer to `keys`, read: each key asked is an item or missing, and no other key is
 * answered; otherwise a CacheError 502, never a key taken as not stored.
 */
function mgetAnswer(body: unknown, keys: string[], what = "POST /mget"): MGetResponse {
  const answer = expected(MGetResponse, body, what);
  const asked = new Set(keys);
  const answered = new Set([...answer.items.map((item) => item.key), ...answer.missing]);
  const stray = [...answered].find((key) => !asked.has(key));
  const left = keys.find((key) => !answered.has(key));
  if (stray === undefined && left === undefined) return answer;
  const why = stray !== undefined ? `a key not asked, ${stray}` : `nothing of ${left}`;
  throw new UnreadableAnswer(`${what} answered ${why.slice(0, 80)}`);
}
