// The node's cache semantics over HTTP: TTLs, the memory bound, exact stats and batches.

import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { createApp, type NodeDeps } from "./app.ts";
import { entryBytes, Store } from "../store/store.ts";
import { LINES_TYPE } from "@cache/protocol/wire";

function node(
  options: { maxBytes?: number; eviction?: "lru" | "noeviction" } = {},
  deps: Partial<NodeDeps> = {},
) {
  const clock = { now: 1_000_000 };
  const store = new Store({ now: () => clock.now, ...options });
  const app = createApp({
    store,
    maxValueBytes: 1024 * 1024,
    notReady: () => undefined,
    log,
    now: () => clock.now,
    ...deps,
  });
  const send = async (path: string, init?: RequestInit) => await app.request(path, init);
  const post = (path: string, body: unknown) =>
    send(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return { clock, send, post, stats: async () => await (await send("/stats")).json() };
}

Deno.test("node expires a key at its ttl and says the seconds left", async () => {
  const { clock, send, post } = node();
  assert.equal((await post("/keys", { key: "k", value: "v", ttl: 1.5 })).status, 204);
  clock.now += 500;
  // Written at 1,000,000 ms: version 1,000,000,000, the clock's microseconds.
  const version = "0.1000000000";
  assert.deepEqual(await (await send("/keys/k")).json(), { key: "k", value: "v", ttl: 1, version });
  clock.now += 1000;
  assert.equal((await send("/keys/k")).status, 404);
  assert.equal((await post("/keys", { key: "plain", value: "v" })).status, 204);
  assert.deepEqual(await (await send("/keys/plain")).json(), {
    key: "plain",
    value: "v",
    version: "0.1001500000",
  });
});

Deno.test("node applies --default-ttl to writes without a ttl", async () => {
  const { clock, send, post } = node({}, { defaultTtlSeconds: 10 });
  await post("/keys", { key: "k", value: "v" });
  await post("/keys", { key: "own", value: "v", ttl: 100 });
  assert.equal((await (await send("/keys/k")).json()).ttl, 10);
  clock.now += 10_000;
  assert.equal((await send("/keys/k")).status, 404);
  assert.equal((await send("/keys/own")).status, 200);
});

Deno.test("node stats are exact after a known sequence of operations", async () => {
  const plain = entryBytes("k0", "v");
  const maxBytes = 2 * plain + entryBytes("k1", "v", true); // k0, k1 (ttl) and k2 fit
  const { clock, send, post, stats } = node({ maxBytes });
  await post("/keys", { key: "k0", value: "v" });
  await post("/keys", { key: "k1", value: "v", ttl: 1 });
  await post("/keys", { key: "k2", value: "v" });
  await send("/keys/k0"); // hit
  await send("/keys/nope"); // miss
  await post("/keys", { key: "k3", value: "v" }); // evicts k1, the least recently used
  await post("/keys", { key: "k4", value: "v", ttl: 2 }); // evicts k2
  clock.now += 2000; // k4 expires
  await post("/mget", { keys: ["k0", "k1", "k3"] }); // 2 hits, 1 miss
  clock.now += 500;
  assert.deepEqual(await stats(), {
    keys: 2,
    primaryKeys: 2, // no ring: the primary of every key it holds
    bytes: 2 * plain,
    maxBytes,
    hits: 3,
    misses: 2,
    evictions: 2,
    expired: 1,
    uptimeSeconds: 2.5,
  });
});

Deno.test("node answers 413 for an entry larger than the whole bound, evicting nothing", async () => {
  const { send, post, stats } = node({ maxBytes: 1000 });
  await post("/keys", { key: "a", value: "v" });
  const big = await post("/keys", { key: "b", value: "x".repeat(1000) });
  assert.equal(big.status, 413);
  assert.match((await big.json()).error, /more than the whole memory bound of 1000 bytes/);
  assert.equal((await send("/keys/a")).status, 200);
  assert.equal((await stats()).evictions, 0);
});

Deno.test("node with noeviction answers 507 when full and keeps every key", async () => {
  const size = entryBytes("k0", "v");
  const { send, post, stats } = node({ maxBytes: 2 * size, eviction: "noeviction" });
  await post("/keys", { key: "k0", value: "v" });
  await post("/keys", { key: "k1", value: "v" });
  const full = await post("/keys", { key: "k2", value: "v" });
  assert.equal(full.status, 507);
  assert.match((await full.json()).error, /Out of memory/);
  const batch = await post("/mset", {
    items: [{ key: "k0", value: "w" }, { key: "k5", value: "v" }],
  });
  assert.equal(batch.status, 507);
  assert.deepEqual(await (await send("/keys/k0")).json(), {
    key: "k0",
    value: "v",
    version: "0.1000000000", // its first write's: the refused batch changed nothing
  });
  const after = await stats();
  assert.deepEqual([after.keys, after.evictions], [2, 0]);
});

Deno.test("node with noeviction, full, takes a TTL on a stored key", async () => {
  // As Redis takes EXPIRE when full: keys told to expire make room. Refused 507 before.
  const size = entryBytes("k0", "v");
  const { clock, send, post } = node({ maxBytes: 2 * size, eviction: "noeviction" });
  await post("/keys", { key: "k0", value: "v" });
  await post("/keys", { key: "k1", value: "v" });
  assert.equal((await post("/keys", { key: "k2", value: "v" })).status, 507);
  for (const key of ["k0", "k1"]) {
    const touched = await post(`/keys/${key}/touch`, { ttl: 1 });
    assert.equal(touched.status, 204, await touched.text());
  }
  clock.now += 1000;
  assert.equal((await post("/keys", { key: "k2", value: "v" })).status, 204);
  assert.equal((await send("/keys/k0")).status, 404);
});

Deno.test("node mget returns found items in order and lists the missing", async () => {
  const { post } = node();
  await post("/mset", { items: [{ key: "a", value: "1" }, { key: "b", value: "2", ttl: 5 }] });
  const found = await post("/mget", { keys: ["b", "zz", "a"] });
  assert.deepEqual(await found.json(), {
    // A batch's writes take versions in order, from the clock's microseconds.
    items: [
      { key: "b", value: "2", ttl: 5, version: "0.1000000001" },
      { key: "a", value: "1", version: "0.1000000000" },
    ],
    missing: ["zz"],
  });
});

Deno.test("node mget refuses 413 an answer past 16 MiB of values, repeats counted", async () => {
  const { post, send } = node();
  const value = "x".repeat(1024 * 1024);
  assert.equal((await post("/keys", { key: "big", value })).status, 204);
  const sixteen = await post("/mget", { keys: Array(16).fill("big") });
  assert.equal((await sixteen.json()).items.length, 16);
  for (const accept of ["application/json", LINES_TYPE]) {
    const over = await send("/mget", {
      method: "POST",
      headers: { "content-type": "application/json", accept },
      body: JSON.stringify({ keys: Array(1000).fill("big") }),
    });
    assert.equal(over.status, 413);
    assert.match((await over.json()).error, /over 16777216 characters.*fewer keys/);
  }
});

Deno.test("node mget counts values as JSON writes them: escapes and all", async () => {
  // 1 MiB of control characters is 6 MiB of JSON: 16 of them made a 96 MiB answer.
  const { post } = node();
  const value = "\u0001".repeat(1024 * 1024);
  assert.equal((await post("/keys", { key: "escaped", value })).status, 204);
  const two = await post("/mget", { keys: ["escaped", "escaped"] });
  assert.equal((await two.json()).items.length, 2);
  const three = await post("/mget", { keys: ["escaped", "escaped", "escaped"] });
  assert.equal(three.status, 413);
  assert.match((await three.json()).error, /characters of JSON/);
  // A lone surrogate is written "\ud800" too; a pair as it is.
  const lone = "\ud800".repeat(300 * 1024); // 900 KiB of UTF-8, 1.8 Mi characters of JSON
  assert.equal((await post("/keys", { key: "lone", value: lone })).status, 204);
  const eight = await post("/mget", { keys: Array(8).fill("lone") });
  assert.equal(eight.status, 200);
  await eight.body?.cancel();
  assert.equal((await post("/mget", { keys: Array(10).fill("lone") })).status, 413);
  const pairs = "\ud83d\ude00".repeat(256 * 1024);
  assert.equal((await post("/keys", { key: "pairs", value: pairs })).status, 204);
  const many = await post("/mget", { keys: Array(30).fill("pairs") });
  assert.equal(many.status, 200, "16 Mi characters: 30 of 512 Ki");
  await many.body?.cancel();
});

Deno.test("node mset writes nothing when one item is invalid", async () => {
  const { post, stats } = node();
  const bad = await post("/mset", {
    items: [{ key: "a", value: "1" }, { key: "b", value: "2", ttl: 0 }],
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /items\.1\.ttl/);
  assert.equal((await stats()).keys, 0);
});
