// The key index's hash: HalfSipHash keyed with random words per store, so that no client can pick
// keys that share a bucket.

import { asciiWord, eachUtf8Byte } from "@cache/ring/hash";

const TWO_32 = 2 ** 32;

/**
 * HalfSipHash-1-3 (Linux's `hsiphash` on 32-bit machines) of keys' UTF-8 bytes, keyed with two
 * random words: a table's keys spread over its buckets whatever keys a client writes, as Redis
 * keys its tables with SipHash. MurmurHash3 with a fixed seed let a client make 50,000 keys of one
 * hash in 2 s, and their one chain made every write and read of them walk it: 6 s to write them,
 * 245 ms a 1,000-key mget. The hash of a key's string equals the hash of its stored bytes.
 *
 * @example
 * ```ts
 * import { IndexHash } from "./index_hash.ts";
 * const hash = new IndexHash();
 * const packed = hash.ofKey("é", new Uint32Array(2)); // hash and UTF-8 byte count, packed
 * packed >>> 0 === hash.ofBytes(new Uint8Array([0xc3, 0xa9]), 0, 2); // true
 * Math.floor(packed / 2 ** 32); // 2
 * ```
 */
export class IndexHash {
  readonly #k0: number;
  readonly #k1: number;
  readonly #compression: number;
  readonly #finalization: number;
  #v0 = 0;
  #v1 = 0;
  #v2 = 0;
  #v3 = 0;

  /**
   * `key` is the two secret words (random by default); `rounds` are SipHash's c and d, 1 and 3
   * here (other values only to check against the reference's vectors).
   */
  constructor(
    key: Uint32Array = crypto.getRandomValues(new Uint32Array(2)),
    rounds = { compression: 1, finalization: 3 },
  ) {
    this.#k0 = key[0] | 0;
    this.#k1 = key[1] | 0;
    this.#compression = rounds.compression;
    this.#finalization = rounds.finalization;
  }

  /**
   * The hash of `key`'s UTF-8 bytes and their count, packed in one number so that a lookup
   * allocates nothing: `packed >>> 0` is the hash, `Math.floor(packed / 2 ** 32)` the count. An
   * ASCII key's bytes are left in `blocks` as little-endian words, for a comparison a word at a
   * time.
   */
  ofKey(key: string, blocks: Uint32Array): number {
    const length = key.length;
    this.#start();
    let i = 0;
    for (; i + 4 <= length; i += 4) {
      const block = asciiWord(key, i);
      if (block === -1) return this.#ofWideKey(key);
      blocks[i >> 2] = block;
      this.#block(block);
    }
    let tail = 0;
    for (let shift = 0; i < length; i++, shift += 8) {
      const code = key.charCodeAt(i);
      if (code > 0x7f) return this.#ofWideKey(key);
      tail |= code << shift;
    }
    blocks[length >> 2] = tail;
    return this.#finish(tail, length) + length * TWO_32;
  }

  /** The hash of `length` bytes of `bytes` from `start`: {@link ofKey}'s, unpacked. */
  ofBytes(bytes: Uint8Array, start: number, length: number): number {
    this.#start();
    const whole = start + (length & ~3);
    let i = start;
    for (; i < whole; i += 4) {
      this.#block(bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    }
    let tail = 0;
    for (let shift = 0; i < start + length; i++, shift += 8) tail |= bytes[i] << shift;
    return this.#finish(tail, length);
  }

  /**
   * {@link ofKey} of a key with a character past ASCII: its UTF-8 bytes one at a time, as
   * `TextEncoder` writes them (a lone surrogate as U+FFFD): `encodeInto()` took 1.6 times as long.
   */
  #ofWideKey(key: string): number {
    this.#start();
    let block = 0; // up to 3 pending bytes, little-endian
    let shift = 0;
    const length = eachUtf8Byte(key, (byte) => {
      block |= byte << shift;
      if ((shift += 8) === 32) {
        this.#block(block);
        block = 0;
        shift = 0;
      }
    });
    return this.#finish(block, length) + length * TWO_32;
  }

  #start(): void {
    this.#v0 = this.#k0;
    this.#v1 = this.#k1;
    this.#v2 = 0x6c796765 ^ this.#k0;
    this.#v3 = 0x74656462 ^ this.#k1;
  }

  #block(m: number): void {
    this.#v3 ^= m;
    for (let i = 0; i < this.#compression; i++) this.#round();
    this.#v0 ^= m;
  }

  /** Takes the last 0-3 bytes and the length (its low byte, as the reference does). */
  #finish(tail: number, length: number): number {
    const last = ((length & 0xff) << 24) | tail;
    this.#block(last);
    this.#v2 ^= 0xff;
    for (let i = 0; i < this.#finalization; i++) this.#round();
    return (this.#v1 ^ this.#v3) >>> 0;
  }

  #round(): void {
    let v0 = this.#v0;
    let v1 = this.#v1;
    let v2 = this.#v2;
    let v3 = this.#v3;
    v0 = (v0 + v1) | 0;
    v1 = ((v1 << 5) | (v1 >>> 27)) ^ v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = ((v3 << 8) | (v3 >>> 24)) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = ((v3 << 7) | (v3 >>> 25)) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = ((v1 << 13) | (v1 >>> 19)) ^ v2;
    v2 = (v2 << 16) | (v2 >>> 16);
    this.#v0 = v0;
    this.#v1 = v1;
    this.#v2 = v2;
    this.#v3 = v3;
  }
}
