// The client's and the CLI's versioned reads, conditional writes, counters, touch, scan and flush
// against a real master and real nodes, in one process (tests/support/in_process.ts), in both
// modes. shared/client/client_atomic_test.ts checks the routing and retries against stand-ins.

import assert from "node:assert/strict";
import { CacheClient, CacheError } from "@cache/client";
import { cli } from "../../shared/client/cli_test_support.ts";
import { inProcessCluster } from "../support/in_process.ts";

const MASTER = "http://master";
const MODES = ["direct", "proxy"] as const;

/** A client of a new in-process cluster of `nodes` nodes, in `mode`. */
async function connected(mode: "direct" | "proxy", nodes = 2) {
  const cluster = inProcessCluster(nodes);
  const cache = await CacheClient.connect(MASTER, { mode, fetch: cluster.fetch });
  return { cluster, cache };
}

for (const mode of MODES) {
  Deno.test(`CacheClient (${mode}) reads versions and writes only while a condition holds`, async () => {
    const { cache } = await connected(mode);
    try {
      assert.equal(await cache.add("k", "1"), true);
      assert.equal(await cache.add("k", "2"), false, "stored already");
      const first = await cache.getItem("k");
      assert.ok(first, "stored");
      assert.equal(first.value, "1");
      assert.equal(typeof first.version, "string");
      assert.deepEqual(await cache.cas("k", "2", first.version), { ok: true });
      const second = await cache.getItem("k");
      assert.equal(second?.value, "2");
      assert.notEqual(second?.version, first.version, "every write gives a new version");
      assert.deepEqual(await cache.cas("k", "3", first.version), {
        ok: false,
        version: second?.version,
      });
      const error = await cache.set("k", "3", { ifVersion: first.version }).catch((e) => e);
      assert.ok(error instanceof CacheError && error.status === 412, String(error));
      assert.equal(error.details.version, second?.version);
      assert.equal(await cache.replace("absent", "v"), false);
      assert.deepEqual(await cache.cas("absent", "v", "0.1"), { ok: false, version: null });
      assert.deepEqual(await cache.cas("absent", "v", null), { ok: true });
      assert.equal(await cache.replace("absent", "w", { ttlSeconds: 30 }), true);
      const replaced = await cache.getItem("absent");
      assert.deepEqual([replaced?.value, replaced?.ttlSeconds], ["w", 30]);
      const items = await cache.getItems(["k", "nobody", "absent"]);
      assert.deepEqual(items.map((item) => item?.version), [
        second?.version,
        undefined,
        replaced?.version,
      ]);
      assert.equal(await cache.get("k"), "2", "a failed condition changed nothing");
    } finally {
      cache.close();
    }
  });

  Deno.test(`CacheClient (${mode}) counts exactly once per request id, from 0, refusing non-integers`, async () => {
    const { cache } = await connected(mode);
    try {
      assert.equal((await cache.incr("hits")).value, 1, "a missing key starts at 0");
      assert.equal((await cache.incr("hits", 10)).value, 11);
      const once = await cache.incr("hits", 5, { requestId: "r-1" });
      const again = await cache.incr("hits", 5, { requestId: "r-1" }); // a retry: not applied
      assert.deepEqual(again, once);
      assert.equal(once.value, 16);
      assert.equal(await cache.get("hits"), "16", "the value stays a decimal string");
      assert.equal((await cache.getItem("hits"))?.version, once.version);
      assert.equal((await cache.decr("hits", 20)).value, -4);
      const counted = await cache.incr("session", 1, { ttlSeconds: 45 });
      assert.equal((await cache.getItem("session"))?.ttlSeconds, 45);
      assert.equal(counted.key, "session");
      await cache.set("name", "Ada");
      await assert.rejects(cache.incr("name"), (e: CacheError) => e.status === 409);
      await cache.set("big", String(2 ** 53 - 1));
      await assert.rejects(cache.incr("big"), (e: CacheError) => e.status === 409);
      assert.equal(await cache.get("name"), "Ada", "a refused increment changed nothing");
    } finally {
      cache.close();
    }
  });

  Deno.test(`CacheClient (${mode}) applies an increment once when its answer was lost`, async () => {
    const cluster = inProcessCluster(2);
    const sent: string[] = []; // the client's own calls of incr
    const cache = await CacheClient.connect(MASTER, {
      mode,
      // The first two increments reach their app and are applied; their answers are lost.
      fetch: async (input, init) => {
        const answer = await cluster.fetch(input, init);
        if (!String(input).endsWith("/incr")) return answer;
        sent.push(new URL(input).origin);
        if (sent.length <= 2) throw new TypeError("Connection reset by peer");
        return answer;
      },
    });
    try {
      assert.equal((await cache.incr("hits", 5)).value, 5);
      assert.equal(await cache.get("hits"), "5", "applied once, not three times");
      // Direct: the node, the node again by a newer ring, then the master; proxy: the master, in
      // three rounds.
      const [node] = sent;
      assert.deepEqual(
        sent,
        mode === "direct" ? [node, node, MASTER] : [MASTER, MASTER, MASTER],
      );
      assert.notEqual(node, mode === "direct" ? MASTER : undefined);
    } finally {
      cache.close();
    }
  });

  Deno.test(`CacheClient (${mode}) touches a key's TTL, and says when there is no key`, async () => {
    const { cache } = await connected(mode);
    try {
      await cache.set("k", "v", { ttlSeconds: 10 });
      const before = await cache.getItem("k");
      assert.equal(await cache.touch("k", 300), true);
      const touched = await cache.getItem("k");
      assert.equal(touched?.ttlSeconds, 300);
      assert.notEqual(touched?.version, before?.version, "a touch is a write");
      assert.equal(await cache.touch("k", null), true);
      assert.equal((await cache.getItem("k"))?.ttlSeconds, undefined, "it no longer expires");
      assert.equal(await cache.touch("nobody", 5), false);
    } finally {
      cache.close();
    }
  });

  Deno.test(`CacheClient (${mode}) scans every key once across the nodes, then flushes them`, async () => {
    const { cache, cluster } = await connected(mode, 3);
    try {
      const keys = Array.from({ length: 250 }, (_, i) => `user:${i}`);
      await cache.mset(keys.map((key) => ({ key, value: "v" })));
      await cache.mset([{ key: "other", value: "v" }]);
      const scanned: string[] = [];
      for await (const key of cache.scan({ prefix: "user:", count: 40 })) scanned.push(key);
      assert.equal(scanned.length, keys.length, "each key once");
      assert.deepEqual(scanned.sort(), keys.sort());
      const held = [...cluster.stores.values()].filter((store) => store.keys().length > 0).length;
      assert.equal(held, 3, "the keys are spread over every node");
      const first = await cache.scanPage({ count: 10 });
      assert.ok(first.keys.length <= 10 && first.cursor !== null, JSON.stringify(first));
      await cache.flush();
      const left: string[] = [];
      for await (const key of cache.scan()) left.push(key);
      assert.deepEqual(left, []);
      assert.equal(await cache.get("user:1"), undefined);
    } finally {
      cache.close();
    }
  });
}

