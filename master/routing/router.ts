// Forwards requests to the nodes that own their keys, mapping peer failures to 502/503/504.

import type { NodeClocks } from "@cache/protocol/node_clocks";
import type { KeyValue, ScanPage } from "@cache/protocol/wire";
import { type ScanRequest, Scans } from "./scans.ts";
import type { FoundBatch } from "./node_answers.ts";
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
  readonly #transport: Transport;
  readonly #reads: Reads;
  readonly #writes: Writes;
  readonly #scans: Scans;

  constructor(options: RouterOptions) {
    const { placement, catchUp } = options;
    this.#transport = new Transport(options);
    this.#reads = new Reads({ placement, transport: this.#transport, catchUp: options.catchUp });
    this.#writes = new Writes({ placement, transport: this.#transport, catchUp });
    this.#scans = new Scans({ placement, transport: this.#transport, catchUp });
  }

  /** Drops what is kept for `node`, a node the registry forgot (see `Transport.forget`). */
  forget(node: string): void {
    this.#transport.forget(node);
  }

  /** Each node's clock as the master knows it: a write's deadline is given in it. */
  get clocks(): NodeClocks {
    return this.#transport.clocks;
  }

  /** Reads `key` from its owners, failing over from one that cannot answer: {@link Reads.get}. */
  get(key: string, failed?: string): Promise<Response> {
    return this.#reads.get(key, failed);
  }

  /**
   * Reads `keys`, one `POST /mget` per owner, failing over as `get` does ({@link Reads.mget}):
   * each item found is its body as its node sent it.
   */
  mget(keys: string[]): Promise<FoundBatch> {
    return this.#reads.mget(keys);
  }

  /**
   * Stores `key` on its primary with `body`, a valid `KeyValue` as JSON, with a version above
   * `floor` if given, and not past `leftMs` from now if given: {@link Writes.set}.
   */
  set(key: string, body: string, floor?: number, leftMs?: number): Promise<Response> {
    return this.#writes.set(key, body, floor, leftMs);
  }

  /**
   * POSTs `body` to `path` on `key`'s primary, alone: a conditional set, an increment, a touch;
   * see {@link Writes.alone}. Not applied past `leftMs` from now, if given.
   */
  alone(key: string, path: string, body: string, leftMs?: number): Promise<Response> {
    return this.#writes.alone(key, path, body, leftMs);
  }

  /** One page of a scan over every node; see {@link Scans.page}. */
  scan(query: ScanRequest): Promise<ScanPage> {
    return this.#scans.page(query);
  }

  /** Empties every node; see {@link Scans.flush}. */
  flush(): Promise<void> {
    return this.#scans.flush();
  }

  /**
   * Deletes `key` on its primary, not past `leftMs` from now if given; see {@link Writes.delete}.
   */
  delete(key: string, leftMs?: number): Promise<Response> {
    return this.#writes.delete(key, leftMs);
  }

  /**
   * Stores `items` with one `POST /mset` per owner, not past `leftMs` from now if given; see
   * {@link Writes.mset}.
   */
  mset(items: KeyValue[], leftMs?: number): Promise<void> {
    return this.#writes.mset(items, leftMs);
  }

  /** GETs `path` on `node` and returns the parsed answer; see {@link Transport.read}. */
  read(node: string, path: string): Promise<unknown> {
    return this.#transport.read(node, path);
  }
}
