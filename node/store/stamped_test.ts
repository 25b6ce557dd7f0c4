import assert from "node:assert/strict";
import { entryBytes, Store } from "./store.ts";
import { MAX_TOMBSTONES, TOMBSTONE_MS } from "./tombstones.ts";

const stamp = (version: number, epoch = 3) => ({ epoch, version });

Deno.test("Store.setStamped() stores a newer stamp, and names the one to beat otherwise", () => {
  const store = new Store({ now: () => 1 });
  assert.equal(store.setStamped({ key: "k", value: "a" }, stamp(100)), undefined);
  assert.deepEqual(store.get("k"), { value: "a", version: "3.100" });
  assert.deepEqual(store.setStamped({ key: "k", value: "b" }, stamp(100)), stamp(100));
  assert.deepEqual(store.setStamped({ key: "k", value: "b" }, stamp(99)), stamp(100));
  assert.deepEqual(store.setStamped({ key: "k", value: "b" }, stamp(999, 2)), stamp(100));
  assert.equal(store.get("k")?.value, "a");
  assert.equal(store.setStamped({ key: "k", value: "c", ttlMs: 50 }, stamp(1, 4)), undefined);
  assert.deepEqual(store.get("k"), { value: "c", version: "4.1", ttlMs: 50 });
});

Deno.test("Store.setStamped() moves the store's own versions past the stamp", () => {
  const store = new Store({ now: () => 1 }); // its clock gives version 1000 and up
  store.setStamped({ key: "k", value: "a" }, stamp(5_000_000));
  assert.equal(store.set("k", "b", 0, 3), 5_000_001);
  assert.equal(store.delete("other", 3).version, 5_000_002);
  // A stamp refused as stale is seen all the same: a backup may keep its copy.
  assert.ok(store.setStamped({ key: "k", value: "older ring" }, stamp(9_000_000, 2)));
  assert.equal(store.set("k", "c", 0, 3), 9_000_001);
});

Deno.test("Store.setStamped() must beat a deletion, and the deletions it forgot", () => {
  let now = 0;
  const store = new Store({ now: () => now });
  store.apply({ key: "gone", version: 700, epoch: 3, deleted: true });
  assert.deepEqual(store.setStamped({ key: "gone", value: "v" }, stamp(600)), stamp(700));
  now = TOMBSTONE_MS + 1;
  const fresh = store.delete("fresh", 3).version; // forgets the old deletion on the way
  assert.deepEqual(store.newestOf("gone"), stamp(700));
  assert.deepEqual(store.setStamped({ key: "never-here", value: "v" }, stamp(650)), stamp(700));
  assert.equal(store.setStamped({ key: "gone", value: "v" }, stamp(701)), undefined);
  for (let i = 0; i < MAX_TOMBSTONES; i++) {
    store.apply({ key: `d${i}`, version: 800, deleted: true });
  }
  // "fresh" was the oldest deletion kept when too many were: only the horizon knows it now.
  assert.deepEqual(store.newestOf("unrelated"), stamp(fresh));
});

Deno.test("Store.setStamped() must beat every state the store let go of", () => {
  let now = 0;
  const size = entryBytes("k0", "v");
  const evicting = new Store({ now: () => now, maxBytes: 2 * size });
  evicting.apply({ key: "k0", version: 50, epoch: 3, value: "v" });
  evicting.apply({ key: "k1", version: 40, epoch: 3, value: "v" });
  evicting.apply({ key: "k2", version: 30, epoch: 3, value: "v" }); // evicts k0, stamped 50
  assert.equal(evicting.get("k0"), undefined);
  assert.deepEqual(evicting.setStamped({ key: "k0", value: "w" }, stamp(45)), stamp(50));
  assert.deepEqual(evicting.setStamped({ key: "k2", value: "w" }, stamp(45)), stamp(50));
  assert.equal(evicting.setStamped({ key: "k2", value: "w" }, stamp(51)), undefined);

  const expiring = new Store({ now: () => now });
  expiring.apply({ key: "short", version: 60, epoch: 3, value: "v", ttlMs: 10 });
  now = 10;
  assert.equal(expiring.get("short"), undefined);
  assert.deepEqual(expiring.setStamped({ key: "other", value: "w" }, stamp(55)), stamp(60));

  const dropping = new Store({ now: () => now });
  dropping.apply({ key: "moved", version: 70, epoch: 3, value: "v" });
  dropping.drop("moved");
  assert.deepEqual(dropping.newestOf("moved"), stamp(70));

  const clearing = new Store({ now: () => now });
  clearing.apply({ key: "a", version: 80, epoch: 3, value: "v" });
  clearing.clear();
  assert.deepEqual(clearing.newestOf("a"), stamp(80));
});

Deno.test("Store.setMany() gives versions above a floor: a write sent again over its copies", () => {
  const store = new Store({ now: () => 1 }); // its clock gives version 1000 and up
  assert.deepEqual(store.setMany([{ key: "a", value: "v" }, { key: "b", value: "v" }], 3, 9000), [
    9001,
    9002,
  ]);
  assert.deepEqual(store.setMany([{ key: "a", value: "w" }], 3, 10), [9003], "never back");
});

Deno.test("Store.restamp() gives a key's state a version above a floor, taking no room", () => {
  const size = entryBytes("k0", "v", true);
  const store = new Store({ now: () => 1, maxBytes: 2 * size, eviction: "noeviction" });
  store.set("k0", "v", 60_000, 2);
  store.set("k1", "v", 60_000, 2);
  assert.throws(() => store.setMany([{ key: "k2", value: "v" }], 3, 9000), /Out of memory/);
  // Full: the value is kept as it was, with its TTL, its stamp above the floor.
  assert.deepEqual(store.restamp("k0", 3, 9000), {
    key: "k0",
    version: 9001,
    epoch: 3,
    value: "v",
    ttlMs: 60_000,
  });
  assert.deepEqual(store.get("k0"), { value: "v", version: "3.9001", ttlMs: 60_000 });
  // A key not here becomes a deletion, which a backup's copy of the refused write cannot beat.
  assert.deepEqual(store.restamp("k2", 3, 9000), {
    key: "k2",
    version: 9002,
    epoch: 3,
    deleted: true,
  });
  assert.equal(store.apply({ key: "k2", value: "v", version: 9000, epoch: 3 }), false);
  assert.equal(store.stats().keys, 2);
  assert.equal(store.set("k1", "w", 0, 3), 9003, "its own versions past both");
});
