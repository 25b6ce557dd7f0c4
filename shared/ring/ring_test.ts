import assert from "node:assert/strict";
import fc from "fast-check";
import { hash32 } from "./hash.ts";
import { score, SLOTS } from "./rendezvous.ts";
import { MAX_NODES, Ring, SCORE_STEP, slotOf } from "./ring.ts";

// A key that is a number hashes to itself, so it falls into slot `number & (SLOTS - 1)`.
const numbers = (text: string) => /^\d+$/.test(text) ? Number(text) : hash32(text);

/** The nodes in `slot`'s order by definition: score descending, ties to the smaller address. */
function byScore(slot: number, nodes: string[], hash = numbers): string[] {
  return [...nodes].sort((a, b) =>
    score(slot, hash(b) >>> 0) - score(slot, hash(a) >>> 0) || (a < b ? -1 : 1)
  );
}

Deno.test("Ring.owners() orders a slot's nodes by their score for it", () => {
  const five = ["http://a:1", "http://b:1", "http://c:1", "http://d:1", "http://e:1"];
  // Past 255 nodes the slot tables hold 16 bits a node.
  const many = Array.from({ length: 300 }, (_, i) => `http://10.0.${i >> 8}.${i & 0xff}:1`);
  for (const [nodes, slots] of [[five, 2000], [many, 200]] as const) {
    const ring = new Ring(nodes, { hash: numbers });
    for (let slot = 0; slot < slots; slot++) {
      const order = byScore(slot, [...nodes]);
      assert.equal(ring.owner(String(slot)), order[0]);
      assert.deepEqual(ring.owners(String(slot), 2), order.slice(0, 2), `slot ${slot}`);
      assert.deepEqual(ring.owners(String(slot), 5), order.slice(0, 5), `slot ${slot}`);
    }
  }
});

Deno.test("Ring places a key by its slot, hash(key) & (SLOTS - 1)", () => {
  const ring = new Ring(["http://a:1", "http://b:1", "http://c:1"], { hash: numbers });
  for (const slot of [0, 1, 77, SLOTS - 1]) {
    const owners = ring.owners(String(slot), 3);
    assert.deepEqual(ring.owners(String(slot + SLOTS), 3), owners);
    assert.deepEqual(ring.owners(String(slot + 5 * SLOTS), 3), owners);
  }
});

Deno.test("Ring.ownedSlots() marks the slots a node owns, and only those", () => {
  const nodes = ["http://a:1", "http://b:1", "http://c:1"];
  const ring = new Ring(nodes);
  const owned = nodes.map((node) => ring.ownedSlots(node));
  for (const key of Array.from({ length: 500 }, (_, i) => `key${i}`)) {
    const slot = slotOf(key);
    assert.deepEqual(
      owned.map((slots) => slots[slot]),
      nodes.map((node) => +(node === ring.owner(key))),
    );
  }
  const all = owned.reduce((sum, slots) => sum + slots.reduce((a, b) => a + b, 0), 0);
  assert.equal(all, SLOTS);
  assert.equal(ring.ownedSlots("http://elsewhere:1").indexOf(1), -1);
});

/** Pauses that pause every step, counting them, and run `atPause` at the tenth. */
function everyStep(atPause = () => {}) {
  const counts = { steps: 0 };
  return {
    counts,
    over: () => {
      counts.steps++;
      return true;
    },
    next: () => {
      if (counts.steps === 10) atPause(); // 9 steps of slots scored by then
      return Promise.resolve();
    },
  };
}

Deno.test("Ring.scoreAll() scores every slot, again after a deeper lookup started over", async () => {
  const ring = new Ring(["http://a:1", "http://b:1", "http://c:1", "http://d:1"]);
  // The tenth pause looks up 3 owners: the ring kept 2, so its scoring starts from nothing.
  const pass = SLOTS / SCORE_STEP; // steps
  const plain = everyStep();
  assert.equal(await new Ring(ring.nodes).scoreAll(plain), true);
  assert.equal(plain.counts.steps, 2 * pass, "a pass that scores, one that finds all scored");
  const deepened = everyStep(() => ring.owners("k", 3));
  assert.equal(await ring.scoreAll(deepened), true);
  assert.equal(deepened.counts.steps, 3 * pass, "the slots scored before the lookup, again");
  const again = everyStep();
  assert.equal(await ring.scoreAll(again), true);
  assert.equal(again.counts.steps, pass, "nothing left to score");
  assert.deepEqual(ring.shares(), new Ring(ring.nodes).shares());
  const stopped = new Ring(["http://a:1", "http://b:1"]);
  assert.equal(await stopped.scoreAll(everyStep(), () => false), false, "no longer wanted");
});

Deno.test("Ring ranks nodes whose addresses hash alike by address", () => {
  const same = (text: string) => text.startsWith("http") ? 7 : hash32(text);
  const ring = new Ring(["http://c:1", "http://a:1", "http://b:1"], { hash: same });
  for (const key of ["x", "y", "user:42"]) {
    assert.deepEqual(ring.owners(key, 3), ["http://a:1", "http://b:1", "http://c:1"]);
    assert.deepEqual(ring.owners(key, 2), ["http://a:1", "http://b:1"]);
  }
});

