// Forwards requests to the nodes that own their keys, mapping peer failures to 502/503/504.

import type { PeerInit } from "@cache/http1/peer";
import type { KeyValue, MGetResponse } from "@cache/protocol/wire";
import { byOwner, ownerOf } from "./placement.ts";
import { Reads } from "./reads.ts";
import { Transport, type TransportOptions } from "./transport.ts";
import { Writes, type WritesOptions } from "./writes.ts";

/** Where the router finds owners, how it calls them, and how it catches up with a newer ring. */
export interface RouterOptions extends TransportOptions, Pick<WritesOptions, "catchUp"> {}

/**
 * Sends requests to nodes: to a key's owners on the ring, or to a given node. Reads fail over
 * across owners ({@link Reads}), writes go to the primary ({@link Writes}), and every call is one
 * {@link Transport} call, counted per node.
 */
export class Router {
  readonly #options: RouterOptions;
  readonly #transport: Transport;
  readonly #reads: Reads;
  readonly #writes: Writes;

  constructor(options: RouterOptions) {
    this.#options = options;
    const { placement, catchUp } = options;
    this.#transport = new Transport(options);
    this.#reads = new Reads({ placement, transport: this.#transport });
    this.#writes = new Writes({ placement, transport: this.#transport, catchUp });
  }

  /** Whether keys may still be moving to the owners of the current ring. */
  get moving(): boolean {
    return this.#options.placement.unsettledRings.length > 0;
  }

  /** The owner of `key`; throws HttpError 503 when no node is up. */
  owner(key: string): string {
    return ownerOf(this.#options.placement, key);
  }

  /** Groups `items` by the owner of their key, keeping their order within each group. */
  group<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
    return byOwner(this.#options.placement, items, keyOf);
  }

  /** Reads `key` from its owners, failing over from one that cannot answer: {@link Reads.get}. */
  get(key: string, failed?: string): Promise<Response> {
    return this.#reads.get(key, failed);
  }

  /** Reads `keys`, one `POST /mget` per owner, failing over as `get` does: {@link Reads.mget}. */
  mget(keys: string[]): Promise<MGetResponse> {
    return this.#reads.mget(keys);
  }

  /** Stores `key` on its primary with `body`, a valid `KeyValue` as JSON: {@link Writes.set}. */
  set(key: string, body: string): Promise<Response> {
    return this.#writes.set(key, body);
  }

  /** Deletes `key` on its primary; see {@link Writes.delete}. */
  delete(key: string): Promise<Response> {
    return this.#writes.delete(key);
  }

  /** Stores `items` with one `POST /mset` per owner; see {@link Writes.mset}. */
  mset(items: KeyValue[]): Promise<void> {
    return this.#writes.mset(items);
  }

  /** Sends `init` to `path` on `node`; its answer, whatever its status: {@link Transport.send}. */
  send(node: string, path: string, init?: PeerInit): Promise<Response> {
    return this.#transport.send(node, path, init);
  }

  /** POSTs JSON `body` to `path` on `node`; the parsed answer: {@link Transport.call}. */
  call(node: string, path: string, body: unknown): Promise<unknown> {
    return this.#transport.call(node, path, body);
  }

  /** GETs `path` on `node` and returns the parsed answer; see {@link Transport.read}. */
  read(node: string, path: string): Promise<unknown> {
    return this.#transport.read(node, path);
  }
}
