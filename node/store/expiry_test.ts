import assert from "node:assert/strict";
import fc from "fast-check";
import { ExpiryQueue } from "./expiry.ts";

/** A queue over records kept in a map: ref to deadline, the map's deleted ones gone. */
function setup() {
  const deadlines = new Map<number, number>();
  const queue = new ExpiryQueue((ref) => deadlines.get(ref) ?? NaN, (ref) => deadlines.has(ref));
  const expire = (ref: number, at: number, now: number) => {
    deadlines.set(ref, at);
    queue.add(ref, at, now);
  };
  const popAll = (now: number) => {
    const popped: number[] = [];
    for (let ref = queue.popDue(now); ref !== 0; ref = queue.popDue(now)) {
      popped.push(ref);
      deadlines.delete(ref); // the store removes what is due
    }
    return popped;
  };
  return { deadlines, queue, expire, popAll };
}

Deno.test("ExpiryQueue yields due refs earliest first, across seconds, and nothing early", () => {
  const { queue, expire, popAll } = setup();
  expire(1, 2500, 0);
  expire(2, 1200, 0);
  expire(3, 1900, 0);
  expire(4, 1100, 0);
  assert.deepEqual(popAll(1150), [4]);
  assert.deepEqual(popAll(1900), [2, 3]);
  assert.equal(queue.popDue(2499), 0);
  assert.deepEqual(popAll(2500), [1]);
  assert.equal(queue.size, 0);
});

Deno.test("ExpiryQueue drops refs of records gone and refiles those that now expire later", () => {
  const { deadlines, queue, expire, popAll } = setup();
  expire(1, 1000, 0);
  expire(2, 1000, 0);
  expire(3, 1000, 0);
  deadlines.delete(1); // deleted
  expire(2, 5000, 500); // rewritten with a longer TTL: a second ref, the first stale
  deadlines.set(3, 0); // rewritten without a TTL: its chunk's deadline field holds 0
  assert.deepEqual(popAll(1000), []);
  assert.equal(queue.size, 1, "only 2's fresh ref is left");
  assert.deepEqual(popAll(5000), [2]);
  assert.equal(queue.size, 0);
});

Deno.test("ExpiryQueue files far deadlines in wide buckets and still yields them on time", () => {
  const { queue, expire, popAll } = setup();
  const year = 365 * 24 * 3600 * 1000;
  for (let ref = 1; ref <= 1000; ref++) expire(ref, year + ref * 1000, 0);
  assert.deepEqual(popAll(year), []);
  assert.deepEqual(popAll(year + 10_000), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(queue.size, 990);
});

Deno.test("ExpiryQueue.compact() keeps one ref per live record", () => {
  const { deadlines, queue, expire, popAll } = setup();
  for (let i = 0; i < 5; i++) expire(7, 2000 + i, 0); // rewritten: five refs, one record
  expire(8, 3000, 0);
  deadlines.delete(8);
  assert.equal(queue.size, 6);
  queue.compact(0);
  assert.equal(queue.size, 1);
  assert.deepEqual(popAll(2004), [7]);
});

Deno.test("ExpiryQueue yields every due record once, in deadline order, whatever the writes", () => {
  const write = fc.record({
    ref: fc.integer({ min: 1, max: 30 }),
    ttl: fc.nat(5000),
    gone: fc.boolean(), // with ttl 0: deleted, or rewritten without a TTL
  });
  const step = fc.record({ writes: fc.array(write, { maxLength: 8 }), tick: fc.nat(3000) });
  fc.assert(fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
    const { deadlines, queue, expire, popAll } = setup();
    let now = 0;
    for (const { writes, tick } of steps) {
      for (const { ref, ttl, gone } of writes) {
        if (ttl > 0) expire(ref, now + ttl, now);
        else if (gone) deadlines.delete(ref);
        else deadlines.set(ref, 0);
      }
      now += tick;
      const due = [...deadlines].filter(([, at]) => at !== 0 && at <= now);
      const popped = popAll(now);
      assert.deepEqual(new Set(popped), new Set(due.map(([ref]) => ref)));
      const order = popped.map((ref) => due.find(([r]) => r === ref)![1]);
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
      if (queue.size > 2 * deadlines.size + 8) queue.compact(now);
    }
  }));
});
