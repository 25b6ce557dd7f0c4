// The store's hash table: buckets of record refs, chained through the records' own headers.

import type { Arena } from "./arena.ts";
import { IndexHash } from "./index_hash.ts";
import { MAX_RECORD_KEY_BYTES, NEXT, type Records } from "./records.ts";

const MIN_BUCKETS = 1024;
const TWO_32 = 2 ** 32; // a probe packs a key's UTF-8 byte count above its 32-bit hash
/** Buckets of the table before a doubling moved into the new one on each write. */
const MOVES_PER_WRITE = 8;

/**
 * Bytes of index accounted for each entry: a grown table has one to two entries a 4-byte bucket.
 */
export const INDEX_BYTES_PER_ENTRY = 4;

/**
 * Finds a record by key: a power-of-two array of u32 bucket heads, each bucket a chain of records
 * linked by their {@link NEXT} word. Keys are compared against the stored bytes, never decoded.
 * Buckets are chosen by a keyed hash ({@link IndexHash}, random unless given), so no client can
 * pick keys that share one. The table doubles when it holds more than two records per bucket,
 * rehashing from the stored bytes, a few buckets at each write as Redis does, while lookups read
 * both tables: rehashing 4 M keys at once held a write (and the node) for a second.
 *
 * @example
 * ```ts
 * import { Arena } from "./arena.ts";
 * import { KeyIndex } from "./key_index.ts";
 * import { Records } from "./records.ts";
 * const arena = new Arena();
 * const records = new Records(arena);
 * const index = new KeyIndex(arena, records);
 * const ref = records.write("k", 1, "v", 1, false, (cls) => arena.alloc(cls));
 * index.add(ref);
 * index.find("k") === ref; // true
 * ```
 */
export class KeyIndex {
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #records: Records;
  readonly #blocks = new Uint32Array(MAX_RECORD_KEY_BYTES / 4 + 1); // the last probed key's words
  #probed: string | undefined; // that key
  #buckets = new Uint32Array(MIN_BUCKETS);
  #mask = MIN_BUCKETS - 1;
  // The table before the last doubling, until each of its buckets has moved into #buckets: those
  // before #moved are empty.
  #old: Uint32Array | undefined;
  #moved = 0;
  #count = 0;
  readonly #hash: IndexHash;

  constructor(arena: Arena, records: Records, hash = new IndexHash()) {
    this.#bytes = arena.bytes;
    this.#words = arena.words;
    this.#records = records;
    this.#hash = hash;
  }

  /** Records indexed. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of the bucket arrays. */
  get byteLength(): number {
    return this.#buckets.byteLength + (this.#old?.byteLength ?? 0);
  }

  /** `key`'s hash and UTF-8 length, packed: for {@link find} and {@link keyBytesOf}. */
  probe(key: string): number {
    this.#probed = key;
    return this.#hash.ofKey(key, this.#blocks);
  }

  /** The UTF-8 bytes of the key of a {@link probe}. */
  keyBytesOf(probe: number): number {
    return Math.floor(probe / TWO_32);
  }

