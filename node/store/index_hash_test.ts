// The key index's keyed hash: the reference's vectors, a key's string and bytes alike.

import assert from "node:assert/strict";
import fc from "fast-check";
import { IndexHash } from "./index_hash.ts";

Deno.test("IndexHash with 2 and 4 rounds gives HalfSipHash's reference vectors", () => {
  const key = new Uint32Array(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]).buffer);
  const hash = new IndexHash(key, { compression: 2, finalization: 4 });
  const bytes = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];
  // The first two of the reference's 32-bit vectors: messages 00..(n-1), key 00..07.
  assert.deepEqual(bytes(hash.ofBytes(new Uint8Array(0), 0, 0)), [0xa9, 0x35, 0x9f, 0x5b]);
  assert.deepEqual(bytes(hash.ofBytes(new Uint8Array([0]), 0, 1)), [0x27, 0x47, 0x5a, 0xb8]);
});

Deno.test("IndexHash.ofKey() equals ofBytes() of the key's UTF-8 and counts them", () => {
  const hash = new IndexHash();
  const encoder = new TextEncoder();
  const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
  const keys = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: anyUnit }));
  fc.assert(
    fc.property(keys, (key) => {
      const bytes = encoder.encode(key);
      const at = new Uint8Array(bytes.length + 3);
      at.set(bytes, 3); // from any offset
      const blocks = new Uint32Array(key.length + 1);
      const packed = hash.ofKey(key, blocks);
      assert.equal(packed >>> 0, hash.ofBytes(at, 3, bytes.length));
      assert.equal(Math.floor(packed / 2 ** 32), bytes.length);
      if (bytes.length === key.length) { // ASCII: its bytes left as words
        const words = new Uint32Array(blocks.length);
        new Uint8Array(words.buffer).set(bytes);
        assert.deepEqual(
          blocks.slice(0, (key.length >> 2) + 1),
          words.slice(0, (key.length >> 2) + 1),
        );
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("IndexHash gives other hashes under another key", () => {
  const blocks = new Uint32Array(8);
  const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`);
  const one = new IndexHash(new Uint32Array([1, 2]));
  const other = new IndexHash(new Uint32Array([1, 3]));
  const same = keys.filter((key) => one.ofKey(key, blocks) === other.ofKey(key, blocks));
  assert.deepEqual(same, []);
});
