// The TypeScript client: talks to the node that owns each key, or through the master.

import { batches, itemBytes } from "./batches.ts";
import { CacheError, retries } from "./call.ts";
import {
  conditionFields,
  notApplied,
  outcomeOf,
  type SetCondition,
  type SetOutcome,
} from "./conditions.ts";
import { incrementOnce } from "./counters.ts";
import type {
  CallOptions,
  ClientOptions,
  IncrOptions,
  ScanPageOptions,
  SetOptions,
  WriteOptions,
} from "./options.ts";
import { BatchRefused, GatheredReads, itemOf } from "./reads.ts";
import { post, Router } from "./router.ts";
import { scanKeys, type ScanOptions, scanPath } from "./scan.ts";
import { GatheredWrites } from "./writes.ts";
import { runtimeHttp1Client } from "@cache/http1/runtime_client";
import { keySegment } from "@cache/protocol/key_path";
import {
  keyBytes,
  MGetResponse,
  type RingView,
  ScanPage,
  type StoredItem,
} from "@cache/protocol/wire";

export { CacheError } from "./call.ts";
export type { SetCondition, SetOutcome } from "./conditions.ts";
export type {
  CallOptions,
  ClientOptions,
  IncrOptions,
  ScanPageOptions,
  SetOptions,
  WriteOptions,
} from "./options.ts";
export type { ScanOptions } from "./scan.ts";

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
 * A client of the cache cluster. In `direct` mode it reads the ring from the master and sends each
 * request to the key's primary over pooled keep-alive connections, one hop instead of two; on a
 * redirect (421), or when a node cannot be reached, it refreshes the ring and retries once, then
 * falls back to the master (e.g. when nodes cannot be reached from outside Kubernetes).
 *
 * @example
 * ```ts
 * import { CacheClient } from "./client.ts";
 * const cache = await CacheClient.connect("http://127.0.0.1:8080");
 * await cache.set("user:42", "Ada", { ttlSeconds: 60 });
 * await cache.get("user:42"); // "Ada"
 * cache.close();
 * ```
 */
export class CacheClient {
  readonly #router: Router;
  // Direct reads of a node already busy with one wait, and go together as one /mget.
  readonly #reads: GatheredReads;
  // Direct writes to a primary already busy with one wait, and go together as one /mset.
  readonly #writes: GatheredWrites;

