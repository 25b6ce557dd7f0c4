// Placement hashes: MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes, and its finalizer.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

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
  let h = seed >>> 0;
  let block = 0; // up to 4 pending bytes, little-endian
  let pending = 0;
  let length = 0;

  const push = (byte: number) => {
    block |= byte << (pending * 8);
    pending++;
    length++;
    if (pending === 4) {
      h ^= mixBlock(block);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      block = 0;
      pending = 0;
    }
  };

  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      push(code);
    } else if (code < 0x800) {
      push(0xc0 | (code >> 6));
      push(0x80 | (code & 0x3f));
    } else {
      if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low < 0xe000) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i++;
          push(0xf0 | (code >> 18));
          push(0x80 | ((code >> 12) & 0x3f));
          push(0x80 | ((code >> 6) & 0x3f));
          push(0x80 | (code & 0x3f));
          continue;
        }
      }
      // A lone surrogate encodes as U+FFFD, as TextEncoder does.
      if (code >= 0xd800 && code < 0xe000) code = 0xfffd;
      push(0xe0 | (code >> 12));
      push(0x80 | ((code >> 6) & 0x3f));
      push(0x80 | (code & 0x3f));
    }
  }

  if (pending > 0) h ^= mixBlock(block);
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

function mixBlock(block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}