Deno.test("cache incr, set --nx/--if-version, get --json, touch, scan and flush on real apps", async () => {
  const { fetch } = inProcessCluster(2);
  const env = { CACHE_URL: MASTER };
  const run = (...args: string[]) => cli(args, { fetch }, env);
  assert.deepEqual(await run("incr", "hits"), { code: 0, stdout: "1\n", stderr: "" });
  assert.deepEqual(await run("incr", "hits", "41", "--request-id", "r-1"), {
    code: 0,
    stdout: "42\n",
    stderr: "",
  });
  assert.equal((await run("incr", "hits", "41", "--request-id", "r-1")).stdout, "42\n");
  assert.equal((await run("decr", "hits", "--proxy")).stdout, "41\n");
  const got = JSON.parse((await run("get", "hits", "--json")).stdout);
  assert.deepEqual([got.key, got.value, typeof got.version], ["hits", "41", "string"]);
  assert.deepEqual(await run("set", "hits", "0", "--nx"), {
    code: 1,
    stdout: `NOT SET (at version ${got.version})\n`,
    stderr: "",
  });
  assert.equal((await run("set", "hits", "0", "--if-version", got.version)).stdout, "OK\n");
  assert.equal((await run("set", "hits", "1", "--if-version", got.version)).code, 1);
  assert.equal((await run("set", "fresh", "v", "--xx")).stdout, "NOT SET (not stored)\n");
  assert.deepEqual(await run("touch", "hits", "60"), { code: 0, stdout: "1\n", stderr: "" });
  assert.equal(JSON.parse((await run("get", "hits", "--json")).stdout).ttl, 60);
  assert.deepEqual(await run("touch", "nobody", "none"), { code: 1, stdout: "0\n", stderr: "" });
  await run("set", "name", "Ada");
  const refused = await run("incr", "name");
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^cache: The cluster at http:\/\/master answered 409: /);
  const scanned = await run("scan", "--count", "1");
  assert.equal(scanned.code, 0, scanned.stderr);
  assert.deepEqual(scanned.stdout.split("\n").filter(Boolean).sort(), ["hits", "name"]);
  assert.deepEqual(await run("flush", "--yes"), { code: 0, stdout: "OK\n", stderr: "" });
  assert.deepEqual(await run("scan", "--json"), { code: 0, stdout: '{"keys":[]}\n', stderr: "" });
});