  /** The ref of the record holding `key`, or 0; `probe` is the key's {@link probe}, if known. */
  find(key: string, probe?: number): number {
    if (probe === undefined || key !== this.#probed) probe = this.probe(key);
    const hash = probe >>> 0;
    const keyBytes = Math.floor(probe / TWO_32);
    const found = this.#findIn(this.#buckets[hash & this.#mask], key, keyBytes);
    const old = this.#old;
    if (found !== 0 || old === undefined) return found;
    return this.#findIn(old[hash & (old.length - 1)], key, keyBytes);
  }

  /** The ref of the record holding `key` in the chain from `ref`, or 0. */
  #findIn(ref: number, key: string, keyBytes: number): number {
    const words = this.#words;
    const records = this.#records;
    if (keyBytes === key.length) { // ASCII: #blocks holds its bytes
      while (ref !== 0 && !records.keyMatches(ref, this.#blocks, keyBytes)) {
        ref = words[ref * 2 + NEXT];
      }
    } else {
      while (ref !== 0 && !records.keyEquals(ref, key, keyBytes)) ref = words[ref * 2 + NEXT];
    }
    return ref;
  }

  /**
   * Indexes the record at `ref`, whose key no indexed record holds; `probe` is its key's, if
   * known, saving a hash of the stored bytes.
   */
  add(ref: number, probe?: number): void {
    const hash = probe === undefined ? this.#hashOf(ref) : probe >>> 0;
    const bucket = hash & this.#mask;
    this.#words[ref * 2 + NEXT] = this.#buckets[bucket];
    this.#buckets[bucket] = ref;
    if (this.#old !== undefined) this.#move(MOVES_PER_WRITE);
    if (++this.#count > 2 * this.#buckets.length) this.#grow();
  }

  /** Takes the record at `ref`, which must be indexed, out of the index. */
  remove(ref: number): void {
    const hash = this.#hashOf(ref);
    const old = this.#old;
    if (!this.#unlink(ref, this.#buckets, hash & this.#mask)) {
      this.#unlink(ref, old!, hash & (old!.length - 1));
    }
    this.#count--;
    if (old !== undefined) this.#move(MOVES_PER_WRITE);
  }

  /** Takes `ref` out of the chain of `bucket` in `buckets`; whether it was there. */
  #unlink(ref: number, buckets: Uint32Array, bucket: number): boolean {
    const words = this.#words;
    let at = buckets[bucket];
    if (at === ref) {
      buckets[bucket] = words[ref * 2 + NEXT];
      return true;
    }
    while (at !== 0 && words[at * 2 + NEXT] !== ref) at = words[at * 2 + NEXT];
    if (at === 0) return false;
    words[at * 2 + NEXT] = words[ref * 2 + NEXT];
    return true;
  }

  /**
   * Whether `ref` is the ref of an indexed record: safe for any ref into the arena, even one into
   * a freed chunk or the middle of one, since only indexed refs are ever compared with it.
   */
  holds(ref: number): boolean {
    const end = this.#records.keyStart(ref) + this.#records.keyBytes(ref);
    if (ref === 0 || end > this.#bytes.length) return false;
    const hash = this.#hashOf(ref);
    const old = this.#old;
    return this.#chainHolds(this.#buckets[hash & this.#mask], ref) ||
      (old !== undefined && this.#chainHolds(old[hash & (old.length - 1)], ref));
  }

  #chainHolds(at: number, ref: number): boolean {
    while (at !== 0 && at !== ref) at = this.#words[at * 2 + NEXT];
    return at === ref;
  }

  /** Forgets every record. */
  clear(): void {
    this.#buckets = new Uint32Array(MIN_BUCKETS);
    this.#mask = MIN_BUCKETS - 1;
    this.#old = undefined;
    this.#count = 0;
  }

  #hashOf(ref: number): number {
    const records = this.#records;
    return this.#hash.ofBytes(this.#bytes, records.keyStart(ref), records.keyBytes(ref));
  }

  #link(ref: number, buckets: Uint32Array, mask: number): void {
    const bucket = this.#hashOf(ref) & mask;
    this.#words[ref * 2 + NEXT] = buckets[bucket];
    buckets[bucket] = ref;
  }

  /** Doubles the table; its records move into the new one over the next writes. */
  #grow(): void {
    if (this.#old !== undefined) this.#move(Infinity); // not expected: writes move it faster
    this.#old = this.#buckets;
    this.#moved = 0;
    this.#buckets = new Uint32Array(2 * this.#old.length);
    this.#mask = this.#buckets.length - 1;
  }

  /** Moves the records of up to `count` buckets of the old table into the new one. */
  #move(count: number): void {
    const old = this.#old!;
    const end = Math.min(old.length, this.#moved + count);
    for (let bucket = this.#moved; bucket < end; bucket++) {
      for (let ref = old[bucket]; ref !== 0;) {
        const next = this.#words[ref * 2 + NEXT];
        this.#link(ref, this.#buckets, this.#mask);
        ref = next;
      }
      old[bucket] = 0;
    }
    this.#moved = end;
    if (end === old.length) this.#old = undefined;
  }
}
