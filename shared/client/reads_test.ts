// The client's reads: while keys move through two ring changes or more, a node's hit written before
// the ring may be older than a copy still on its way, so the master, which compares every ring's
// owners, is asked; and an mget answered 413 (over the /mget answer limit) is read in halves.

import assert from "node:assert/strict";
import type { RingView } from "@cache/protocol/wire";
import { client, MASTER, view } from "./client_test_support.ts";

const A = "http://a:1";

/** How each way of reading one key reads it. */
const READS = {
  get: (cache: Awaited<ReturnType<typeof client>>["cache"]) => cache.get("k"),
  "get with a signal": (cache: Awaited<ReturnType<typeof client>>["cache"]) =>
    cache.get("k", { signal: new AbortController().signal }),
  mget: async (cache: Awaited<ReturnType<typeof client>>["cache"]) => (await cache.mget(["k"]))[0],
};

/**
 * What a direct read of "k" answers, and whether it asked the master, when node a holds "k" at
 * `version` ("old") and the master knows "new" (or that it was deleted), by `ring`.
 */
async function read(how: keyof typeof READS, ring: RingView, version: string, deleted = false) {
  const item = (value: string, version: string) => ({ key: "k", value, version });
  const { cache, calls } = await client({ current: ring }, (node, method, path) => {
    const held = node === MASTER ? item("new", `${ring.epoch}.5`) : item("old", version);
    const gone = node === MASTER && deleted;
    if (path === "/mget") {
      return Response.json(gone ? { items: [], missing: ["k"] } : { items: [held], missing: [] });
    }
    assert.equal(`${method} ${path}`, "GET /keys/k");
    return gone ? Response.json({ error: "Key not found" }, { status: 404 }) : Response.json(held);
  });
  try {
    const value = await READS[how](cache);
    return { value, master: calls.some((call) => call.includes(MASTER)) };
  } finally {
    cache.close();
  }
}

for (const how of Object.keys(READS) as (keyof typeof READS)[]) {
  Deno.test(`A direct ${how} asks the master for a hit older than the ring while keys move through two changes`, async () => {
    const moving = { ...view(10, [A]), settled: false, movingRings: 2 };
    // Written before this ring: a copy of a later write may be on its way to a.
    assert.deepEqual(await read(how, moving, "9.7"), { value: "new", master: true });
    assert.deepEqual(await read(how, moving, "9.7", true), { value: undefined, master: true });
    // Written in this ring: its owners took it, a is one.
    assert.deepEqual(await read(how, moving, "10.7"), { value: "old", master: false });
    // Through one change, an owner holds a key of an earlier ring only if no one wrote it since.
    const once = { ...moving, movingRings: 1 };
    assert.deepEqual(await read(how, once, "9.7"), { value: "old", master: false });
    assert.deepEqual(await read(how, view(10, [A]), "9.7"), { value: "old", master: false });
  });
}

/** A node or master whose `/mget` answers 413 for more than one key, or for "c". */
function overLimit(path: string, body: string): Response {
  const item = (key: string) => ({ key, value: `v-${key}`, version: "1.1" });
  if (path !== "/mget") return Response.json(item(decodeURIComponent(path.slice("/keys/".length))));
  const asked: string[] = JSON.parse(body).keys;
  if (asked.length > 1 || asked[0] === "c") {
    return Response.json({ error: "The values found are over the limit" }, { status: 413 });
  }
  return Response.json({ items: asked.map(item), missing: [] });
}

for (const mode of ["direct", "proxy"] as const) {
  Deno.test(`CacheClient.mget() (${mode}) reads what is answered 413 in halves, then key by key`, async () => {
    // Values of 16 Mi characters of JSON in all failed the mget; 12 get()s of them did not.
    const keys = ["a", "b", "c", "d", "e"];
    const ring = { current: view(1, ["http://n:1"]) };
    const { cache, calls } = await client(
      ring,
      (_n, _m, path, body) => overLimit(path, body),
      mode,
    );
    try {
      assert.deepEqual(await cache.mget(keys), keys.map((key) => `v-${key}`));
      const origin = mode === "direct" ? "http://n:1" : MASTER;
      assert.ok(calls.includes(`GET ${origin}/keys/c`), calls.join("\n"));
      assert.ok(calls.every((call) => call.includes(origin)), calls.join("\n"));
    } finally {
      cache.close();
    }
  });
}
