// Measures the memory each store entry costs and how close the store's accounting comes to it.
//
//   deno run --v8-flags=--expose-gc bench/store_memory.ts [--ttl] [--value-bytes N] [--count N]
//
// Defaults: 1,000,000 entries of 16-byte keys and 100-byte values, no TTL.

import { parseArgs } from "node:util";
import { entryBytes, Store } from "../node/store/store.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    ttl: { type: "boolean", default: false },
    "value-bytes": { type: "string", default: "100" },
    count: { type: "string", default: "1000000" },
  },
});
const withTtl = flags.ttl;
const valueBytes = Number(flags["value-bytes"]);
const count = Number(flags.count);
if (!Number.isSafeInteger(valueBytes) || valueBytes < 16 || !Number.isSafeInteger(count)) {
  console.error("--value-bytes must be a whole number from 16, --count a whole number");
  Deno.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("Run with --v8-flags=--expose-gc (deno task bench does)");
  Deno.exit(2);
}

/**
 * Everything the process holds in JavaScript after a full collection: the heap and what lives
 * outside it (array buffers, the store's arena among them). Deno reports no separate
 * `arrayBuffers`: its `external` already counts them, as Node's does.
 */
function memoryAfterGc(): number {
  gc!();
  gc!();
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

const store = new Store();
const before = memoryAfterGc();
const started = performance.now();
for (let i = 0; i < count; i++) {
  // Fresh strings per entry, as parsed from requests: a 16-byte key.
  const key = `key:${String(i).padStart(12, "0")}`;
  const value = `${i}:`.padEnd(valueBytes, "v");
  store.set(key, value, withTtl ? 3_600_000 : 0);
  if ((i + 1) % 250_000 === 0) console.error(`  ${i + 1} entries written`);
}
const seconds = (performance.now() - started) / 1000;
const perEntry = (memoryAfterGc() - before) / count;
const payload = 16 + valueBytes;
const accounted = entryBytes("k".repeat(16), "v".repeat(valueBytes), withTtl);
const stats = store.stats();
if (stats.keys !== count) throw new Error("store lost entries");

console.log(
  `entries                 ${count.toLocaleString("en")}${
    withTtl ? " with a TTL" : ""
  } (written in ${seconds.toFixed(2)} s)`,
);
console.log(`memory per entry        ${perEntry.toFixed(1)} bytes (heap used + external)`);
console.log(`raw payload per entry   ${payload} bytes (16-byte key + ${valueBytes}-byte value)`);
console.log(`memory / payload        ${(perEntry / payload).toFixed(2)}x`);
console.log(
  `accounted per entry     ${accounted} bytes (payload + ${accounted - payload} overhead)`,
);
console.log(`accounted / measured    ${(stats.bytes / count / perEntry).toFixed(3)}`);
