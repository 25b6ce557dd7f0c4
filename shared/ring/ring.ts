// The consistent-hash ring with virtual nodes that master and nodes both use to place keys.

import { hash32 } from "./hash.ts";

/** How a ring is built: its points per node and the hash that places keys and points. */
export interface RingOptions {
  /** Points each node has on the ring; more points spread keys more evenly. Default 160. */
  vnodes?: number;
  /** Hash of a key or point label to a 32-bit unsigned integer. Default {@link hash32}. */
  hash?: (text: string) => number;
}

/** Points per node when none is given. */
export const DEFAULT_VNODES = 160;

/**
 * An immutable consistent-hash ring over node addresses.
 *
 * Point `i` of node `address` sits at `hash(address + "#" + i)`; a key belongs to the first point
 * at or after `hash(key)`, wrapping around. Placement depends only on the set of addresses, so every
 * process that builds a ring from the same addresses places every key the same way.
 *
 * @example
 * ```ts
 * import { Ring } from "./ring.ts";
 * const ring = new Ring(["http://a:8081", "http://b:8081", "http://c:8081"]);
 * ring.owner("user:42"); // one of the three addresses, the same in every process
 * ring.owners("user:42", 2); // that address, then the next distinct one clockwise
 * ```
 */
export class Ring {
  /** Points per node. */
  readonly vnodes: number;
  readonly #hash: (text: string) => number;
  readonly #nodes: readonly string[]; // sorted, distinct
  readonly #points: Uint32Array; // sorted ascending
  readonly #pointNode: Uint32Array; // index into #nodes of each point's owner

  constructor(nodes: Iterable<string> = [], options: RingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    if (!Number.isInteger(vnodes) || vnodes < 1) {
      throw new RangeError(`Cannot build ring: vnodes must be a positive integer, got ${vnodes}`);
    }
    this.vnodes = vnodes;
    this.#hash = options.hash ?? hash32;
    this.#nodes = [...new Set(nodes)].sort();

    const count = this.#nodes.length * vnodes;
    const hashes = new Uint32Array(count);
    const owners = new Uint32Array(count);
    for (let n = 0; n < this.#nodes.length; n++) {
      for (let i = 0; i < vnodes; i++) {
        hashes[n * vnodes + i] = this.#hash(`${this.#nodes[n]}#${i}`) >>> 0;
        owners[n * vnodes + i] = n;
      }
    }
    // Ties between equal hashes go to the smaller address, so the order never depends on input.
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => hashes[a] - hashes[b] || owners[a] - owners[b]);
    this.#points = Uint32Array.from(order, (i) => hashes[i]);
    this.#pointNode = Uint32Array.from(order, (i) => owners[i]);
  }

  /** The node addresses on the ring, sorted. */
  get nodes(): readonly string[] {
    return this.#nodes;
  }

  /** Number of nodes on the ring. */
  get size(): number {
    return this.#nodes.length;
  }

  /** Returns a ring with `address` added, or this ring when it is already there. */
  with(address: string): Ring {
    if (this.#nodes.includes(address)) return this;
    return new Ring([...this.#nodes, address], { vnodes: this.vnodes, hash: this.#hash });
  }

  /** Returns a ring with `address` removed, or this ring when it is not there. */
  without(address: string): Ring {
    if (!this.#nodes.includes(address)) return this;
    const rest = this.#nodes.filter((node) => node !== address);
    return new Ring(rest, { vnodes: this.vnodes, hash: this.#hash });
  }

  /** The node that owns `key`, or `undefined` when the ring is empty. */
  owner(key: string): string | undefined {
    if (this.#points.length === 0) return undefined;
    return this.#nodes[this.#pointNode[this.#firstPointAtOrAfter(this.#hash(key) >>> 0)]];
  }

  /**
   * The first `n` distinct nodes clockwise from `key`: its owner first, then the nodes that would
   * own it if the ones before were gone. Fewer than `n` when the ring has fewer nodes.
   */
  owners(key: string, n: number): string[] {
    const wanted = Math.min(n, this.#nodes.length);
    const found: string[] = [];
    if (wanted <= 0) return found;
    const start = this.#firstPointAtOrAfter(this.#hash(key) >>> 0);
    for (let step = 0; step < this.#points.length && found.length < wanted; step++) {
      const node = this.#nodes[this.#pointNode[(start + step) % this.#points.length]];
      if (!found.includes(node)) found.push(node); // a few owners: a scan beats a Set
    }
    return found;
  }

  /**
   * Each node's share of the hash space: the arcs that end at its points, as fractions summing
   * to 1. Keys spread over the space evenly, so this is each node's expected share of primaries.
   */
  shares(): Map<string, number> {
    const shares = new Map<string, number>(this.#nodes.map((node) => [node, 0]));
    const points = this.#points;
    for (let i = 0; i < points.length; i++) {
      // A point owns the arc after the point before it, wrapping around 2^32.
      const arc = i === 0
        ? points[0] + 2 ** 32 - points[points.length - 1]
        : points[i] - points[i - 1];
      const node = this.#nodes[this.#pointNode[i]];
      shares.set(node, shares.get(node)! + arc / 2 ** 32);
    }
    return shares;
  }

  /** Index of the first point whose hash is >= `h`, wrapping to 0 past the last point. */
  #firstPointAtOrAfter(h: number): number {
    const points = this.#points;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid] < h) low = mid + 1;
      else high = mid;
    }
    return low === points.length ? 0 : low;
  }
}
