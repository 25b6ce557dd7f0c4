import assert from "node:assert/strict";
import fc from "fast-check";
import { hash32 } from "@cache/ring/hash";
import { bytesOf, hashKey, hashKeyBytes, hashOf } from "./key_hash.ts";

const encoder = new TextEncoder();

Deno.test("hashKey() is MurmurHash3 x86_32 of the UTF-8 bytes, as the ring's hash32()", () => {
  for (const key of ["", "a", "ab", "abc", "abcd", "hello", "user:42", "é", "x😀y", "\ud800z"]) {
    for (const seed of [0, 1, 0x5bd1e995]) {
      assert.equal(hashOf(hashKey(key, seed)), hash32(key, seed), `${key} ${seed}`);
    }
  }
  assert.equal(hashOf(hashKey("hello", 0)), 613153351);
});

Deno.test("hashKey() equals hashKeyBytes() over the key's UTF-8 bytes and counts them", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.nat(), (key, seed) => {
      const bytes = encoder.encode(key);
      const packed = hashKey(key, seed);
      assert.equal(bytesOf(packed), bytes.length);
      const padded = new Uint8Array(bytes.length + 5);
      padded.set(bytes, 3); // anywhere in a buffer
      assert.equal(hashOf(packed), hashKeyBytes(padded, 3, bytes.length, seed));
    }),
  );
});

Deno.test("hashKey() leaves an ASCII key's bytes in blocks, little-endian words", () => {
  const blocks = new Uint32Array(4);
  hashKey("abcdefg", 0, blocks);
  const words = new Uint32Array(encoder.encode("abcdefg\0").buffer);
  assert.deepEqual([...blocks.subarray(0, 2)], [...words]);
});
