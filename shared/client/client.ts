// The TypeScript client: talks to the node that owns each key, or through the master.

import { batches, itemBytes } from "./batches.ts";
import { CacheError, Caller, type CallInit, Refused, retries } from "./call.ts";
import { BatchRefused, GatheredReads, valueOf } from "./reads.ts";
import { GatheredWrites } from "./writes.ts";
import { groupBy } from "@cache/async/group";
import type { Http1Client } from "@cache/http1/client";
import { runtimeHttp1Client } from "@cache/http1/runtime_client";
import { keySegment } from "@cache/protocol/key_path";
import { Ring } from "@cache/ring/ring";
import {
  DEADLINE_HEADER,
  EPOCH_HEADER,
  keyBytes,
  MGetResponse,
  newerRing,
  RingView,
} from "@cache/protocol/wire";

export { CacheError } from "./call.ts";

/** How a client reaches the cluster. */
export interface ClientOptions {
  /** Bearer token sent with every request, for clusters that require one. */
  token?: string;
  /**
   * `direct` (default): each request goes to the node that owns its key, using the ring the master
   * publishes. `proxy`: every request goes through the master.
   */
  mode?: "direct" | "proxy";
  /**
   * Milliseconds before one HTTP call is abandoned; an operation that retries, falls back to the
   * master or waits behind a busy node's call may take longer (bound it with a `signal`). Default
   * 5000.
   */
  timeoutMs?: number;
  /** Stand-in for `fetch`, for tests; by default a pooled keep-alive client of this process. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /**
   * Makes the pooled keep-alive client that calls go through, when no `fetch` is given. By
   * default the runtime's faster one: over `Deno.connect` under Deno, `node:http` under Node.
   */
  transport?: () => Http1Client;
}

/** Options of one call. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** A write's options. */
export interface SetOptions extends CallOptions {
  /** Seconds the key lives; without it the node's default applies. */
  ttlSeconds?: number;
}

/** An item of {@link CacheClient.mset}. */
export interface Item {
  key: string;
  value: string;
  ttlSeconds?: number;
}

