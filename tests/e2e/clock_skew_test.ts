// Nodes whose clocks run behind their writers' (libfaketime, Debian's faketime): writes at R=2
// still land. Without libfaketime the test is reported as ignored, with the reason.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import { get, nodesOf, Processes, put, settled, waitFor } from "../support/process.ts";

/** Where Debian puts libfaketime, for any architecture; undefined when it is not installed. */
async function libfaketime(): Promise<string | undefined> {
  for await (const entry of Deno.readDir("/usr/lib")) {
    const path = `/usr/lib/${entry.name}/faketime/libfaketime.so.1`;
    if (await Deno.stat(path).then(() => true, () => false)) return path;
  }
  return undefined;
}

const library = await libfaketime();
if (!library) console.log("Clock skew test ignored: libfaketime is not installed (apt faketime)");

Deno.test({
  name: "R=2: writes through the master and a direct client land on nodes 20 s behind them",
  ignore: library === undefined,
  async fn() {
    const processes = new Processes();
    // Only the wall clock: timers and leases keep the real one.
    const behind = new Processes({
      LD_PRELOAD: library!,
      FAKETIME: "-20s",
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    });
    try {
      const master = await processes.master({ args: ["--replicas", "2"] });
      await Promise.all([1, 2, 3].map(() => behind.node(master.url)));
      await waitFor(async () => (await nodesOf(master.url)).length === 3, "3 nodes registered");
      await settled(master.url);
      // Each first try, stamped with a version 20 s ahead of the nodes' clocks, is refused by
      // every owner (a version over 10 s ahead is): the write goes through the primary instead.
      for (let i = 0; i < 20; i++) assert.equal(await put(master.url, `m${i}`, `v${i}`), 204);
      const cache = await CacheClient.connect(master.url, { mode: "direct" });
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`d${i}`, `v${i}`)));
        for (let i = 0; i < 20; i++) assert.equal(await cache.get(`d${i}`), `v${i}`);
      } finally {
        cache.close();
      }
      for (let i = 0; i < 20; i++) assert.equal(await get(master.url, `m${i}`), `v${i}`);
    } finally {
      await Promise.all([processes.stopAll(), behind.stopAll()]);
    }
  },
});
