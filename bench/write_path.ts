// Where a replicated write's cost goes: the client's direct SETs on a master and 3 nodes at R=2
// and at R=1 (the baseline), 10 and 50 loops. Prints writes per second, the calls each route took
// per write (from the nodes' /metrics) and the CPU microseconds per write of each process, then
// the ratios R=2 / R=1 of the same run, and the most R=2 could reach on these shared cores were the
// nodes free: the client's own CPU per write at R=1 over that at R=2.
// Run: deno run --allow-all bench/write_path.ts (WRITE_SECONDS, default 4)

import { CacheClient } from "@cache/client";
import { nodeSettings } from "../node/config.ts";
import { Processes, waitFor } from "../tests/support/process.ts";
import { cpuSeconds } from "../tools/cpu.ts";
import { LOAD_VALUE, loadKey, preload } from "../tools/load_rows.ts";

const SECONDS = Number(Deno.env.get("WRITE_SECONDS") ?? 4);
const KEYS = 100_000;
const ROUTES = ["/keys", "/mset", "/stamped", "/replicate"];
const release = ["--heartbeat-ms", String(nodeSettings.heartbeatMs.schema.parse(undefined))];

interface Figures {
  writesPerSecond: number;
  /** Calls per write, by route. */
  calls: Record<string, number>;
  /** CPU microseconds per write: this process (the client), the master, each node. */
  cpu: number[];
}

/** The requests each route of `ROUTES` counted, summed over every status and node. */
async function requests(urls: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries(ROUTES.map((r) => [r, 0]));
  for (const url of urls) {
    for (const line of (await (await fetch(`${url}/metrics`)).text()).split("\n")) {
      const sample = /^http_requests_total\{.*route="([^"]*)".*\} (\S+)$/.exec(line);
      if (sample && sample[1] in counts) counts[sample[1]] += Number(sample[2]);
    }
  }
  return counts;
}

/** Each pid's CPU seconds so far. */
const cpuOf = (pids: number[]) => Promise.all(pids.map(async (pid) => await cpuSeconds([pid])));

/** SETs of random preloaded keys from `loops` loops for `seconds`; returns how many. */
async function writeFor(cache: CacheClient, loops: number, seconds: number): Promise<number> {
  let writes = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: loops }, async () => {
    while (performance.now() < end) {
      await cache.set(loadKey(Math.floor(Math.random() * KEYS)), LOAD_VALUE);
      writes++;
    }
  }));
  return writes;
}

async function measure(replicas: number): Promise<Map<number, Figures>> {
  const processes = new Processes();
  try {
    const master = await processes.master({ args: ["--replicas", String(replicas)] });
    const nodes = await Promise.all([1, 2, 3].map(() => processes.node(master.url, release)));
    await waitFor(
      async () => (await (await fetch(`${master.url}/nodes`)).json()).nodes.length === 3,
      "3 nodes",
    );
    await preload(master.url, KEYS);
    const cache = await CacheClient.connect(master.url, { mode: "direct" });
    const pids = [Deno.pid, master.pid, ...nodes.map((node) => node.pid)];
    const urls = nodes.map((node) => node.url);
    const figures = new Map<number, Figures>();
    try {
      for (const loops of [10, 50]) {
        await writeFor(cache, loops, 1); // warm up
        const [cpuBefore, before] = [await cpuOf(pids), await requests(urls)];
        const writes = await writeFor(cache, loops, SECONDS);
        const [cpuAfter, after] = [await cpuOf(pids), await requests(urls)];
        const calls = Object.fromEntries(ROUTES.map((r) => [r, (after[r] - before[r]) / writes]));
        const cpu = pids.map((_, i) => (cpuAfter[i]! - cpuBefore[i]!) * 1e6 / writes);
        const row = { writesPerSecond: writes / SECONDS, calls, cpu };
        figures.set(loops, row);
        console.log(
          `R=${replicas} c=${loops}: ${
            Math.round(row.writesPerSecond)
          } writes/s; calls per write ` +
            ROUTES.map((r) => `${r} ${calls[r].toFixed(3)}`).join(", ") +
            `; CPU us per write: client ${cpu[0].toFixed(1)}, master ${cpu[1].toFixed(1)}, ` +
            `nodes ${cpu.slice(2).map((us) => us.toFixed(1)).join(" / ")}`,
        );
      }
    } finally {
      cache.close();
    }
    return figures;
  } finally {
    await processes.stopAll();
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
console.log(`Client direct SETs of 100-byte values, ${SECONDS} s per row`);
const [two, one] = [await measure(2), await measure(1)];
for (const loops of [10, 50]) {
  const [a, b] = [two.get(loops)!, one.get(loops)!];
  const calls = (f: Figures) => sum(Object.values(f.calls));
  console.log(
    `c=${loops}, R=2 / R=1: writes/s ${(a.writesPerSecond / b.writesPerSecond).toFixed(2)}x, ` +
      `calls per write ${(calls(a) / calls(b)).toFixed(2)}x, ` +
      `CPU per write ${(sum(a.cpu) / sum(b.cpu)).toFixed(2)}x (nodes ` +
      `${(sum(a.cpu.slice(2)) / sum(b.cpu.slice(2))).toFixed(2)}x, client ` +
      `${(a.cpu[0] / b.cpu[0]).toFixed(2)}x); on cores all share, nodes that cost nothing ` +
      `would leave R=2 at most ${(b.cpu[0] / a.cpu[0]).toFixed(2)}x of R=1`,
  );
}
