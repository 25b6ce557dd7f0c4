// An mget whose share of one node (or the master's answer) is over the /mget answer limit (413):
// read in halves, and a key alone as a GET.

import assert from "node:assert/strict";
import { client, MASTER, view } from "./client_test_support.ts";

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