  private constructor(masters: string | string[], options: ClientOptions) {
    const list = typeof masters === "string" ? masters.split(",") : masters;
    const urls = list.map((url) => url.trim().replace(/\/+$/, "")).filter(Boolean);
    const router = new Router(urls, { mode: "direct", timeoutMs: 5000, ...options });
    this.#router = router;
    this.#reads = new GatheredReads({
      callNode: (node, path, init) => router.callNode(node, path, init),
    });
    this.#writes = new GatheredWrites({
      callNode: (node, path, init, epoch) => router.callNode(node, path, init, undefined, epoch),
    });
  }

  /**
   * Connects to the cluster whose master is at `masterUrl`, or whose masters are at several URLs
   * (an array, or one string with commas); in `direct` mode, reads its ring. A master that refuses
   * connections is passed over for the next one (see docs/ha.md).
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const proxied = await CacheClient.connect("http://127.0.0.1:8080", { mode: "proxy" });
   * ```
   */
  static async connect(
    masterUrl: string | string[],
    options: ClientOptions = {},
  ): Promise<CacheClient> {
    const transport = options.fetch ? undefined : options.transport ?? await runtimeHttp1Client();
    const client = new CacheClient(masterUrl, { ...options, transport });
    if (client.#router.direct) await client.refresh();
    return client;
  }

  /** The ring this client routes by, as the master last published it (direct mode). */
  get ring(): RingView | undefined {
    return this.#router.view;
  }

  /**
   * Reads the master's ring again. Direct mode does this by itself on redirects and errors.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.refresh();
   * ```
   */
  async refresh(signal?: AbortSignal): Promise<void> {
    await this.#router.refresh(signal);
  }

  /**
   * The value of `key`, or `undefined` when it is not stored.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * const name = await cache.get("user:42"); // string | undefined
   * ```
   */
  async get(key: string, options: CallOptions = {}): Promise<string | undefined> {
    return (await this.#read(key, options.signal))?.value;
  }

  /**
   * `key` as stored: its value, its version and the seconds it has left, or `undefined` when it is
   * not stored. Pass the version to {@link cas} to write the key only if no one wrote it since.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * const item = await cache.getItem("user:42");
   * // { key: "user:42", value: "Ada", version: "7.1733160000000123", ttlSeconds: 59.2 }
   * ```
   */
  async getItem(key: string, options: CallOptions = {}): Promise<VersionedItem | undefined> {
    return versioned(await this.#read(key, options.signal));
  }

  /** Reads `key` as {@link get} does: gathered per node in direct mode, unless it has a signal. */
  async #read(key: string, signal?: AbortSignal): Promise<StoredItem | undefined> {
    const path = `/keys/${keySegment(key)}`; // a key no path can carry throws, batched or not
    let attempts = 2;
    const owner = signal ? undefined : this.#router.owner(key);
    if (owner !== undefined) {
      // Reads without a signal of their own go together per node (see #reads).
      const routedBy = this.#router.view?.epoch;
      try {
        const item = await this.#reads.read(owner, key);
        // An answer counts only if the ring has not changed since the read was routed (it may
        // have waited behind another call): if it has, the read is asked again by the new one. A
        // miss counts only from a settled ring: while keys move, the master looks where it was.
        const view = this.#router.view;
        if (view?.epoch === routedBy) {
          if (item !== undefined || view?.settled !== false) return item;
          attempts = 0;
        }
      } catch (error) {
        if (!(error instanceof BatchRefused)) {
          if (!retries(error)) throw error; // the read went alone: this is its own answer
          await this.#router.refreshOnce(); // the node failed: one more try by a newer ring
          attempts = 1;
        } // else: the node refused the batch as a whole; the read goes alone for its own answer
      }
    }
    return await itemOf(this.#router.route(key, path, {}, { signal, read: true, attempts }));
  }

  /**
   * Stores `value` under `key`, optionally for `ttlSeconds`; resolves once every owner has it. In
   * direct mode, writes made while one is out to the same primary go together in its next
   * `POST /mset`, each still settling with its own answer.
   *
   * With a condition (`if`, `ifVersion`: see {@link SetCondition}) the write goes alone, and when
   * the condition does not hold nothing changes and it rejects with a {@link CacheError} of status
   * 412 whose `details.version` is the key's current version (null: not stored); {@link add},
   * {@link replace} and {@link cas} answer that outcome instead of throwing. A conditional write is
   * sent again only when it surely was not applied (a 421, a 503, or nothing listening), so a
   * failure with no answer (status 0, 502, 504) leaves it unknown whether it was: read the key.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.set("session:1", "token", { ttlSeconds: 30 });
   * await cache.set("config", "v2", { if: "present" }); // a CacheError with status 412 if absent
   * ```
   */
  async set(key: string, value: string, options: SetOptions = {}): Promise<void> {
    const { signal } = options;
    const condition = conditionFields(options);
    const body = JSON.stringify({ key, value, ...ttl(options.ttlSeconds), ...condition });
    if (condition.if !== undefined || condition.ifVersion !== undefined) {
      // Never gathered: /mset carries no conditions.
      await this.#router.route(key, "/keys", post(body), { signal, retryable: notApplied });
      return;
    }
    let attempts = 2;
    const owner = signal ? undefined : this.#router.owner(key);
    if (owner !== undefined) {
      // Writes without a signal of their own go together per primary (see #writes), each
      // answered as it would have been alone: its first attempt.
      try {
        return await this.#writes.write(owner, { key, body, epoch: this.#router.view!.epoch });
      } catch (error) {
        if (!retries(error)) throw error;
        await this.#router.refreshOnce(); // a newer ring, or the node failed: one more try
        attempts = 1;
      }
    }
    await this.#router.route(key, "/keys", post(body), { signal, attempts });
  }

  /**
   * Stores `value` under `key` only if it is not stored (memcached's add, Redis' SET NX); resolves
   * whether it did. Two clients adding the same key at once: one gets true.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * if (await cache.add("lock:report", "worker-1", { ttlSeconds: 30 })) {
   *   // this worker holds the lock for 30 s
   * }
   * ```
   */
  async add(key: string, value: string, options: WriteOptions = {}): Promise<boolean> {
    const set = this.set(key, value, { ...writeOptions(options), if: "absent" });
    return (await outcomeOf(set)).ok;
  }

  /**
   * Stores `value` under `key` only if it is stored already (memcached's replace, Redis' SET XX);
   * resolves whether it did.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.replace("user:42", "Ada Lovelace"); // false when user:42 is not stored
   * ```
   */
  async replace(key: string, value: string, options: WriteOptions = {}): Promise<boolean> {
    const set = this.set(key, value, { ...writeOptions(options), if: "present" });
    return (await outcomeOf(set)).ok;
  }

  /**
   * Compare-and-set: stores `value` under `key` only if the key is still at `version`, as
   * {@link getItem} read it, or, for a null `version`, only if it is still not stored. Resolves
   * `{ ok: true }`, or `{ ok: false, version }` with the key's current version (null: not stored)
   * when another write came first; read the key again and retry.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * for (;;) {
   *   const item = await cache.getItem("visitors");
   *   const list = [...JSON.parse(item?.value ?? "[]"), "ada"];
   *   const done = await cache.cas("visitors", JSON.stringify(list), item?.version ?? null);
   *   if (done.ok) break;
   * }
   * ```
   */
  async cas(
    key: string,
    value: string,
    version: string | null,
    options: WriteOptions = {},
  ): Promise<SetOutcome> {
    const condition: SetCondition = version === null ? { if: "absent" } : { ifVersion: version };
    return await outcomeOf(this.set(key, value, { ...writeOptions(options), ...condition }));
  }

  /**
   * Adds `by` (default 1; negative subtracts) to the integer stored under `key`, as Redis INCRBY:
   * a key not stored starts at 0, and the value stays a decimal string that {@link get} reads.
   * Resolves to the new value and version. Rejects with a {@link CacheError} of status 409 when
   * the value is not a decimal integer or the result is past the safe integers (2^53 - 1).
   *
   * Exactly once: the increment carries a `requestId` (a new UUID unless given), and when its
   * outcome is unknown (no answer, a timeout, 502, 503, 504) it is sent again with the same id, a
   * few times; the key's owners remember the id for two minutes and do not apply it twice. If every
   * try fails, the error's `details.requestId` is the id to send it again with.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.incr("hits"); // { key: "hits", value: 1, version: "7.1733160000000123" }
   * await cache.incr("hits", 10, { ttlSeconds: 3600 }); // { key: "hits", value: 11, ... }
   * ```
   */
  async incr(key: string, by = 1, options: IncrOptions = {}): Promise<Counter> {
    const { signal } = options;
    const path = `/keys/${keySegment(key)}/incr`;
    const requestId = options.requestId ?? crypto.randomUUID();
    const body = JSON.stringify({ by, ...ttl(options.ttlSeconds), requestId });
    const counter = await incrementOnce(
      () => this.#router.route(key, path, post(body), { signal }),
      { requestId, signal },
    );
    return { key: counter.key, value: counter.value, version: counter.version };
  }

  /**
   * Subtracts `by` (default 1) from the integer stored under `key`: {@link incr} of `-by`.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.decr("stock:42", 2); // { key: "stock:42", value: 8, ... }
   * ```
   */
  async decr(key: string, by = 1, options: IncrOptions = {}): Promise<Counter> {
    return await this.incr(key, -by, options);
  }

  /**
   * Sets how long `key` lives: `ttlSeconds` from now, or, for null, forever (Redis' EXPIRE and
   * PERSIST). Resolves whether the key was stored; it gets a new version.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.touch("session:1", 300); // true, or false when session:1 is not stored
   * await cache.touch("session:1", null); // it no longer expires
   * ```
   */
  async touch(key: string, ttlSeconds: number | null, options: CallOptions = {}): Promise<boolean> {
    const path = `/keys/${keySegment(key)}/touch`;
    const body = JSON.stringify({ ttl: ttlSeconds });
    try {
      await this.#router.route(key, path, post(body), { signal: options.signal });
      return true;
    } catch (error) {
      if (error instanceof CacheError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * Deletes `key`; resolves whether it was stored.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.delete("session:1"); // true or false
   * ```
   */
  async delete(key: string, options: CallOptions = {}): Promise<boolean> {
    const path = `/keys/${keySegment(key)}`;
    try {
      await this.#router.route(key, path, { method: "DELETE" }, { signal: options.signal });
      return true;
    } catch (error) {
      if (error instanceof CacheError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * Reads many keys in one call per owning node, in parallel; the values come in the order of
   * `keys`, `undefined` for a key not stored.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * const [a, b] = await cache.mget(["a", "b"]);
   * ```
   */
  async mget(keys: string[], options: CallOptions = {}): Promise<(string | undefined)[]> {
    return (await this.#readMany(keys, options.signal)).map((item) => item?.value);
  }

  /**
   * Reads many keys as {@link mget} does, each as {@link getItem} reads it: its value, version and
   * seconds left, or `undefined` for a key not stored, in the order of `keys`.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * const [a, b] = await cache.getItems(["a", "b"]); // a?.version, b?.version
   * ```
   */
  async getItems(
    keys: string[],
    options: CallOptions = {},
  ): Promise<(VersionedItem | undefined)[]> {
    return (await this.#readMany(keys, options.signal)).map(versioned);
  }

  /** The items of `keys`, in their order: one `/mget` per owning node (per batch), in parallel. */
  async #readMany(keys: string[], signal?: AbortSignal): Promise<(StoredItem | undefined)[]> {
    const found = new Map<string, StoredItem>();
    const calls = [...this.#router.groups(keys, (k) => k)].flatMap(([owner, group]) =>
      batches(group, keyBytes).map((batch) => [owner, batch] as const)
    );
    await Promise.all(calls.map(async ([owner, group]) => {
      const body = JSON.stringify({ keys: group });
      const answer = MGetResponse.parse(
        await this.#router.batch(owner, group[0], "/mget", body, signal),
      );
      for (const item of answer.items) found.set(item.key, item);
      // Misses while keys are still moving are asked again through the master, which looks
      // where they were.
      if (
        owner !== undefined && answer.missing.length > 0 && this.#router.view?.settled === false
      ) {
        const retry = JSON.stringify({ keys: answer.missing });
        const again = MGetResponse.parse(
          await this.#router.viaMaster("/mget", post(retry), signal),
        );
        for (const item of again.items) found.set(item.key, item);
      }
    }));
    return keys.map((key) => found.get(key));
  }

  /**
   * Writes many items, one call per owning node, in parallel. Each node takes its items all or
   * none; if a node fails, the error says so, and the other nodes' items may be stored.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.mset([{ key: "a", value: "1" }, { key: "b", value: "2", ttlSeconds: 10 }]);
   * ```
   */
  async mset(items: Item[], options: CallOptions = {}): Promise<void> {
    // Each owner's items in batches no node refuses for their size, all sent at once.
    const calls = [...this.#router.groups(items, (i) => i.key)].flatMap(([owner, group]) =>
      batches(group, itemBytes).map((batch) => {
        const body = JSON.stringify({
          items: batch.map((i) => ({ key: i.key, value: i.value, ...ttl(i.ttlSeconds) })),
        });
        return this.#router.batch(owner, batch[0].key, "/mset", body, options.signal);
      })
    );
    await Promise.all(calls);
  }

  /**
   * Every key of the cluster, or those that start with `prefix`, a page of `count` keys at a time
   * (`GET /keys` through the master, which merges the nodes' pages). Like Redis SCAN: a key stored
   * for the whole scan comes once, even while nodes join or leave; a key written or deleted during
   * it may or may not. Stop whenever you like: no more pages are read.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * for await (const key of cache.scan({ prefix: "session:" })) await cache.delete(key);
   * ```
   */
  scan(options: ScanOptions = {}): AsyncGenerator<string, void, undefined> {
    return scanKeys((cursor) => this.scanPage({ ...options, cursor }));
  }

  /**
   * One page of a scan (see {@link scan}): its keys, and the `cursor` to read the next page with,
   * null once the scan is complete. A page may hold fewer keys than `count`, even none, before the
   * end.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * const first = await cache.scanPage({ count: 500 });
   * if (first.cursor !== null) await cache.scanPage({ count: 500, cursor: first.cursor });
   * ```
   */
  async scanPage(options: ScanPageOptions = {}): Promise<ScanPage> {
    const path = scanPath(options, options.cursor);
    return ScanPage.parse(await this.#router.viaMaster(path, {}, options.signal));
  }

  /**
   * Deletes every key of the cluster, through the master (Redis' FLUSHALL). A cluster with tokens
   * refuses a client token (a {@link CacheError} of status 403): it takes an admin token.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080", { token: "admin-token" });
   * await cache.flush();
   * ```
   */
  async flush(options: CallOptions = {}): Promise<void> {
    await this.#router.viaMaster("/keys", { method: "DELETE" }, options.signal);
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#router.close();
  }
}

/** A key as read, as the client hands it out: `ttl` is `ttlSeconds`. */
function versioned(item: StoredItem | undefined): VersionedItem | undefined {
  if (item === undefined) return undefined;
  const { key, value, version } = item;
  return item.ttl === undefined
    ? { key, value, version }
    : { key, value, version, ttlSeconds: item.ttl };
}

/** A write's own options, without any condition a caller's object may hold. */
function writeOptions(options: WriteOptions): WriteOptions {
  return { signal: options.signal, ttlSeconds: options.ttlSeconds };
}

function ttl(seconds: number | undefined): { ttl?: number } {
  return seconds === undefined ? {} : { ttl: seconds };
}
