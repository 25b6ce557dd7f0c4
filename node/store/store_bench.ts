// Store set, get and evicting set, against a bare Map doing the same work (the group baseline).

import { entryBytes, Store } from "./store.ts";

const KEYS = 100_000;
const keys = Array.from({ length: KEYS }, (_, i) => `key:${String(i).padStart(12, "0")}`);
const value = "v".repeat(100);

const map = new Map<string, string>();
const store = new Store();
// Bounded to a tenth of the keys, so every write past the start evicts one.
const bounded = new Store({ maxBytes: (KEYS / 10) * entryBytes(keys[0], value) });
for (const key of keys) {
  map.set(key, value);
  store.set(key, value);
}
let i = 0;
const next = () => keys[i++ % KEYS];

Deno.bench("Map.get()", { group: "get", baseline: true }, () => {
  map.get(next());
});
Deno.bench("Store.get() (LRU touch)", { group: "get" }, () => {
  store.get(next());
});
Deno.bench("Map.set()", { group: "set", baseline: true }, () => {
  map.set(next(), value);
});
Deno.bench("Store.set()", { group: "set" }, () => {
  store.set(next(), value);
});
Deno.bench("Store.set() with a TTL", { group: "set" }, () => {
  store.set(next(), value, 60_000);
});
Deno.bench("Store.set() evicting the LRU key", { group: "set" }, () => {
  bounded.set(next(), value);
});
