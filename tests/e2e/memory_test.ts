// A node bounded to 32 MB takes 200 MB of writes over HTTP and stays within its bound.

import assert from "node:assert/strict";
import { get, Processes, put } from "../support/process.ts";

const MIB = 1024 * 1024;
const VALUE_BYTES = 64 * 1024;
const WRITES = (200 * MIB) / VALUE_BYTES; // 3200 writes of 64 KiB

function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

Deno.test({
  name: "a node with --max-memory 32mb takes 200 MB of writes and keeps the newest keys",
  ignore: Deno.build.os !== "linux", // reads RSS from /proc
  fn: async () => {
    const processes = new Processes();
    try {
      const node = await processes.node("none", ["--max-memory", "32mb"]); // a node on its own
      const stats = async () => await (await fetch(`${node.url}/stats`)).json();
      const idleRss = rssBytes(node.pid);
      let peakRss = idleRss;
      let peakBytes = 0;
      for (let i = 0; i < WRITES; i++) {
        const value = `${i}:`.padEnd(VALUE_BYTES, "x");
        assert.equal(await put(node.url, `key-${i}`, value), 204);
        if (i % 100 === 99) {
          const { bytes, maxBytes } = await stats();
          assert.equal(maxBytes, 32 * MIB);
          assert.ok(bytes <= 32 * MIB, `accounted ${bytes} bytes after ${i + 1} writes`);
          peakBytes = Math.max(peakBytes, bytes);
          peakRss = Math.max(peakRss, rssBytes(node.pid));
        }
        if (i % 800 === 799) {
          console.log(
            `  ${((i + 1) * VALUE_BYTES) / MIB} MB written, RSS ${
              (rssBytes(node.pid) / MIB).toFixed(0)
            } MB`,
          );
        }
      }
      const final = await stats();
      console.log(
        `  accounted peak ${(peakBytes / MIB).toFixed(1)} MB of 32; RSS idle ` +
          `${(idleRss / MIB).toFixed(0)} MB, peak ${(peakRss / MIB).toFixed(0)} MB; ` +
          `${final.keys} keys kept, ${final.evictions} evicted`,
      );
      // The newest keys that fit are all there, the oldest are gone.
      const fits = Math.floor((32 * MIB) / (VALUE_BYTES + 200));
      for (let i = WRITES - Math.floor(fits * 0.9); i < WRITES; i++) {
        assert.equal((await get(node.url, `key-${i}`))?.slice(0, 8), `${i}:`.padEnd(8, "x"));
      }
      for (let i = 0; i < 1000; i++) assert.equal(await get(node.url, `key-${i}`), undefined);
      assert.equal(final.keys + final.evictions, WRITES);
      // RSS is the runtime, the 32 MB of data and garbage V8 has not collected yet: measured here
      // it levels off near 130 MB (65 idle). The bound catches growth with the data written, which
      // 200 MB of kept values would show, or garbage that the node's V8 flags (node/v8_flags.ts) no
      // longer keep down.
      assert.ok(peakRss < 256 * MIB, `RSS peaked at ${(peakRss / MIB).toFixed(0)} MB`);
      assert.equal((await fetch(`${node.url}/live`)).status, 200);
    } finally {
      await processes.stopAll();
    }
  },
});
