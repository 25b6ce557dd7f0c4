// The node's `/stats`: the copies it holds, and those it is the primary of in its ring.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import { Store } from "../../store/store.ts";
import { createApp } from "../app.ts";
import { primaryKeys } from "../../cluster/primary_keys.ts";

const SELF = "http://a:1";
const ring = new Ring([SELF, "http://b:1", "http://c:1"]);
const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);

function node(ring?: Ring) {
  const store = new Store({ countsSlots: true });
  for (const key of keys) store.set(key, "v");
  const keysOwned = ring && primaryKeys(store, SELF, () => ring);
  const app = createApp({
    store,
    maxValueBytes: 1024,
    notReady: () => undefined,
    log,
    primaryKeys: keysOwned,
  });
  return async () => await (await app.request("/stats")).json();
}

Deno.test("node /stats counts every copy as keys and those it is the primary of as primaryKeys", async () => {
  const stats = await node(ring)();
  const primaries = keys.filter((key) => ring.owner(key) === SELF).length;
  assert.ok(primaries > 0 && primaries < keys.length, `${primaries} primaries`);
  assert.equal(stats.keys, keys.length);
  assert.equal(stats.primaryKeys, primaries);
});

Deno.test("node /stats of a node with no ring says it is the primary of every key", async () => {
  const stats = await node()();
  assert.equal(stats.keys, keys.length);
  assert.equal(stats.primaryKeys, keys.length);
});
