// Measures the heap each store entry costs: 1,000,000 entries of 16-byte keys and 100-byte values.

import { entryBytes, Store } from "../node/store/store.ts";

const COUNT = 1_000_000;
const withTtl = Deno.args.includes("--ttl");
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("Run with --v8-flags=--expose-gc (deno task bench does)");
  Deno.exit(2);
}

function heapAfterGc(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

const store = new Store();
const before = heapAfterGc();
const started = performance.now();
for (let i = 0; i < COUNT; i++) {
  // Fresh strings per entry, as parsed from requests: 16-byte key, 100-byte value.
  const key = `key:${String(i).padStart(12, "0")}`;
  const value = `${i}:`.padEnd(100, "v");
  store.set(key, value, withTtl ? 3_600_000 : 0);
  if ((i + 1) % 250_000 === 0) console.error(`  ${i + 1} entries written`);
}
const seconds = (performance.now() - started) / 1000;
const perEntry = (heapAfterGc() - before) / COUNT;
const payload = 16 + 100;
const accounted = entryBytes("k".repeat(16), "v".repeat(100), withTtl);

console.log(
  `entries                 ${COUNT.toLocaleString("en")}${
    withTtl ? " with a TTL" : ""
  } (written in ${seconds.toFixed(2)} s)`,
);
console.log(`heap per entry          ${perEntry.toFixed(1)} bytes`);
console.log(`raw payload per entry   ${payload} bytes (16-byte key + 100-byte value)`);
console.log(`heap / payload          ${(perEntry / payload).toFixed(2)}x`);
console.log(
  `accounted per entry     ${accounted} bytes (payload + ${accounted - payload} overhead)`,
);
console.log(`heap / accounted        ${(perEntry / accounted).toFixed(2)}x`);
if (store.stats().keys !== COUNT) throw new Error("store lost entries");
