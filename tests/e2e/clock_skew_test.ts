// Nodes whose clocks are 20 s off their writers' (libfaketime, Debian's faketime): writes at R=2
// still land. Without libfaketime these tests are reported as ignored, with the reason.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import { get, nodesOf, Processes, put, settled, waitFor, writeCalls } from "../support/process.ts";

/** Where Debian puts libfaketime, for any architecture; undefined when it is not installed. */
async function libfaketime(): Promise<string | undefined> {
  for await (const entry of Deno.readDir("/usr/lib")) {
    const path = `/usr/lib/${entry.name}/faketime/libfaketime.so.1`;
    if (await Deno.stat(path).then(() => true, () => false)) return path;
  }
  return undefined;
}

const library = await libfaketime();
if (!library) console.log("Clock skew tests ignored: libfaketime is not installed (apt faketime)");

// Nodes behind: each first try, stamped with a version 20 s ahead of their clocks, is refused by
// every owner (a version over 10 s ahead is), so the write goes through the primary instead.
// Nodes ahead: a write's deadline, 1 s from its sender's now, has passed on their clocks unless it
// is given in them, as the sender learns them from the nodes' answers and heartbeats.
for (const [skew, where] of [["-20s", "behind"], ["+20s", "ahead of"]]) {
  Deno.test({
    name: `R=2: writes through the master and a direct client land on nodes 20 s ${where} them`,
    ignore: library === undefined,
    async fn() {
      const processes = new Processes();
      // Only the wall clock: timers and leases keep the real one.
      const off = new Processes({
        LD_PRELOAD: library!,
        FAKETIME: skew,
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      });
      try {
        const master = await processes.master({ args: ["--replicas", "2"] });
        await Promise.all([1, 2, 3].map(() => off.node(master.url)));
        await waitFor(async () => (await nodesOf(master.url)).length === 3, "3 nodes registered");
        await settled(master.url);
        for (let i = 0; i < 20; i++) assert.equal(await put(master.url, `m${i}`, `v${i}`), 204);
        const del = await fetch(`${master.url}/keys/m0`, { method: "DELETE" });
        assert.equal(del.status, 204, await del.text());
        const cache = await CacheClient.connect(master.url, { mode: "direct" });
        try {
          const through = async () => {
            const { keys, msets } = await writeCalls([master.url]);
            return keys + msets;
          };
          const before = await through();
          assert.ok(before >= 20, `the master's own writes counted: ${before}`);
          await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`d${i}`, `v${i}`)));
          for (let i = 0; i < 20; i++) assert.equal(await cache.get(`d${i}`), `v${i}`);
          // Straight to the nodes: none fell back to the master.
          assert.equal(await through(), before);
        } finally {
          cache.close();
        }
        assert.equal(await get(master.url, "m0"), undefined);
        for (let i = 1; i < 20; i++) assert.equal(await get(master.url, `m${i}`), `v${i}`);
      } finally {
        await Promise.all([processes.stopAll(), off.stopAll()]);
      }
    },
  });
}
