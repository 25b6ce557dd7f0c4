import assert from "node:assert/strict";
import { Arena } from "./arena.ts";
import { KeyIndex } from "./key_index.ts";
import { Records } from "./records.ts";

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
