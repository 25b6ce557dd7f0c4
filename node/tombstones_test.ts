import assert from "node:assert/strict";
import { MAX_TOMBSTONES, TOMBSTONE_MS, Tombstones } from "./tombstones.ts";

Deno.test("Tombstones pass on a deletion for TOMBSTONE_MS, then forget it", () => {
  let now = 1_000;
  const tombstones = new Tombstones(() => now);
  tombstones.remember("k", 7);
  assert.equal(tombstones.recent("k"), 7);
  assert.deepEqual(tombstones.keys(), ["k"]);
  now += TOMBSTONE_MS;
  assert.equal(tombstones.versionOf("k"), 7, "kept until something forgets old ones");
  assert.equal(tombstones.recent("k"), undefined);
  assert.equal(tombstones.versionOf("k"), 0);
  assert.deepEqual(tombstones.keys(), []);
});

Deno.test("Tombstones forget the oldest past MAX_TOMBSTONES, and a key remembered again is newest", () => {
  const tombstones = new Tombstones(() => 0);
  tombstones.remember("first", 1);
  tombstones.remember("second", 2);
  tombstones.remember("first", 3); // moves to the end
  for (let i = 0; i < MAX_TOMBSTONES - 1; i++) tombstones.remember(`k${i}`, 10 + i);
  assert.equal(tombstones.versionOf("second"), 0, "the oldest went first");
  assert.equal(tombstones.versionOf("first"), 3);
  tombstones.forget("first");
  assert.equal(tombstones.versionOf("first"), 0);
  tombstones.clear();
  assert.deepEqual(tombstones.keys(), []);
});
