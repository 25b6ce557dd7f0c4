import assert from "node:assert/strict";
import fc from "fast-check";
import { hash32, hashKeyBytes, mix32 } from "./hash.ts";

Deno.test("hash32() matches MurmurHash3 x86_32 reference values", () => {
  assert.equal(hash32(""), 0);
  assert.equal(hash32("", 1), 0x514e28b7);
  assert.equal(hash32("hello"), 613153351);
  assert.equal(hash32("The quick brown fox jumps over the lazy dog"), 0x2e4ff723);
});

Deno.test("hash32() hashes the same bytes as TextEncoder, surrogates included", () => {
  // A reference that hashes TextEncoder's bytes shows the streaming UTF-8 encoder is exact.
  const reference = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
    padded.set(bytes);
    const words = new DataView(padded.buffer);
    let h = 0;
    const mix = (k: number) => {
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      return Math.imul(k, 0x1b873593);
    };
    const whole = bytes.length - (bytes.length % 4);
    for (let i = 0; i < whole; i += 4) {
      h ^= mix(words.getUint32(i, true));
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    if (whole < bytes.length) h ^= mix(words.getUint32(whole, true));
    h ^= bytes.length;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => {
    assert.equal(hash32(text), reference(text));
  }));
  for (const text of ["é", "😀", "\ud800", "a\udc00b", "\ud83d"]) {
    assert.equal(hash32(text), reference(text));
  }
});

Deno.test("mix32() is MurmurHash3's finalizer, the last step of hash32()", () => {
  assert.equal(mix32(0), 0);
  assert.equal(mix32(1), hash32("", 1));
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (h) => {
    assert.ok(Number.isInteger(mix32(h)) && mix32(h) >= 0 && mix32(h) < 2 ** 32);
  }));
});

const encoder = new TextEncoder();

Deno.test("hash32() of a string is the hash of its UTF-8 bytes, surrogates and all", () => {
  for (const key of ["", "a", "ab", "abc", "abcd", "hello", "user:42", "é", "x😀y", "\ud800z"]) {
    for (const seed of [0, 1, 0x5bd1e995]) {
      const bytes = encoder.encode(key); // a lone surrogate encodes as U+FFFD
      assert.equal(hash32(key, seed), hashKeyBytes(bytes, 0, bytes.length, seed), `${key} ${seed}`);
    }
  }
});

Deno.test("hash32() equals hashKeyBytes() over the key's UTF-8 bytes, anywhere in a buffer", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.nat(), (key, seed) => {
      const bytes = encoder.encode(key);
      const padded = new Uint8Array(bytes.length + 5);
      padded.set(bytes, 3);
      assert.equal(hash32(key, seed), hashKeyBytes(padded, 3, bytes.length, seed));
    }),
  );
});
