import assert from "node:assert/strict";
import {
  Deletions,
  MAX_TOMBSTONE_KEY_CHARS,
  MAX_TOMBSTONES,
  TOMBSTONE_MS,
  Tombstones,
} from "./tombstones.ts";

Deno.test("Tombstones pass on a deletion for TOMBSTONE_MS, then forget it", () => {
  let now = 1_000;
  const tombstones = new Tombstones(() => now);
  tombstones.remember("k", { version: 7, epoch: 2 });
  assert.deepEqual(tombstones.recent("k"), { version: 7, epoch: 2 });
  assert.deepEqual(tombstones.keys(), ["k"]);
  now += TOMBSTONE_MS;
  assert.deepEqual(
    tombstones.stampOf("k"),
    { version: 7, epoch: 2 },
    "kept until something forgets old ones",
  );
  assert.equal(tombstones.recent("k"), undefined);
  assert.equal(tombstones.stampOf("k"), undefined);
  assert.deepEqual(tombstones.keys(), []);
});

Deno.test("Tombstones forget the oldest past MAX_TOMBSTONES, and a key remembered again is newest", () => {
  const tombstones = new Tombstones(() => 0);
  const at = (version: number) => ({ version, epoch: 1 });
  tombstones.remember("first", at(1));
  tombstones.remember("second", at(2));
  tombstones.remember("first", at(3)); // moves to the end
  for (let i = 0; i < MAX_TOMBSTONES - 1; i++) tombstones.remember(`k${i}`, at(10 + i));
  assert.equal(tombstones.stampOf("second"), undefined, "the oldest went first");
  assert.deepEqual(tombstones.stampOf("first"), at(3));
  tombstones.forget("first");
  assert.equal(tombstones.stampOf("first"), undefined);
  tombstones.clear();
  assert.deepEqual(tombstones.keys(), []);
});

Deno.test("Tombstones forget the oldest once their keys pass MAX_TOMBSTONE_KEY_CHARS", () => {
  const tombstones = new Tombstones(() => 0);
  const long = (i: number) => `${i}:`.padEnd(1024, "k");
  const fit = MAX_TOMBSTONE_KEY_CHARS / 1024;
  for (let i = 0; i < fit; i++) tombstones.remember(long(i), { version: i + 1, epoch: 1 });
  assert.equal(tombstones.keys().length, fit);
  tombstones.remember(long(fit), { version: fit + 1, epoch: 1 });
  assert.equal(tombstones.stampOf(long(0)), undefined, "the oldest went");
  assert.deepEqual(tombstones.forgotten, { version: 1, epoch: 1 });
  // Forgetting and remembering again count a key's characters once.
  for (let i = 1; i <= fit; i++) tombstones.forget(long(i));
  for (let i = 0; i < fit; i++) tombstones.remember(`short${i}`, { version: 1, epoch: 1 });
  assert.equal(tombstones.keys().length, fit);
});

Deno.test("Deletions keep a deletion through a flood of states let go, each list capped alone", () => {
  const deletions = new Deletions(() => 1_000);
  deletions.remember("deleted", { version: 5, epoch: 1 });
  for (let i = 0; i <= MAX_TOMBSTONES; i++) {
    deletions.rememberLetGo(`expired${i}`, { version: 9, epoch: 1 });
  }
  assert.deepEqual(deletions.stampOf("deleted"), { version: 5, epoch: 1 });
  assert.equal(deletions.stampOf("expired0"), undefined, "the oldest let go is forgotten");
  assert.deepEqual(deletions.forgotten, { version: 9, epoch: 1 });
  // A key with both: the newer answers, and forgetting it forgets both.
  deletions.rememberLetGo("deleted", { version: 8, epoch: 1 });
  assert.deepEqual(deletions.recent("deleted"), { version: 8, epoch: 1 });
  deletions.forget("deleted");
  assert.equal(deletions.stampOf("deleted"), undefined);
});

Deno.test("Deletions.retakes() a state this node evicted, as it was, and nothing else", () => {
  const deletions = new Deletions(() => 1_000);
  const stamp = { version: 9, epoch: 2 };
  deletions.rememberLetGo("evicted", stamp, true);
  assert.deepEqual(deletions.stampOf("evicted"), stamp, "an end like any other");
  assert.equal(deletions.retakes("evicted", stamp), true);
  assert.equal(deletions.retakes("evicted", { version: 8, epoch: 2 }), false, "older");
  assert.equal(deletions.retakes("evicted", { version: 10, epoch: 2 }), false, "not that state");
  // Expired, or let go on its primary's notice: not taken back.
  deletions.rememberLetGo("let go", stamp);
  assert.equal(deletions.retakes("let go", stamp), false);
  // Deleted since, at or past the state evicted: the deletion stands.
  deletions.remember("evicted", stamp);
  assert.equal(deletions.retakes("evicted", stamp), false);
  deletions.forget("evicted");
  assert.equal(deletions.stampOf("evicted"), undefined);
});

Deno.test("Deletions.retakes() a state whose end a peer passed on as a deletion, till written over", () => {
  const deletions = new Deletions(() => 1_000);
  const stamp = { version: 9, epoch: 2 };
  deletions.remember("passed", stamp, true);
  assert.equal(deletions.retakes("passed", stamp), true);
  assert.equal(deletions.retakes("passed", { version: 8, epoch: 2 }), false, "older");
  // Ended here too, the same way: this node's own end stands.
  deletions.rememberLetGo("passed", stamp);
  assert.equal(deletions.retakes("passed", stamp), false);
  deletions.forget("passed");
  // Written over here: no end gives way from then on.
  deletions.remember("passed", stamp, true);
  deletions.rememberLetGo("evicted", stamp, true);
  deletions.supersede("passed");
  deletions.supersede("evicted");
  assert.equal(deletions.retakes("passed", stamp), false);
  assert.equal(deletions.retakes("evicted", stamp), false);
});