Deno.test("Ring places keys where every process and version places them", () => {
  // Changing these answers moves keys between versions: a cluster and its clients must agree.
  const ring = new Ring(["http://10.0.0.1:8081", "http://10.0.0.2:8081", "http://10.0.0.3:8081"]);
  const [one, two, three] = ring.nodes;
  assert.deepEqual(ring.owners("user:42", 3), [one, two, three]);
  assert.deepEqual(ring.owners("a", 3), [one, three, two]);
  assert.deepEqual(ring.owners("", 3), [two, one, three]);
});

Deno.test("Ring with no nodes owns nothing", () => {
  const ring = new Ring();
  assert.equal(ring.owner("a"), undefined);
  assert.deepEqual(ring.owners("a", 3), []);
  assert.equal(ring.size, 0);
  assert.deepEqual(ring.shares(), new Map());
});

Deno.test("Ring.owners() answers nothing for a count below 1", () => {
  const ring = new Ring(["http://a:1", "http://b:1"]);
  assert.deepEqual(ring.owners("k", 0), []);
  assert.deepEqual(ring.owners("k", -1), []);
  assert.deepEqual(ring.owners("k", 9), ring.owners("k", 2));
});

Deno.test("Ring rejects more nodes than its slot table can name", () => {
  const nodes = Array.from({ length: MAX_NODES + 1 }, (_, i) => `http://n${i}:1`);
  assert.throws(() => new Ring(nodes, { hash: () => 0 }), RangeError);
});

Deno.test("Ring.with() and Ring.without() return the same ring when nothing changes", () => {
  const ring = new Ring(["a", "b"]);
  assert.equal(ring.with("a"), ring);
  assert.equal(ring.without("c"), ring);
  assert.deepEqual(ring.without("a").nodes, ["b"]);
});

const addresses = fc.uniqueArray(fc.webUrl(), { minLength: 1, maxLength: 12 });
const keys = fc.array(fc.string({ unit: "binary", minLength: 1 }), { minLength: 1, maxLength: 50 });

Deno.test("Ring placement is the same whatever order nodes joined in", () => {
  const joinOrders = addresses.chain((nodes) =>
    fc.tuple(
      fc.constant(nodes),
      fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length }),
    )
  );
  fc.assert(
    fc.property(joinOrders, keys, ([nodes, shuffled], keyList) => {
      const a = new Ring(nodes);
      const b = new Ring(shuffled);
      for (const key of keyList) assert.deepEqual(a.owners(key, 3), b.owners(key, 3));
    }),
  );
});

Deno.test("Ring.owners() are distinct, start with the owner and stop at the node count", () => {
  fc.assert(
    fc.property(addresses, keys, fc.integer({ min: 1, max: 15 }), (nodes, keyList, n) => {
      const ring = new Ring(nodes);
      for (const key of keyList) {
        const owners = ring.owners(key, n);
        assert.equal(owners.length, Math.min(n, nodes.length));
        assert.equal(new Set(owners).size, owners.length);
        assert.equal(owners[0], ring.owner(key));
        // Asking for more or fewer owners gives a longer or shorter list, the same at its start.
        const two = ring.owners(key, 2);
        assert.deepEqual(owners.slice(0, 2), two.slice(0, owners.length));
      }
    }),
  );
});

Deno.test("Ring moves only the keys of the node that joins or leaves, and keeps the order", () => {
  fc.assert(
    fc.property(addresses, fc.webUrl(), keys, (nodes, extra, keyList) => {
      fc.pre(!nodes.includes(extra));
      const before = new Ring(nodes);
      const after = before.with(extra);
      for (const key of keyList) {
        const was = before.owner(key);
        const now = after.owner(key);
        if (was !== now) assert.equal(now, extra);
        assert.equal(after.without(extra).owner(key), was);
        // The others keep their order: the new node is only inserted into it.
        const order = after.owners(key, nodes.length + 1).filter((node) => node !== extra);
        assert.deepEqual(order, before.owners(key, nodes.length));
      }
    }),
  );
});

/** `count` distinct addresses like http://10.x.y.z:8081, the same for the same `seed`. */
function addressSet(seed: number, count: number): string[] {
  const found = new Set<string>();
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  while (found.size < count) found.add(`http://10.${next()}.${next()}.${next()}:8081`);
  return [...found];
}

for (const [n, sets] of [[3, 3], [5, 3], [10, 3], [50, 2]]) {
  Deno.test(`Ring gives ${n} nodes even shares, and a joiner takes about 1/${n + 1}`, () => {
    for (let set = 1; set <= sets; set++) {
      const [extra, ...nodes] = addressSet(n * 100 + set, n + 1);
      const ring = new Ring(nodes);
      // A slot's share of 1/n at 50 nodes varies by 0.7 % (binomial); 3 % is over 4 sd.
      for (const share of ring.shares().values()) {
        assert.ok(Math.abs(share * n - 1) < 0.03, `a share of ${share * n} of even`);
      }
      assert.equal(ring.shares(), ring.shares(), "counted once per ring");
      const grown = ring.with(extra);
      const taken = grown.shares().get(extra)! * (n + 1);
      assert.ok(taken > 0.9 && taken <= 1.1, `the joiner took ${taken} of its fair share`);
      for (let slot = set; slot < SLOTS; slot += 997) {
        const was = ring.owner(String(slot));
        const now = grown.owner(String(slot));
        if (was !== now) assert.equal(now, extra, `slot ${slot} moved between old nodes`);
      }
    }
  });
}
