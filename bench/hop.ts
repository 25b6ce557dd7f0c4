// The master -> node hop, client by client: the global fetch against the project's HTTP/1.1
// client (shared/http1.ts), reading one key from a real node at 1, 10 and 50 calls in flight.
// Prints calls per second and CPU microseconds per call of this process, and the ratios.
// Run: deno run --allow-all bench/hop.ts

import process from "node:process";
import { http1Fetch } from "../shared/http1.ts";
import type { Fetch } from "../shared/fetch.ts";
import { Processes, put, waitFor } from "../tests/process.ts";

const SECONDS = Number(Deno.env.get("HOP_SECONDS") ?? 3);
const processes = new Processes();
const master = await processes.master();
const node = await processes.node(master.url);
await waitFor(async () => (await fetch(`${master.url}/ready`)).status === 200, "node up");
await put(master.url, "hop", "v".repeat(100));
const target = `${node.url}/keys/hop`;

async function measure(call: Fetch, inFlight: number) {
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let calls = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await (await call(target, { signal: AbortSignal.timeout(2000) })).arrayBuffer();
      calls++;
    }
  }));
  const used = process.cpuUsage(cpu);
  return { perSecond: calls / SECONDS, cpuMicros: (used.user + used.system) / calls };
}

const clients: [string, Fetch][] = [["fetch", fetch], ["http1", http1Fetch()]];
try {
  for (const inFlight of [1, 10, 50]) {
    const rows = [];
    for (const [name, call] of clients) {
      await measure(call, inFlight); // warm-up
      const row = await measure(call, inFlight);
      rows.push(row);
      console.log(
        `${name.padEnd(6)} c=${String(inFlight).padEnd(3)} ${Math.round(row.perSecond)} calls/s  ` +
          `${row.cpuMicros.toFixed(1)} us CPU/call`,
      );
    }
    const [f, h] = rows;
    console.log(
      `        ratio http1/fetch: ${(h.perSecond / f.perSecond).toFixed(2)}x calls/s, ` +
        `${(h.cpuMicros / f.cpuMicros).toFixed(2)}x CPU/call`,
    );
  }
} finally {
  await processes.stopAll();
}
