// The ring that master, nodes and clients all place keys with: a key falls into one of SLOTS
// slots, and each slot belongs to the nodes that score highest for it (rendezvous hashing).

import { hash32, mix32 } from "./hash.ts";
import { salt, SLOTS } from "./rendezvous.ts";

const SLOT_MASK = SLOTS - 1;

/**
 * The slot `key` falls into with the default hash: scans go through the key space slot by slot.
 *
 * @example
 * ```ts
 * import { slotOf } from "./ring.ts";
 * slotOf("user:42"); // the same slot in every process, 0 to SLOTS - 1
 * ```
 */
export function slotOf(key: string): number {
  return hash32(key) & SLOT_MASK;
}

/** Most nodes a ring holds: its slot tables keep a node's index + 1 in at most 16 bits. */
export const MAX_NODES = 0xffff;

/** Slots {@link Ring.scoreAll} scores between two looks at its pauses: about 1 ms at 200 nodes. */
export const SCORE_STEP = 1024;

/** Where a long loop may let other work in: `Slices` (`@cache/async/slices`) is one. */
export interface Pauses {
  /** Whether the slice has lasted its time. */
  over(): boolean;
  /** Resolves once other work has had its turn. */
  next(): Promise<void>;
}

/** How a ring hashes keys and node addresses. */
export interface RingOptions {
  /** Hash of a key or node address to a 32-bit unsigned integer. Default {@link hash32}. */
  hash?: (text: string) => number;
}

/**
 * An immutable placement of keys on node addresses.
 *
 * A key falls into slot `hash(key) & (SLOTS - 1)`; every node scores every slot (`score()` in
 * rendezvous.ts), and a slot's owners are the nodes in descending order of score, ties to the
 * smaller address. Placement depends only on the set of addresses, so every process that knows the
 * same nodes places every key the same way. A node that joins takes only the slots it scores
 * highest for, each node's share alike, and leaves the order of the others as it was; a node that
 * leaves hands each of its slots to the next node in that slot's order.
 *
 * A slot is scored the first time a key falls into it (one score per node) and its order kept,
 * so a lookup costs a hash and a table read.
 *
 * @example
 * ```ts
 * import { Ring } from "./ring.ts";
 * const ring = new Ring(["http://a:8081", "http://b:8081", "http://c:8081"]);
 * ring.owner("user:42"); // one of the three addresses, the same in every process
 * ring.owners("user:42", 2); // that address, then its first backup
 * ```
 */
export class Ring {
  readonly #hash: (text: string) => number;
  readonly #nodes: readonly string[]; // sorted, distinct
  readonly #seeds: Uint32Array; // hash of each node's address
  #depth: number; // nodes kept per slot: 2 (or the node count), more once owners() asks for more
  // Index + 1 of each slot's owner, 0 until the slot is scored: one byte up to 255 nodes, so that
  // at 2^20 slots the table owner() reads fits a core's cache.
  #first: Uint8Array | Uint16Array;
  #rest: Uint8Array | Uint16Array; // per slot, depth - 1 entries: index + 1 of the next nodes
  #order: Int32Array; // scratch: the indices being placed, by score descending
  #scores: Float64Array; // scratch: their scores
  #shares: ReadonlyMap<string, number> | undefined; // once counted

