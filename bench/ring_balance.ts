// Prints how evenly the ring spreads keys, how many a join moves, and what building and lookups
// cost, for 3, 5, 10 and 50 nodes on random address sets. Figures only: it never fails on time.
//
//   deno run bench/ring_balance.ts [--keys 300000] [--sets 10] [--seed 1]
//
// Per node count, over the address sets (min–max; times and rates the median, as this machine's
// neighbours make single runs swing by 3x):
//   primaries  busiest node's share of keys over the average, as owner()
//   copies     the same for both copies at R=2, as owners(key, 2)
//   sampling   the same if each key went to a node drawn at random: the noise of the sample alone
//   join       keys whose owner changes when one more node joins, over the ideal keys/(n+1)
//   new Ring   building a ring; a slot is scored when a key first falls into it
//   all slots  scoring every slot at once, which shares() does
//   cold, warm owner() lookups per second on a new ring, then once its slots are scored
//   hash       hash32(key) alone per second: the most a lookup could reach

import { parseArgs } from "node:util";
import { hash32 } from "@cache/ring/hash";
import { Ring } from "@cache/ring/ring";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    keys: { type: "string", default: "300000" },
    sets: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
  },
});
const keyCount = Number(flags.keys);
const sets = Number(flags.sets);
const seed = Number(flags.seed);
if (![keyCount, sets, seed].every((n) => Number.isSafeInteger(n) && n > 0)) {
  console.error("--keys, --sets and --seed must be whole numbers above 0");
  Deno.exit(2);
}

/** A xorshift32 generator of 32-bit unsigned integers: the same sequence for the same seed. */
function generator(start: number): () => number {
  let state = start >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>>= 0);
  };
}

const random = generator(seed);
const keys = Array.from(
  { length: keyCount },
  () => `key:${random().toString(36)}${random().toString(36)}`,
);

/** `count` distinct addresses http://10.x.y.z:8081. */
function addresses(count: number): string[] {
  const found = new Set<string>();
  const byte = () => random() & 0xff;
  while (found.size < count) found.add(`http://10.${byte()}.${byte()}.${byte()}:8081`);
  return [...found];
}

/** Milliseconds `run` takes, and what it returns. */
function timed<T>(run: () => T): [number, T] {
  const start = performance.now();
  const result = run();
  return [performance.now() - start, result];
}

/** The busiest count over the average of `total` spread over `counts.size` nodes. */
const busiest = (counts: Map<string, number>, total: number, nodes: number) =>
  Math.max(...counts.values()) / (total / nodes);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const range = (values: number[]) =>
  `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
const rate = (ms: number) => `${(keyCount / ms / 1000).toFixed(1)} M/s`;

// A first pass compiles the lookup path, so the first row does not pay for it.
const warmUp = new Ring(addresses(3));
for (let pass = 0; pass < 3; pass++) {
  for (const key of keys) warmUp.owner(key);
}

console.log(`${keyCount.toLocaleString("en")} keys, ${sets} address sets per row, seed ${seed}\n`);
const head = ["nodes", "primaries", "copies R=2", "sampling", "join", "new Ring", "all slots"];
console.log([...head, "cold", "warm", "hash"].join(" | "));
for (const n of [3, 5, 10, 50]) {
  const rows: Record<string, number[]> = {
    primaries: [],
    copies: [],
    sampling: [],
    join: [],
    build: [],
    all: [],
    cold: [],
    warm: [],
    hash: [],
  };
  for (let set = 0; set < sets; set++) {
    const [extra, ...nodes] = addresses(n + 1);
    const [build, ring] = timed(() => new Ring(nodes));
    const primaries = new Map<string, number>();
    const [cold] = timed(() => {
      for (const key of keys) ring.owner(key);
    });
    const [warm] = timed(() => {
      for (const key of keys) ring.owner(key);
    });
    const [hashing] = timed(() => {
      let sum = 0;
      for (const key of keys) sum += hash32(key);
      return sum;
    });
    const copies = new Map<string, number>();
    const sampling = new Map<string, number>();
    const grown = ring.with(extra);
    let moved = 0;
    for (const key of keys) {
      const [primary, backup] = ring.owners(key, 2);
      primaries.set(primary, (primaries.get(primary) ?? 0) + 1);
      copies.set(primary, (copies.get(primary) ?? 0) + 1);
      copies.set(backup, (copies.get(backup) ?? 0) + 1);
      const drawn = nodes[hash32(key, set + 1) % n];
      sampling.set(drawn, (sampling.get(drawn) ?? 0) + 1);
      if (grown.owner(key) !== primary) moved++;
    }
    const [all] = timed(() => new Ring(nodes).shares());
    rows.primaries.push(busiest(primaries, keyCount, n));
    rows.copies.push(busiest(copies, 2 * keyCount, n));
    rows.sampling.push(busiest(sampling, keyCount, n));
    rows.join.push(moved / (keyCount / (n + 1)));
    rows.build.push(build);
    rows.all.push(all);
    rows.cold.push(cold);
    rows.warm.push(warm);
    rows.hash.push(hashing);
  }
  console.log([
    n,
    range(rows.primaries),
    range(rows.copies),
    range(rows.sampling),
    range(rows.join),
    `${median(rows.build).toFixed(2)} ms`,
    `${median(rows.all).toFixed(0)} ms`,
    rate(median(rows.cold)),
    rate(median(rows.warm)),
    rate(median(rows.hash)),
  ].join(" | "));
}
