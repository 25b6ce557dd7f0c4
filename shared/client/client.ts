// The TypeScript client: talks to the node that owns each key, or through the master.

import { CacheError, type CallInit, expected, found, keyPath, Refused, TimedOut } from "./call.ts";
import { notApplied, outcomeOf, type SetCondition, type SetOutcome } from "./conditions.ts";
import { increment } from "./counters.ts";
import { type Counter, type Item, versioned, type VersionedItem } from "./items.ts";
import {
  type CallOptions,
  type ClientOptions,
  type IncrOptions,
  masterUrls,
  modeOf,
  type ScanPageOptions,
  type SetOptions,
  timeoutOf,
  tokenOf,
  type WriteOptions,
  writeOptions,
} from "./options.ts";
import { GatheredReads, readKey, readKeys } from "./reads.ts";
import { post, Router } from "./router.ts";
import { scanKeys, type ScanOptions, scanPath } from "./scan.ts";
import { GatheredWrites, writeItems, writeKey } from "./writes.ts";
import { StampedWrites } from "./stamped_writes.ts";
import { runtimeHttp1Client } from "@cache/http1/runtime_client";
import { type RingView, ScanPage, Ttl } from "@cache/protocol/wire";

export { CacheError, Refused, TimedOut };
export type { SetCondition, SetOutcome } from "./conditions.ts";
export type { Counter, Item, VersionedItem } from "./items.ts";
export type {
  CallOptions,
  ClientOptions,
  IncrOptions,
  ScanPageOptions,
  SetOptions,
  WriteOptions,
} from "./options.ts";
export type { ScanOptions } from "./scan.ts";

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
  // Direct writes of a key with backups: sent to all its owners at once, gathered per node.
  readonly #stamped: StampedWrites;

  private constructor(urls: string[], options: ClientOptions & { timeoutMs: number }) {
    // An option given as undefined (a setting left unset) keeps its default.
    const mode = options.mode ?? "direct";
    const router = new Router(urls, { ...options, mode });
    this.#router = router;
    this.#reads = new GatheredReads({
      callNode: (node, path, init) => router.callNode(node, path, init),
    });
    const callNode = (node: string, path: string, init: CallInit, epoch: number) =>
      router.callNode(node, path, init, undefined, epoch);
    this.#writes = new GatheredWrites({ callNode });
    this.#stamped = new StampedWrites({ callNode });
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
    const urls = masterUrls(masterUrl); // checked before a transport is made, to be closed
    const timeoutMs = timeoutOf(options.timeoutMs);
    const mode = modeOf(options.mode);
    const token = tokenOf(options.token);
    const transport = options.fetch ? undefined : options.transport ?? await runtimeHttp1Client();
    const client = new CacheClient(urls, { ...options, mode, timeoutMs, token, transport });
    try {
      if (client.#router.direct) await client.refresh();
    } catch (error) {
      client.close(); // no client to close for whoever called
      throw error;
    }
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
    return (await readKey(this.#router, this.#reads, key, options.signal))?.value;
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
    return versioned(await readKey(this.#router, this.#reads, key, options.signal));
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
    await writeKey(this.#router, this.#writes, key, value, options, this.#stamped);
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
   * few times, marked `retry: true` once a try may have applied it; the key's owners remember the
   * id for two minutes and do not apply it twice, and refuse (409, `details.applied: "unknown"`) a
   * retry they can no longer place. If every try fails, the error's `details.requestId` is the id
   * to send it again with, with `retry: true`.
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
    return await increment(this.#router, key, by, options);
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
    const path = keyPath(key, "/touch");
    // Checked here: JSON has no NaN or Infinity, and null, which they become, removes the TTL.
    const ttl = Ttl.nullable().safeParse(ttlSeconds);
    if (!ttl.success) throw new CacheError(400, ttl.error.issues[0].message);
    const body = JSON.stringify({ ttl: ttlSeconds });
    return await found(this.#router.route(key, path, post(body), { signal: options.signal }));
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
    const path = keyPath(key);
    const init = { method: "DELETE" };
    // Not sent again once it may have applied: the second would find nothing and answer false
    // for a key the first deleted. Its error says the outcome is unknown, as the master's does.
    const route = { signal: options.signal, retryable: notApplied };
    return await found(this.#router.route(key, path, init, route));
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
    return (await readKeys(this.#router, keys, options.signal)).map((item) => item?.value);
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
    return (await readKeys(this.#router, keys, options.signal)).map(versioned);
  }

  /**
   * Writes many items, one call per owning node, in parallel. An item no node takes (a bad key or
   * TTL) fails the call before any node is called. Each node takes its items all or none; if a
   * node fails, the error says so, and the other nodes' items may be stored: it fails once every
   * node's share is done with, so none is stored after a write made next.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.mset([{ key: "a", value: "1" }, { key: "b", value: "2", ttlSeconds: 10 }]);
   * ```
   */
  async mset(items: Item[], options: CallOptions = {}): Promise<void> {
    await writeItems(this.#router, items, options.signal);
  }

  /**
   * Every key of the cluster, or those that start with `prefix`, a page of `count` keys at a time
   * (`GET /keys` through the master, which merges the nodes' pages). Like Redis SCAN: a key stored
   * for the whole scan comes once, even while nodes join or leave; a key written or deleted during
   * it may or may not. A page that fails on its way (a node crashed: 502, then 503 until the master
   * marks it down) is read again, with about 7 s of waits in all, before the scan throws. Stop
   * whenever you like: no more pages are read.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * for await (const key of cache.scan({ prefix: "session:" })) await cache.delete(key);
   * ```
   */
  scan(options: ScanOptions = {}): AsyncGenerator<string, void, undefined> {
    return scanKeys((cursor) => this.scanPage({ ...options, cursor }), options);
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
    return expected(ScanPage, await this.#router.viaMaster(path, {}, options.signal), "A scan");
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

  /**
   * Releases the pooled connections: calls under way fail, and so do later ones ("The client is
   * closed"), under Node as under Deno.
   */
  close(): void {
    this.#router.close();
  }
}