  constructor(nodes: Iterable<string> = [], options: RingOptions = {}) {
    const hash = options.hash ?? hash32;
    this.#hash = hash;
    this.#nodes = [...new Set(nodes)].sort();
    if (this.#nodes.length > MAX_NODES) {
      throw new RangeError(
        `Cannot build ring: ${this.#nodes.length} nodes are more than ${MAX_NODES}`,
      );
    }
    this.#seeds = Uint32Array.from(this.#nodes, (node) => hash(node) >>> 0);
    this.#depth = 0;
    this.#first = this.#rest = new Uint8Array(0);
    this.#order = new Int32Array(0);
    this.#scores = new Float64Array(0);
    this.#deepen(Math.min(2, this.#nodes.length));
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
    return new Ring([...this.#nodes, address], { hash: this.#hash });
  }

  /** Returns a ring with `address` removed, or this ring when it is not there. */
  without(address: string): Ring {
    if (!this.#nodes.includes(address)) return this;
    const rest = this.#nodes.filter((node) => node !== address);
    return new Ring(rest, { hash: this.#hash });
  }

  /** The node that owns `key`, or `undefined` when the ring is empty. */
  owner(key: string): string | undefined {
    if (this.#nodes.length === 0) return undefined;
    const slot = this.#hash(key) & SLOT_MASK;
    return this.#nodes[(this.#first[slot] || this.#place(slot)) - 1];
  }

  /**
   * The first `n` nodes in `key`'s order: its owner, then the nodes that would own it if the ones
   * before were gone. Fewer than `n` when the ring has fewer nodes.
   */
  owners(key: string, n: number): string[] {
    const count = Math.min(Math.floor(n), this.#nodes.length);
    if (!(count > 0)) return [];
    if (count > this.#depth) this.#deepen(count);
    const slot = this.#hash(key) & SLOT_MASK;
    const found = new Array<string>(count);
    found[0] = this.#nodes[(this.#first[slot] || this.#place(slot)) - 1];
    const rest = this.#rest;
    const at = slot * (this.#depth - 1) - 1;
    for (let i = 1; i < count; i++) found[i] = this.#nodes[rest[at + i] - 1];
    return found;
  }

  /**
   * The slots `node` owns, as one byte per slot indexed by {@link slotOf}: 1 where it owns the
   * slot, 0 elsewhere. With the keys a node holds counted per slot, those it is the primary of are
   * the counts where it owns. Scores each slot not yet scored (see {@link scoreAll} to spread it).
   */
  ownedSlots(node: string): Uint8Array {
    const owned = new Uint8Array(SLOTS);
    const index = this.#nodes.indexOf(node) + 1;
    if (index === 0) return owned;
    const first = this.#first;
    for (let slot = 0; slot < SLOTS; slot++) {
      if ((first[slot] || this.#place(slot)) === index) owned[slot] = 1;
    }
    return owned;
  }

  /**
   * Scores every slot not yet scored, {@link SCORE_STEP} slots between two looks at `pauses`,
   * pausing whenever it says a slice is over, so that {@link ownedSlots} and {@link shares} find
   * them scored: the whole ring (2^20 slots times the nodes) held a process 837 ms at 200 nodes in
   * one go. A lookup of more owners than the ring kept starts its scoring over, so passes go on
   * until one finds every slot scored. Resolves false, stopping, once `wanted()` is false after a
   * pause.
   */
  async scoreAll(pauses: Pauses, wanted: () => boolean = () => true): Promise<boolean> {
    for (let placed = -1; placed !== 0;) {
      placed = 0;
      for (let from = 0; from < SLOTS && this.#nodes.length > 0; from += SCORE_STEP) {
        if (pauses.over()) {
          await pauses.next();
          if (!wanted()) return false;
        }
        const first = this.#first; // a deeper lookup may have made a new table meanwhile
        for (let slot = from; slot < from + SCORE_STEP; slot++) {
          if (first[slot] === 0) {
            this.#place(slot);
            placed++;
          }
        }
      }
    }
    return true;
  }

  /**
   * Each node's share of the slots, as fractions summing to 1: its expected share of primaries,
   * since keys spread over the slots evenly. Scores every slot not yet scored, one score per node
   * and slot: 335 ms once at 50 nodes here (see {@link scoreAll} to spread it);
   * counted once per ring, so a dashboard polling them costs nothing more.
   */
  shares(): ReadonlyMap<string, number> {
    if (this.#shares !== undefined) return this.#shares;
    const counts = new Float64Array(this.#nodes.length);
    const first = this.#first;
    for (let slot = 0; slot < first.length; slot++) {
      counts[(first[slot] || this.#place(slot)) - 1]++;
    }
    this.#shares = new Map(this.#nodes.map((node, i) => [node, counts[i] / SLOTS]));
    return this.#shares;
  }

  /** Scores every node for `slot` and keeps the first `depth`; returns the owner's index + 1. */
  #place(slot: number): number {
    const seeds = this.#seeds;
    const depth = this.#depth;
    const order = this.#order;
    const scores = this.#scores;
    const s = salt(slot);
    let kept = 0;
    for (let n = 0; n < seeds.length; n++) {
      const value = mix32(s ^ seeds[n]);
      // Strictly greater only: of equal scores (equal seeds) the smaller address ranks first.
      if (kept === depth && value <= scores[depth - 1]) continue;
      let i = kept < depth ? kept++ : depth - 1;
      while (i > 0 && scores[i - 1] < value) {
        scores[i] = scores[i - 1];
        order[i] = order[i - 1];
        i--;
      }
      scores[i] = value;
      order[i] = n;
    }
    const at = slot * (depth - 1) - 1;
    for (let i = 1; i < depth; i++) this.#rest[at + i] = order[i] + 1;
    return (this.#first[slot] = order[0] + 1);
  }

  /** Keeps `depth` nodes per slot from now on; slots are scored again as keys fall into them. */
  #deepen(depth: number): void {
    const Table = this.#nodes.length <= 0xff ? Uint8Array : Uint16Array;
    this.#depth = depth;
    this.#first = new Table(depth > 0 ? SLOTS : 0);
    this.#rest = new Table(SLOTS * Math.max(0, depth - 1));
    this.#order = new Int32Array(depth);
    this.#scores = new Float64Array(depth);
  }
}
