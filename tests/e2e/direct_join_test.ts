// Read by read through joins, with a direct client's increments routed by the ring before: no read
// through the master answers a value older than one already acknowledged.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import { Processes, settledCluster } from "../support/process.ts";

const KEYS = 16;
const WRITERS = 8;
const READERS = 8;

Deno.test("reads through joins never answer older than an increment a direct client acknowledged", async () => {
  const processes = new Processes();
  // Nodes beat at the default 1 s: a primary goes on writing by the ring before for that long.
  const nodeArgs = ["--heartbeat-ms", "1000"];
  const { master } = await settledCluster(
    processes,
    3,
    ["--replicas", "2", "--failure-timeout-ms", "3000"],
    nodeArgs,
  );
  const client = await CacheClient.connect(master.url, { timeoutMs: 3000 });
  const acked = new Map<string, number>(); // the highest value acknowledged, per key
  const stale: string[] = [];
  let reads = 0;
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const key = `counter:${(w + i * WRITERS) % KEYS}`;
      try {
        const { value } = await client.incr(key);
        if (value > (acked.get(key) ?? 0)) acked.set(key, value);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20)); // unknown: not acknowledged
      }
    }
  };
  const reader = async (r: number) => {
    for (let i = 0; !stop; i++) {
      const key = `counter:${(r + i) % KEYS}`;
      const before = acked.get(key) ?? 0;
      const answer = await fetch(`${master.url}/keys/${key}`).catch(() => undefined);
      if (!answer?.ok) {
        await answer?.body?.cancel();
        continue;
      }
      const value = Number((await answer.json()).value);
      reads++;
      if (value < before) stale.push(`${key}: read ${value} after ${before} was acknowledged`);
    }
  };
  try {
    const load = [
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
      ...Array.from({ length: READERS }, (_, r) => reader(r)),
    ];
    for (let join = 0; join < 3; join++) {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await processes.node(master.url, nodeArgs);
    }
    await new Promise((resolve) => setTimeout(resolve, 2500));
    stop = true;
    await Promise.all(load);
    console.log(`  ${reads} reads, ${stale.length} older than acknowledged`);
    // Reads of acknowledged increments, or nothing was checked.
    assert.equal(acked.size, KEYS, "every key was incremented");
    assert.ok(reads > 1000, `${reads} reads answered`);
    assert.deepEqual(stale.slice(0, 5), [], `${stale.length} stale reads`);
  } finally {
    stop = true;
    client.close();
    await processes.stopAll();
  }
});
