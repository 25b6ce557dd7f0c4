// Ring lookups against the cost of hashing the key alone (the baseline of the group).

import { hash32 } from "./hash.ts";
import { Ring } from "./ring.ts";

const keys = Array.from({ length: 1024 }, (_, i) => `user:${i}:session`);
const nodes = (n: number) => Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:8081`);
const ring3 = new Ring(nodes(3));
const ring50 = new Ring(nodes(50));
let i = 0;
const next = () => keys[i++ & 1023];

Deno.bench("hash32(key) alone", { group: "lookup", baseline: true }, () => {
  hash32(next());
});
Deno.bench("Ring.owner(key), 3 nodes", { group: "lookup" }, () => {
  ring3.owner(next());
});
Deno.bench("Ring.owner(key), 50 nodes", { group: "lookup" }, () => {
  ring50.owner(next());
});
Deno.bench("Ring.owners(key, 2), 50 nodes", { group: "lookup" }, () => {
  ring50.owners(next(), 2);
});
Deno.bench("Ring.owners(key, 3), 50 nodes", { group: "lookup" }, () => {
  ring50.owners(next(), 3);
});
// A new ring scores a slot the first time a key falls into it: this is a lookup's cost then.
Deno.bench("Ring.owner(key) of a slot not yet scored, 50 nodes", { group: "cold" }, (b) => {
  const ring = new Ring(nodes(50));
  b.start();
  for (const key of keys) ring.owner(key);
  b.end();
});
Deno.bench("new Ring(), 50 nodes", { group: "build" }, () => {
  new Ring(nodes(50));
});
