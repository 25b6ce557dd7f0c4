import assert from "node:assert/strict";
import { Arena } from "./arena.ts";
import { KeyIndex } from "./key_index.ts";
import { Records } from "./records.ts";
import { hash32 } from "@cache/ring/hash";

const encoder = new TextEncoder();

function setup() {
  const arena = new Arena();
  const records = new Records(arena);
  const index = new KeyIndex(arena, records);
  const write = (key: string) => {
    const keyBytes = encoder.encode(key).length;
    return records.write(key, keyBytes, "v", 1, false, (cls) => arena.alloc(cls));
  };
  return { arena, records, index, write };
}

Deno.test("KeyIndex finds each record by its key, through growth and removals", () => {
  const { index, write } = setup();
  const keys = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `ké${i}` : `key:${i}`));
  const refs = keys.map((key) => {
    const ref = write(key);
    index.add(ref);
    return ref;
  });
  assert.equal(index.count, 5000);
  assert.ok(index.byteLength >= (5000 / 2) * 4, "at most two records a bucket");
  keys.forEach((key, i) => assert.equal(index.find(key), refs[i], key));
  for (let i = 0; i < 5000; i += 2) index.remove(refs[i]);
  keys.forEach((key, i) => assert.equal(index.find(key), i % 2 === 0 ? 0 : refs[i], key));
  assert.equal(index.count, 2500);
  assert.equal(index.find("missing"), 0);
  assert.equal(index.find("\ud800"), 0);
});

Deno.test("KeyIndex finds, holds and removes every record at each step of a doubling", () => {
  const { index, write } = setup();
  const held = new Map<string, number>();
  const keyOf = (i: number) => (i % 5 === 0 ? `ké${i}` : `key:${i}`);
  let seed = 7;
  const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  // Past two doublings (at 2,048 and 4,096 records), removing as well as adding on the way.
  for (let step = 0; step < 12_000; step++) {
    const key = keyOf(random(6000));
    const ref = held.get(key);
    if (ref === undefined) {
      const added = write(key);
      index.add(added);
      held.set(key, added);
    } else if (random(3) === 0) {
      index.remove(ref);
      held.delete(key);
    }
    if (step % 50 !== 0) continue;
    for (const [key, ref] of held) {
      assert.equal(index.find(key), ref, `${key} at step ${step}`);
      assert.ok(index.holds(ref), `${key} held at step ${step}`);
    }
    assert.equal(index.find(keyOf(6000)), 0);
  }
  assert.equal(index.count, held.size);
  assert.ok(held.size > 4096, `${held.size} records`);
});

Deno.test("KeyIndex.find() takes a probe made ahead, or makes its own when it is stale", () => {
  const { index, write } = setup();
  const ref = write("a");
  index.add(ref);
  const probe = index.probe("a");
  assert.equal(index.keyBytesOf(probe), 1);
  index.probe("b"); // another key probed since: "a"'s words are gone
  assert.equal(index.find("a", probe), ref);
});

Deno.test("KeyIndex.holds() says whether a ref is an indexed record's, for any ref at all", () => {
  const { arena, index, records, write } = setup();
  const kept = write("kept");
  const gone = write("gone");
  index.add(kept);
  index.add(gone);
  index.remove(gone);
  records.free(gone);
  assert.equal(index.holds(kept), true);
  assert.equal(index.holds(gone), false);
  assert.equal(index.holds(0), false);
  assert.equal(index.holds(kept + 1), false, "the middle of a chunk");
  assert.equal(index.holds(arena.byteLength / 8 - 1), false, "the end of the arena");
  index.clear();
  assert.equal(index.holds(kept), false);
});

Deno.test("KeyIndex.add() files a record by its key's probe as by its stored bytes", () => {
  const { index, write } = setup();
  const refs = ["a", "é", "key:1"].map((key) => {
    const ref = write(key);
    index.add(ref, index.probe(key));
    return ref;
  });
  assert.deepEqual(["a", "é", "key:1"].map((key) => index.find(key)), refs);
  for (const ref of refs) index.remove(ref); // by the stored bytes: the same buckets
  assert.equal(index.count, 0);
});

/**
 * `count` ASCII keys of 8 bytes whose MurmurHash3 x86_32 under `seed` is one and the same: the
 * second block of each is solved for from the first, as a client hashing its keys could.
 */
function murmurCollisions(count: number, seed: number): string[] {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const inverse = (a: number) => { // of an odd number, modulo 2^32 (Newton's iteration)
    let x = a;
    for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
    return x;
  };
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const mix = (h: number, block: number) => {
    h ^= Math.imul(rotl(Math.imul(block, c1), 15), c2);
    return (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  };
  const target = 0x2545f491; // the state after both blocks; the rest of the hash follows from it
  const before = rotl(Math.imul((target - 0xe6546b64) | 0, inverse(5)), 19); // h ^ k of block 2
  const keys: string[] = [];
  for (let first = 0; keys.length < count; first++) {
    const prefix = first.toString(36).padStart(4, "0");
    const block1 = [...prefix].reduce((word, char, i) => word | (char.charCodeAt(0) << (i * 8)), 0);
    const k = before ^ mix(seed, block1);
    const block2 = Math.imul(rotl(Math.imul(k, inverse(c2)), 17), inverse(c1));
    const tail = [0, 8, 16, 24].map((shift) => (block2 >>> shift) & 0xff);
    if (tail.some((byte) => byte > 0x7f)) continue; // ASCII keys only
    keys.push(prefix + String.fromCharCode(...tail));
  }
  return keys;
}

Deno.test("KeyIndex spreads keys a client chose to share one hash over its buckets", () => {
  // Keys that shared one MurmurHash3 under the index's old fixed seed: one chain, walked whole by
  // every lookup of them.
  const keys = murmurCollisions(2000, 0x5bd1e995);
  assert.equal(new Set(keys.map((key) => hash32(key, 0x5bd1e995))).size, 1);
  const { index } = setup();
  const hashes = new Set(keys.map((key) => index.probe(key) >>> 0));
  assert.ok(hashes.size > 1990, `${hashes.size} hashes for 2000 keys`);
});
