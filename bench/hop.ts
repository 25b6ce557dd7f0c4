// The master -> node hop, client by client: the global fetch against the project's HTTP/1.1 client
// (shared/http1/client.ts), through its fetch and through exchange(), which the services use,
// reading one key from a real node at 1, 10 and 50 calls in flight. Prints calls per second and CPU
// microseconds per call of this process, and the ratios to the global fetch.
// Run: deno run --allow-all bench/hop.ts

import process from "node:process";
import { http1Client } from "@cache/http1/client";
import { Processes, put, waitFor } from "../tests/support/process.ts";

const SECONDS = Number(Deno.env.get("HOP_SECONDS") ?? 3);
const processes = new Processes();
const master = await processes.master();
const node = await processes.node(master.url);
await waitFor(async () => (await fetch(`${master.url}/ready`)).status === 200, "node up");
await put(master.url, "hop", "v".repeat(100));
const path = "/keys/hop";

const http1 = http1Client();
/** Each client's call: one read of the key under a 2 s deadline, its body read whole. */
const clients: [string, () => Promise<unknown>][] = [
  [
    "fetch",
    async () =>
      await (await fetch(node.url + path, { signal: AbortSignal.timeout(2000) })).arrayBuffer(),
  ],
  [
    "http1 fetch",
    async () =>
      await (await http1.fetch(node.url + path, { signal: AbortSignal.timeout(2000) }))
        .arrayBuffer(),
  ],
  ["http1 exchange", () => http1.exchange(node.url, { path, signal: AbortSignal.timeout(2000) })],
];

async function measure(call: () => Promise<unknown>, inFlight: number) {
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let calls = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await call();
      calls++;
    }
  }));
  const used = process.cpuUsage(cpu);
  return { perSecond: calls / SECONDS, cpuMicros: (used.user + used.system) / calls };
}

try {
  for (const inFlight of [1, 10, 50]) {
    const rows = [];
    for (const [name, call] of clients) {
      await measure(call, inFlight); // warm-up
      const row = await measure(call, inFlight);
      rows.push(row);
      console.log(
        `${name.padEnd(14)} c=${String(inFlight).padEnd(3)} ${
          Math.round(row.perSecond)
        } calls/s  ` +
          `${row.cpuMicros.toFixed(1)} us CPU/call`,
      );
    }
    const [base, ...others] = rows;
    others.forEach((row, i) =>
      console.log(
        `  ${clients[i + 1][0]} / fetch: ${
          (row.perSecond / base.perSecond).toFixed(2)
        }x calls/s, ` +
          `${(row.cpuMicros / base.cpuMicros).toFixed(2)}x CPU/call`,
      )
    );
  }
} finally {
  http1.close();
  await processes.stopAll();
}
