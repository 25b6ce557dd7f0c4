// The placement hash: MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes, from the string or from
// the bytes, and its finalizer.

/**
 * Hashes the UTF-8 bytes of `text` with MurmurHash3 x86_32, without allocating.
 *
 * Fast, well mixed and not cryptographic: it places keys, it does not protect them.
 *
 * @example
 * ```ts
 * import { hash32 } from "./hash.ts";
 * hash32("hello"); // 613153351, in every process
 * ```
 */
export function hash32(text: string, seed = 0): number {
  return hashKey(text, seed);
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * The hash of `key`'s UTF-8 bytes, equal to {@link hashKeyBytes} over the same bytes and seed.
 * ASCII keys take a fast path four characters at a time.
 */
function hashKey(key: string, seed: number): number {
  const length = key.length;
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const block = asciiWord(key, i);
    if (block === -1) return hashWideKey(key, seed);
    h = mixIntoHash(h, block);
  }
  let tail = 0;
  for (let shift = 0; i < length; i++, shift += 8) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return hashWideKey(key, seed);
    tail |= code << shift;
  }
  return finish(h, tail, length);
}

/**
 * The four characters of `text` from `at` as one little-endian word of their bytes, or -1 when
 * one is past ASCII (its UTF-8 bytes are then not its characters).
 *
 * @example
 * ```ts
 * import { asciiWord } from "./hash.ts";
 * asciiWord("abcd", 0); // 0x64636261
 * asciiWord("abcé", 0); // -1
 * ```
 */
export function asciiWord(text: string, at: number): number {
  const a = text.charCodeAt(at);
  const b = text.charCodeAt(at + 1);
  const c = text.charCodeAt(at + 2);
  const d = text.charCodeAt(at + 3);
  return (a | b | c | d) > 0x7f ? -1 : a | (b << 8) | (c << 16) | (d << 24);
}

/** MurmurHash3 x86_32 of `length` bytes of `bytes` from `start`. */
export function hashKeyBytes(
  bytes: Uint8Array,
  start: number,
  length: number,
  seed: number,
): number {
  let h = seed | 0;
  const whole = start + (length & ~3);
  let i = start;
  for (; i < whole; i += 4) {
    h = mixIntoHash(
      h,
      bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24),
    );
  }
  let tail = 0;
  for (let shift = 0; i < start + length; i++, shift += 8) tail |= bytes[i] << shift;
  return finish(h, tail, length);
}

/** {@link hashKey} for a key with a character past ASCII: its UTF-8 bytes one at a time. */
function hashWideKey(key: string, seed: number): number {
  let h = seed | 0;
  let block = 0; // up to 3 pending bytes, little-endian
  let pending = 0;
  const length = eachUtf8Byte(key, (byte) => {
    block |= byte << (pending * 8);
    if (++pending === 4) {
      h = mixIntoHash(h, block);
      block = 0;
      pending = 0;
    }
  });
  return finish(h, block, length);
}

/**
 * Calls `push` with each UTF-8 byte of `text` in turn, as `TextEncoder` writes them (a lone
 * surrogate as U+FFFD's), and returns how many there were: for hashes that take bytes one at a
 * time, with nothing allocated.
 *
 * @example
 * ```ts
 * import { eachUtf8Byte } from "./hash.ts";
 * const bytes: number[] = [];
 * eachUtf8Byte("é", (byte) => bytes.push(byte)); // 2; bytes is [0xc3, 0xa9]
 * ```
 */
export function eachUtf8Byte(text: string, push: (byte: number) => void): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      push(code);
      length += 1;
    } else if (code < 0x800) {
      push(0xc0 | (code >> 6));
      push(0x80 | (code & 0x3f));
      length += 2;
    } else {
      const low = text.charCodeAt(i + 1); // NaN past the end
      if (code >= 0xd800 && code < 0xdc00 && low >= 0xdc00 && low < 0xe000) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
        push(0xf0 | (code >> 18));
        push(0x80 | ((code >> 12) & 0x3f));
        push(0x80 | ((code >> 6) & 0x3f));
        push(0x80 | (code & 0x3f));
        length += 4;
        continue;
      }
      if (code >= 0xd800 && code < 0xe000) code = 0xfffd; // a lone surrogate
      push(0xe0 | (code >> 12));
      push(0x80 | ((code >> 6) & 0x3f));
      push(0x80 | (code & 0x3f));
      length += 3;
    }
  }
  return length;
}

function mixIntoHash(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, C2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mixes in the last 1 to 3 bytes, if any, and the length: the final avalanche. */
function finish(h: number, tail: number, length: number): number {
  if ((length & 3) !== 0) {
    let k = Math.imul(tail, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  return mix32(h ^ length);
}

/**
 * MurmurHash3's finalizer: a bijection on 32-bit integers that spreads every input bit over the
 * output. {@link hash32} ends with it; the ring scores slots with it.
 *
 * @example
 * ```ts
 * import { mix32 } from "./hash.ts";
 * mix32(1); // 0x514e28b7, which is also hash32("", 1)
 * ```
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
