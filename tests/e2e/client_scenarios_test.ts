// The end-to-end scenarios about data, run through the TypeScript client in both modes.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import { Ring } from "@cache/ring/ring";
import { get, nodesOf, Processes, settledCluster, waitFor } from "../support/process.ts";

for (const mode of ["direct", "proxy"] as const) {
  Deno.test(`[client ${mode}] put, get and delete land on each key's owners`, async () => {
    const processes = new Processes();
    const { master, nodes } = await settledCluster(processes, 3, ["--failure-timeout-ms", "600"]);
    const cache = await CacheClient.connect(master.url, { mode });
    try {
      const keys = Array.from({ length: 90 }, (_, i) => `user/${i} ✓`);
      for (const key of keys) await cache.set(key, `value of ${key}`);
      assert.deepEqual(await cache.mget(keys), keys.map((key) => `value of ${key}`));
      const view = await (await fetch(`${master.url}/ring`)).json();
      const ring = new Ring(view.nodes);
      for (const node of nodes) {
        for (const key of keys.slice(0, 30)) {
          const held = (await get(node.url, key)) !== undefined;
          assert.equal(held, ring.owners(key, view.replicas).includes(node.address), key);
        }
      }
      assert.equal(await cache.delete(keys[0]), true);
      assert.equal(await cache.get(keys[0]), undefined);
    } finally {
      cache.close();
      await processes.stopAll();
    }
  });

  Deno.test(`[client ${mode}] a SIGTERM'd and then a SIGKILL'd node lose no stored key`, async () => {
    const processes = new Processes();
    const { master, nodes } = await settledCluster(processes, 4, ["--failure-timeout-ms", "600"]);
    const cache = await CacheClient.connect(master.url, { mode });
    try {
      const items = Array.from({ length: 200 }, (_, i) => ({ key: `s${i}`, value: `v${i}` }));
      await cache.mset(items);
      assert.equal(await nodes[0].stop("SIGTERM"), 0);
      for (const { key, value } of items) assert.equal(await cache.get(key), value, key);
      await nodes[1].stop("SIGKILL");
      for (const { key, value } of items) assert.equal(await cache.get(key), value, key);
      // Writes whose backup is the dead node are refused (502) until the master marks it down.
      await waitFor(async () => {
        const known = await nodesOf(master.url);
        return known.some((n) => n.status === "down") &&
          known.every((n) => n.status === "down" || n.synced);
      }, "dead node marked down, keys re-replicated");
      await cache.set("after", "both");
      assert.equal(await cache.get("after"), "both");
    } finally {
      cache.close();
      await processes.stopAll();
    }
  });

  Deno.test(`[client ${mode}] ttl and batches`, async () => {
    const processes = new Processes();
    const { master } = await settledCluster(processes, 3, ["--failure-timeout-ms", "600"]);
    const cache = await CacheClient.connect(master.url, { mode });
    try {
      await cache.mset(Array.from({ length: 30 }, (_, i) => ({ key: `b${i}`, value: `v${i}` })));
      await cache.set("short", "v", { ttlSeconds: 0.3 });
      assert.deepEqual(await cache.mget(["b0", "b29", "nope", "short"]), [
        "v0",
        "v29",
        undefined,
        "v",
      ]);
      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(await cache.get("short"), undefined);
    } finally {
      cache.close();
      await processes.stopAll();
    }
  });
}
