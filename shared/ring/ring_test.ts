import assert from "node:assert/strict";
import fc from "fast-check";
import { Ring } from "./ring.ts";

// Point i of node "2" is "2#i", hashed to the number "i2": nodes 2, 4, 6 sit at 2/12/22, 4/14/24
// and 6/16/26, and a numeric key hashes to itself.
const digits = (text: string) => Number(text.split("#").reverse().join(""));

Deno.test("Ring.owner() places keys on the first point at or after their hash", () => {
  const ring = new Ring(["6", "4", "2"], { vnodes: 3, hash: digits });
  const cases: Record<string, string> = { "2": "2", "11": "2", "23": "4", "27": "2" };
  for (const [key, owner] of Object.entries(cases)) assert.equal(ring.owner(key), owner, key);

  const grown = ring.with("8"); // points 8, 18, 28
  assert.equal(grown.owner("27"), "8");
  for (const key of ["2", "11", "23"]) assert.equal(grown.owner(key), cases[key], key);
});

Deno.test("Ring.owners() returns n distinct nodes in ring order", () => {
  const ring = new Ring(["2", "4", "6"], { vnodes: 3, hash: digits });
  assert.deepEqual(ring.owners("3", 2), ["4", "6"]);
  assert.deepEqual(ring.owners("25", 3), ["6", "2", "4"]);
  assert.deepEqual(ring.owners("25", 9), ["6", "2", "4"]);
  assert.deepEqual(ring.owners("25", 0), []);
});

Deno.test("Ring.shares() gives each node the arcs that end at its points", () => {
  // Points 2, 12, 22 (node 2) and 4, 14, 24 (node 4): node 4 owns 2+2+2, node 2 the rest.
  const ring = new Ring(["2", "4"], { vnodes: 3, hash: digits });
  const shares = ring.shares();
  assert.equal(shares.get("4"), 6 / 2 ** 32);
  assert.equal(shares.get("2"), 1 - 6 / 2 ** 32);
  const even = new Ring(["a", "b", "c", "d"]).shares();
  assert.ok(Math.abs([...even.values()].reduce((a, b) => a + b) - 1) < 1e-9);
  for (const share of even.values()) assert.ok(share > 0.2 && share < 0.3);
});

Deno.test("Ring with no nodes owns nothing", () => {
  const ring = new Ring();
  assert.equal(ring.owner("a"), undefined);
  assert.deepEqual(ring.owners("a", 3), []);
  assert.equal(ring.size, 0);
});

Deno.test("Ring rejects a vnode count that is not a positive integer", () => {
  assert.throws(() => new Ring(["a"], { vnodes: 0 }), RangeError);
  assert.throws(() => new Ring(["a"], { vnodes: 1.5 }), RangeError);
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
      const a = new Ring(nodes, { vnodes: 16 });
      const b = new Ring(shuffled, { vnodes: 16 });
      for (const key of keyList) assert.deepEqual(a.owners(key, 3), b.owners(key, 3));
    }),
  );
});

Deno.test("Ring.owners() are distinct, start with the owner and stop at the node count", () => {
  fc.assert(
    fc.property(addresses, keys, fc.integer({ min: 1, max: 15 }), (nodes, keyList, n) => {
      const ring = new Ring(nodes, { vnodes: 8 });
      for (const key of keyList) {
        const owners = ring.owners(key, n);
        assert.equal(owners.length, Math.min(n, nodes.length));
        assert.equal(new Set(owners).size, owners.length);
        assert.equal(owners[0], ring.owner(key));
      }
    }),
  );
});

Deno.test("Ring moves only the keys of the node that joins or leaves", () => {
  fc.assert(
    fc.property(addresses, fc.webUrl(), keys, (nodes, extra, keyList) => {
      fc.pre(!nodes.includes(extra));
      const before = new Ring(nodes, { vnodes: 16 });
      const after = before.with(extra);
      for (const key of keyList) {
        const was = before.owner(key);
        const now = after.owner(key);
        if (was !== now) assert.equal(now, extra);
        assert.equal(after.without(extra).owner(key), was);
      }
    }),
  );
});

const MILLION = 1_000_000;

for (const n of [3, 10, 50]) {
  Deno.test(`Ring spreads 1,000,000 keys over ${n} nodes within 1.25x of even`, () => {
    const nodes = Array.from({ length: n }, (_, i) => `http://127.0.0.1:${8081 + i}`);
    const ring = new Ring(nodes);
    const grown = ring.with(`http://127.0.0.1:${8081 + n}`);
    const load = new Map<string, number>();
    let moved = 0;
    for (let i = 0; i < MILLION; i++) {
      const key = `key-${i}`;
      const owner = ring.owner(key)!;
      load.set(owner, (load.get(owner) ?? 0) + 1);
      if (grown.owner(key) !== owner) moved++;
    }
    const busiest = Math.max(...load.values()) / (MILLION / n);
    assert.ok(busiest <= 1.25, `busiest/average is ${busiest.toFixed(3)}`);
    // The new node takes about its fair share, 1/(n+1), of the keys, within ±15 %.
    const share = moved / MILLION * (n + 1);
    assert.ok(share >= 0.85 && share <= 1.15, `moved ${share.toFixed(3)} of a fair share`);
  });
}
