// The store's hash table: buckets of record refs, chained through the records' own headers.

import type { Arena } from "./arena.ts";
import { bytesOf, hashKey, hashKeyBytes, hashOf } from "@cache/ring/hash";
import { MAX_RECORD_KEY_BYTES, NEXT, type Records } from "./records.ts";

// The store's own seed: a node holds the keys of some ring ranges, chosen by this same hash with
// the ring's seed, and buckets chosen by that hash would follow those ranges.
const SEED = 0x5bd1e995;
const MIN_BUCKETS = 1024;

/**
 * Bytes of index accounted for each entry: a grown table has one to two entries a 4-byte bucket.
 */
export const INDEX_BYTES_PER_ENTRY = 4;

/**
 * Finds a record by key: a power-of-two array of u32 bucket heads, each bucket a chain of records
 * linked by their {@link NEXT} word. Keys are compared against the stored bytes, never decoded.
 * The table doubles when it holds more than two records per bucket, rehashing from the stored
 * bytes with {@link hashKeyBytes}, equal to the string hash {@link hashKey}.
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
  #count = 0;

  constructor(arena: Arena, records: Records) {
    this.#bytes = arena.bytes;
    this.#words = arena.words;
    this.#records = records;
  }

  /** Records indexed. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of the bucket array. */
  get byteLength(): number {
    return this.#buckets.byteLength;
  }

  /** `key`'s hash and UTF-8 length, packed: for {@link find} and {@link keyBytesOf}. */
  probe(key: string): number {
    this.#probed = key;
    return hashKey(key, SEED, this.#blocks);
  }

  /** The UTF-8 bytes of the key of a {@link probe}. */
  keyBytesOf(probe: number): number {
    return bytesOf(probe);
  }

  /** The ref of the record holding `key`, or 0; `probe` is the key's {@link probe}, if known. */
  find(key: string, probe?: number): number {
    if (probe === undefined || key !== this.#probed) probe = this.probe(key);
    const keyBytes = bytesOf(probe);
    const words = this.#words;
    const records = this.#records;
    let ref = this.#buckets[hashOf(probe) & this.#mask];
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
    const hash = probe === undefined ? this.#hashOf(ref) : hashOf(probe);
    const bucket = hash & this.#mask;
    this.#words[ref * 2 + NEXT] = this.#buckets[bucket];
    this.#buckets[bucket] = ref;
    if (++this.#count > 2 * this.#buckets.length) this.#grow();
  }

  /** Takes the record at `ref`, which must be indexed, out of the index. */
  remove(ref: number): void {
    const words = this.#words;
    const bucket = this.#hashOf(ref) & this.#mask;
    let at = this.#buckets[bucket];
    if (at === ref) {
      this.#buckets[bucket] = words[ref * 2 + NEXT];
    } else {
      while (words[at * 2 + NEXT] !== ref) at = words[at * 2 + NEXT];
      words[at * 2 + NEXT] = words[ref * 2 + NEXT];
    }
    this.#count--;
  }

  /**
   * Whether `ref` is the ref of an indexed record: safe for any ref into the arena, even one into
   * a freed chunk or the middle of one, since only indexed refs are ever compared with it.
   */
  holds(ref: number): boolean {
    const end = this.#records.keyStart(ref) + this.#records.keyBytes(ref);
    if (ref === 0 || end > this.#bytes.length) return false;
    let at = this.#buckets[this.#hashOf(ref) & this.#mask];
    while (at !== 0 && at !== ref) at = this.#words[at * 2 + NEXT];
    return at === ref;
  }

  /** Forgets every record. */
  clear(): void {
    this.#buckets = new Uint32Array(MIN_BUCKETS);
    this.#mask = MIN_BUCKETS - 1;
    this.#count = 0;
  }

  #hashOf(ref: number): number {
    const records = this.#records;
    return hashKeyBytes(this.#bytes, records.keyStart(ref), records.keyBytes(ref), SEED);
  }

  #link(ref: number, buckets: Uint32Array, mask: number): void {
    const bucket = this.#hashOf(ref) & mask;
    this.#words[ref * 2 + NEXT] = buckets[bucket];
    buckets[bucket] = ref;
  }

  #grow(): void {
    const old = this.#buckets;
    const buckets = new Uint32Array(2 * old.length);
    const mask = buckets.length - 1;
    for (let bucket = 0; bucket < old.length; bucket++) {
      for (let ref = old[bucket]; ref !== 0;) {
        const next = this.#words[ref * 2 + NEXT];
        this.#link(ref, buckets, mask);
        ref = next;
      }
    }
    this.#buckets = buckets;
    this.#mask = mask;
  }
}
