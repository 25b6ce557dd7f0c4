import assert from "node:assert/strict";
import fc from "fast-check";
import { ExpiryQueue } from "./expiry.ts";
import { Bucket } from "./expiry_buckets.ts";

/** A queue over records kept in a map: ref to deadline, the map's deleted ones gone. */
function setup() {
  const deadlines = new Map<number, number>();
  const queue = new ExpiryQueue((ref) => deadlines.get(ref) ?? NaN, (ref) => deadlines.has(ref));
  const expire = (ref: number, at: number, now: number) => {
    deadlines.set(ref, at);
    queue.add(ref, at, now);
  };
  /** Pops every ref due at `now`, preparing buckets `work` refs at a time. */
  const popAll = (now: number, work = Infinity) => {
    const popped: number[] = [];
    for (;;) {
      const ref = queue.popDue(now);
      if (ref === 0 && queue.prepare(now, work)) continue;
      if (ref === 0) break;
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
  assert.equal(queue.compact(), false, "one call, one whole pass");
  assert.equal(queue.size, 1);
  assert.deepEqual(popAll(2004), [7]);
});

Deno.test("ExpiryQueue.clear() forgets what the last compaction pass kept", () => {
  const { queue, expire } = setup();
  for (let ref = 1; ref <= 100; ref++) expire(ref, 5000, 0);
  assert.equal(queue.compact(), false);
  assert.equal(queue.keptByLastPass, 100);
  queue.clear(); // a flush: the next pass is due once refs pile up again, not past 2 x 100
  assert.equal(queue.keptByLastPass, 0);
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
      if (queue.size > 2 * deadlines.size + 8) queue.compact();
    }
  }));
});

Deno.test("ExpiryQueue prepares a second of many due refs a few at a time, yielding none before", () => {
  const { queue, expire, popAll } = setup();
  for (let ref = 1; ref <= 100_000; ref++) expire(ref, 5000 + (ref % 1000), 0);
  let steps = 0;
  let first = 0;
  while (first === 0 && queue.prepare(6000, 1000)) {
    steps++;
    first = queue.popDue(6000); // 0 while the second is being sorted
  }
  assert.equal(steps, 100, "100,000 refs taken apart, 1,000 at a time");
  assert.equal(first, 1000, "deadline 5000 first");
  const popped = [first, ...popAll(6000, 1000)];
  assert.equal(new Set(popped).size, 100_000);
});

Deno.test("ExpiryQueue skips stale refs a step at a time, so no call looks at them all", () => {
  const { deadlines, queue, expire } = setup();
  for (let ref = 1; ref <= 10_000; ref++) expire(ref, 1000, 0);
  assert.equal(queue.prepare(1000, 10_000), true, "the second taken apart");
  for (let ref = 1; ref < 10_000; ref++) deadlines.delete(ref);
  assert.equal(queue.popDue(1000), 0, "4,096 stale refs skipped, then a pause");
  assert.equal(queue.size, 10_000 - 4096);
  assert.equal(queue.prepare(1000, 4096), true, "4,096 more skipped");
  assert.equal(queue.popDue(1000), 10_000);
  assert.equal(queue.size, 0);
  assert.equal(queue.prepare(1000), false);
});

Deno.test("ExpiryQueue.compact(work) takes a pass in steps, one ref per live record left", () => {
  const { deadlines, queue, expire, popAll } = setup();
  for (let round = 0; round < 3; round++) {
    for (let ref = 1; ref <= 10_000; ref++) expire(ref, 60_000 + round, 0); // rewritten twice
  }
  for (let ref = 1; ref <= 5_000; ref++) deadlines.delete(ref);
  let steps = 0;
  while (queue.compact(1000)) steps++;
  assert.equal(steps, 29, "30,000 refs looked at, 1,000 a step");
  assert.equal(queue.size, 5_000);
  assert.equal(popAll(60_002).length, 5_000);
});

Deno.test("ExpiryQueue yields every due record once, in deadline order, prepared (ahead too) and compacted in small steps", () => {
  const write = fc.record({
    ref: fc.integer({ min: 1, max: 30 }),
    ttl: fc.oneof(fc.nat(5000), fc.nat(3_000_000)), // far ones in wide buckets
    gone: fc.boolean(),
  });
  const step = fc.record({
    writes: fc.array(write, { maxLength: 8 }),
    tick: fc.oneof(fc.nat(3000), fc.nat(1_500_000)),
    work: fc.integer({ min: 1, max: 4 }),
    compactWork: fc.integer({ min: 0, max: 6 }),
  });
  fc.assert(fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
    const { deadlines, queue, expire, popAll } = setup();
    let now = 0;
    for (const { writes, tick, work, compactWork } of steps) {
      for (const { ref, ttl, gone } of writes) {
        if (ttl > 0) expire(ref, now + ttl, now);
        else if (gone) deadlines.delete(ref);
        else deadlines.set(ref, 0);
        if (compactWork > 0) queue.compact(compactWork); // a pass goes on between writes
      }
      queue.prepareAhead(now, work); // the next seconds, maybe left half taken apart
      queue.prepare(now + tick, work); // a bucket left half taken apart while time passes
      now += tick;
      const due = [...deadlines].filter(([, at]) => at !== 0 && at <= now);
      const popped = popAll(now, work);
      assert.deepEqual(new Set(popped), new Set(due.map(([ref]) => ref)));
      const order = popped.map((ref) => due.find(([r]) => r === ref)![1]);
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
    }
    while (queue.compact(3));
    const live = [...deadlines.values()].filter((at) => at !== 0).length;
    assert.ok(queue.size <= live + 30, `${queue.size} refs held for ${live} records`);
  }));
});

Deno.test("ExpiryQueue.prepareAhead() readies the next seconds, yielding nothing early", () => {
  const { queue, expire, popAll } = setup();
  for (let ref = 1; ref <= 10_000; ref++) expire(ref, 5000 + (ref % 1000), 0);
  expire(10_001, 9000, 0); // past the seconds ahead
  assert.equal(queue.prepareAhead(3000), true, "second 5 is within 2 seconds of second 3");
  assert.equal(queue.prepareAhead(3000), false);
  assert.deepEqual(popAll(4999), []);
  assert.equal(queue.prepare(5000), false, "nothing left to take apart once it is due");
  assert.equal(queue.popDue(5000), 1000);
  assert.equal(popAll(5999).length, 9999);
});

Deno.test("ExpiryQueue.compact(4096) looks at no more than a step of refs a call", () => {
  let looked = 0;
  const read = Bucket.prototype.read;
  Bucket.prototype.read = function (cursor, count, visit) {
    read.call(this, cursor, count, (ref) => {
      looked++;
      visit(ref);
    });
  };
  try {
    const { queue, expire } = setup();
    for (let ref = 1; ref <= 100_000; ref++) {
      expire(ref, 86_400_500, 0);
      expire(ref, 86_400_500, 0); // a repeat in the same bucket
    }
    let most = 0;
    for (let more = true; more;) {
      looked = 0;
      more = queue.compact(4096);
      most = Math.max(most, looked);
    }
    assert.ok(most <= 4096, `${most} refs looked at in one call`);
    assert.equal(queue.size, 100_000);
  } finally {
    Bucket.prototype.read = read;
  }
});
