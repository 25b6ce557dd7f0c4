import assert from "node:assert/strict";
import { Entries, entryBytes } from "./entries.ts";

const never = { version: 1, epoch: 0, expiresAt: 0 };

Deno.test("Entries.put() rewrites an entry in its chunk when the new value fits it", () => {
  const entries = new Entries();
  const first = entries.put(entries.measure("k", "a".repeat(100), 0), never, 0, 0);
  const write = entries.measure("k", "b".repeat(103), 0); // 36 + 1 + 103: the same 144 bytes
  assert.equal(entries.fitsInPlace(first, write), true);
  const again = entries.put(write, { version: 2, epoch: 9, expiresAt: 0 }, first, 0);
  assert.equal(again, first);
  assert.deepEqual(
    [entries.value(again), entries.stampOf(again), entries.count],
    ["b".repeat(103), { version: 2, epoch: 9 }, 1],
  );
  assert.equal(entries.fitsInPlace(first, entries.measure("k", "c".repeat(200), 0)), false);
});

Deno.test("Entries account each entry as entryBytes() does, and nothing once removed", () => {
  const entries = new Entries();
  const a = entries.put(entries.measure("a", "x".repeat(500), 0), never, 0, 0);
  const b = entries.put(entries.measure("é", "😀", 60), { ...never, expiresAt: 60 }, 0, 0);
  assert.equal(entries.bytes, entryBytes("a", "x".repeat(500)) + entryBytes("é", "😀", true));
  assert.deepEqual([entries.accounted(b), entries.oldest, entries.newerThan(a)], [
    entryBytes("é", "😀", true),
    a,
    b,
  ]);
  entries.touch(a);
  assert.equal(entries.oldest, b);
  while (entries.prepareDue(59, 100));
  assert.equal(entries.popDue(59), 0);
  assert.equal(entries.popDue(60), b);
  entries.remove(b);
  entries.remove(a);
  assert.deepEqual([entries.bytes, entries.count, entries.oldest], [0, 0, 0]);
});

Deno.test("Entries.measure() stages a value and counts its bytes, UTF-8 or UTF-16", () => {
  const entries = new Entries();
  assert.equal(entries.measure("k", "é", 0, undefined, true).valueBytes, 2);
  assert.equal(entries.measure("k", "\ud800x", 0).valueBytes, 4);
  assert.equal(entries.measure("k", "abc", 0, 3).bytes, entryBytes("k", "abc"));
  assert.throws(() => entries.measure("k".repeat(1025), "v", 0), RangeError);
});

Deno.test("Entries.tidyDeadlines() starts no pass again until the refs doubled", () => {
  // Rewritten toward one deadline, with less time left each hour: each ref lands in a narrower
  // bucket inside the last, and every copy stays in its bucket's span, so no pass drops them.
  const entries = new Entries();
  const deadline = 86_477_000;
  for (let hour = 0; hour < 24; hour++) {
    const now = hour * 3_600_000;
    for (let i = 0; i < 10_000; i++) {
      const write = entries.measure(`k${i}`, "v", deadline - now);
      const old = entries.find(`k${i}`);
      const reuse = old !== 0 && entries.fitsInPlace(old, write) ? old : 0;
      if (old !== 0 && reuse === 0) entries.remove(old);
      entries.put(write, { version: hour + 1, epoch: 0, expiresAt: deadline }, reuse, now);
    }
  }
  let passes = 0;
  for (let tick = 0; tick < 5; tick++) {
    if (entries.tidyDeadlines(4096)) passes++;
    while (entries.tidyDeadlines(4096));
  }
  assert.equal(passes, 1);
});