const json = { "content-type": "application/json" };

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
  readonly #masters: string[];
  #current = 0; // the master answering lately
  readonly #options: Required<Pick<ClientOptions, "mode" | "timeoutMs">> & ClientOptions;
  readonly #caller: Caller;
  #view: RingView | undefined;
  #ring = new Ring();
  #refreshing: Promise<void> | undefined;
  // Direct reads of a node already busy with one wait, and go together as one /mget.
  readonly #reads = new GatheredReads({
    callNode: (node, path, init) => this.#callNode(node, path, init),
  });
  // Direct writes to a primary already busy with one wait, and go together as one /mset.
  readonly #writes = new GatheredWrites({
    callNode: (node, path, init, epoch) => this.#callNode(node, path, init, undefined, epoch),
  });

  private constructor(masters: string | string[], options: ClientOptions) {
    const list = typeof masters === "string" ? masters.split(",") : masters;
    this.#masters = list.map((url) => url.trim().replace(/\/+$/, "")).filter(Boolean);
    if (this.#masters.length === 0) throw new TypeError("CacheClient needs a master URL");
    this.#options = { mode: "direct", timeoutMs: 5000, ...options };
    this.#caller = new Caller(this.#options);
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
    if (client.#options.mode === "direct") await client.refresh();
    return client;
  }

  /** The ring this client routes by, as the master last published it (direct mode). */
  get ring(): RingView | undefined {
    return this.#view;
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
    const view = RingView.parse(await this.#viaMaster("/ring", {}, signal));
    if (this.#view && newerRing(this.#view, view)) return; // a late answer: keep the newer ring
    this.#view = view;
    this.#ring = new Ring(view.nodes);
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
    const { signal } = options;
    const path = `/keys/${keySegment(key)}`; // a key no path can carry throws, batched or not
    let attempts = 2;
    const owner = this.#options.mode === "direct" && !signal ? this.#ring.owner(key) : undefined;
    if (owner !== undefined) {
      // Reads without a signal of their own go together per node (see #reads).
      const routedBy = this.#view?.epoch;
      try {
        const value = await this.#reads.read(owner, key);
        // An answer counts only if the ring has not changed since the read was routed (it may
        // have waited behind another call): if it has, the read is asked again by the new one. A
        // miss counts only from a settled ring: while keys move, the master looks where it was.
        const view = this.#view;
        if (view?.epoch === routedBy) {
          if (value !== undefined || view?.settled !== false) return value;
          attempts = 0;
        }
      } catch (error) {
        if (!(error instanceof BatchRefused)) {
          if (!retries(error)) throw error; // the read went alone: this is its own answer
          await this.#refreshOnce(); // the node failed: one more try by a newer ring
          attempts = 1;
        } // else: the node refused the batch as a whole; the read goes alone for its own answer
      }
    }
    return await valueOf(this.#route(key, path, {}, signal, true, attempts));
  }

  /**
   * Stores `value` under `key`, optionally for `ttlSeconds`; resolves once every owner has it. In
   * direct mode, writes made while one is out to the same primary go together in its next
   * `POST /mset`, each still settling with its own answer.
   *
   * @example
   * ```ts
   * import { CacheClient } from "./client.ts";
   * const cache = await CacheClient.connect("http://127.0.0.1:8080");
   * await cache.set("session:1", "token", { ttlSeconds: 30 });
   * ```
   */
  async set(key: string, value: string, options: SetOptions = {}): Promise<void> {
    const { signal } = options;
    const body = JSON.stringify({ key, value, ...ttl(options.ttlSeconds) });
    let attempts = 2;
    const owner = this.#options.mode === "direct" && !signal ? this.#ring.owner(key) : undefined;
    if (owner !== undefined) {
      // Writes without a signal of their own go together per primary (see #writes), each
      // answered as it would have been alone: its first attempt.
      try {
        return await this.#writes.write(owner, { key, body, epoch: this.#view!.epoch });
      } catch (error) {
        if (!retries(error)) throw error;
        await this.#refreshOnce(); // a newer ring, or the node failed: one more try by a newer ring
        attempts = 1;
      }
    }
    await this.#route(key, "/keys", post(body), signal, false, attempts);
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
      await this.#route(key, path, { method: "DELETE" }, options.signal);
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
    const found = new Map<string, string>();
    const calls = [...this.#groups(keys, (k) => k)].flatMap(([owner, group]) =>
      batches(group, keyBytes).map((batch) => [owner, batch] as const)
    );
    await Promise.all(calls.map(async ([owner, group]) => {
      const body = JSON.stringify({ keys: group });
      const answer = MGetResponse.parse(
        await this.#batch(owner, group[0], "/mget", body, options.signal),
      );
      for (const item of answer.items) found.set(item.key, item.value);
      // Misses while keys are still moving are asked again through the master, which looks
      // where they were.
      if (owner !== undefined && answer.missing.length > 0 && this.#view?.settled === false) {
        const retry = JSON.stringify({ keys: answer.missing });
        const again = MGetResponse.parse(
          await this.#viaMaster("/mget", post(retry), options.signal),
        );
        for (const item of again.items) found.set(item.key, item.value);
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
    const calls = [...this.#groups(items, (i) => i.key)].flatMap(([owner, group]) =>
      batches(group, itemBytes).map((batch) => {
        const body = JSON.stringify({
          items: batch.map((i) => ({ key: i.key, value: i.value, ...ttl(i.ttlSeconds) })),
        });
        return this.#batch(owner, batch[0].key, "/mset", body, options.signal);
      })
    );
    await Promise.all(calls);
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#caller.close();
  }

  /** {@link refresh}, shared by the calls that failed together: one ring fetch, not one each. */
  #refreshOnce(): Promise<void> {
    this.#refreshing ??= this.refresh().catch(() => {}).finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  /** Items grouped by the node that owns their key; one group for the master in proxy mode. */
  #groups<T>(items: T[], keyOf: (item: T) => string): Map<string | undefined, T[]> {
    const direct = this.#options.mode === "direct";
    return groupBy(items, (item) => direct ? this.#ring.owner(keyOf(item)) : undefined);
  }

  /** Sends a batch to `owner` (or the master), with the same retries as a single key. */
  async #batch(
    owner: string | undefined,
    key: string,
    path: string,
    body: string,
    signal?: AbortSignal,
  ) {
    if (owner === undefined) return await this.#viaMaster(path, post(body), signal);
    return await this.#route(key, path, post(body), signal);
  }

  /**
   * Sends a request for `key`: to its primary in direct mode, `attempts` times (a ring refresh
   * after each redirect or connection failure), then through the master; in proxy mode, to the
   * master.
   */
  async #route(
    key: string,
    path: string,
    init: CallInit,
    signal?: AbortSignal,
    read = false,
    attempts = 2,
  ) {
    if (this.#options.mode === "proxy") return await this.#viaMaster(path, init, signal);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const owner = this.#ring.owner(key);
      if (owner === undefined) break;
      try {
        return await this.#callNode(owner, path, init, signal);
      } catch (error) {
        if (!(error instanceof CacheError) || signal?.aborted) throw error;
        const retry = retries(error);
        // A miss while keys are moving may be a key on its way: the master looks where it was.
        const moving = read && error.status === 404 && this.#view?.settled === false;
        if (moving) break;
        if (!retry) throw error;
        // Calls failing together share one ring read; one with its own signal reads under it.
        await (signal ? this.refresh(signal).catch(() => {}) : this.#refreshOnce());
      }
    }
    return await this.#viaMaster(path, init, signal);
  }

  /**
   * A call through a master: the one that answered last, then each other in turn while they
   * refuse connections (nothing was sent, so any call may go to the next).
   */
  async #viaMaster(path: string, init: CallInit, signal?: AbortSignal): Promise<unknown> {
    for (let tried = 1;; tried++) {
      try {
        return await this.#caller.call(this.#masters[this.#current], path, init, signal);
      } catch (error) {
        if (!(error instanceof Refused) || tried >= this.#masters.length) throw error;
        this.#current = (this.#current + 1) % this.#masters.length;
      }
    }
  }

  /**
   * A call to a node, stamped with the epoch of the ring it was routed by (by default the client's,
   * as it is sent): a StaleRing (421) when the node knows a newer one. A write also carries the
   * moment this client stops waiting for it, after which the node does not apply it.
   */
  async #callNode(
    node: string,
    path: string,
    init: CallInit,
    signal?: AbortSignal,
    epoch = this.#view!.epoch,
  ) {
    const headers: Record<string, string> = { ...init.headers, [EPOCH_HEADER]: String(epoch) };
    if (init.method && init.method !== "GET") {
      headers[DEADLINE_HEADER] = String(Date.now() + this.#options.timeoutMs);
    }
    return await this.#caller.call(node, path, { ...init, headers }, signal, epoch);
  }
}

function post(body: string): CallInit {
  return { method: "POST", headers: json, body };
}

function ttl(seconds: number | undefined): { ttl?: number } {
  return seconds === undefined ? {} : { ttl: seconds };
}
