// deno task bench:capacity: fills 3 nodes x 64 MiB at R=2 through the master with 16-byte keys and
// 100-byte values until the first eviction, prints the keys held per GiB of --max-memory, then
// loads the full cluster with wrk and reports the nodes' GC pauses.

import { LOAD_VALUE, loadKey, writeKeyScripts } from "../tools/load_rows.ts";
import { Processes, settledCluster } from "../tests/support/process.ts";

const NODES = 3;
const MAX_MEMORY_MIB = Number(Deno.env.get("CAPACITY_MAX_MEMORY_MIB") ?? 64);
const BATCH = 1000;
const LOAD_SECONDS = Number(Deno.env.get("CAPACITY_LOAD_SECONDS") ?? 10);

interface NodeStats {
  keys: number;
  bytes: number;
  maxBytes: number;
  evictions: number;
}

const pauses = new Map<number, number[]>(); // GC pauses in ms, by node PID
let recording = false;
const processes = new Processes({ DENO_V8_FLAGS: "--trace-gc" }, {
  onLine: (pid, line) => {
    const pause = gcPause(line);
    if (pause !== undefined && recording) pauses.get(pid)?.push(pause);
  },
});

try {
  const { master, nodes } = await settledCluster(
    processes,
    NODES,
    [],
    ["--max-memory", `${MAX_MEMORY_MIB}mb`],
  );
  for (const node of nodes) pauses.set(node.pid, []);
  console.log(`${NODES} nodes x ${MAX_MEMORY_MIB} MiB, R=2; filling through ${master.url}`);

  let written = 0;
  let nearlyFull = false;
  const started = performance.now();
  for (;;) {
    const items = Array.from(
      { length: BATCH },
      (_, i) => ({ key: loadKey(written + i), value: LOAD_VALUE }),
    );
    const answer = await fetch(`${master.url}/mset`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items }),
    });
    if (answer.status !== 204) {
      throw new Error(`mset answered ${answer.status}: ${await answer.text()}`);
    }
    written += BATCH;
    // A node's /stats walks its keys to count its primaries: ask each tenth batch until one is
    // nearly full, then after each.
    if (!nearlyFull && written % (10 * BATCH) !== 0) continue;
    const stats = await Promise.all(nodes.map((node) => nodeStats(node.url)));
    nearlyFull = stats.some((s) => s.bytes > 0.97 * s.maxBytes);
    if (written % 50_000 === 0) {
      const fill = stats.map((s) => `${(100 * s.bytes / s.maxBytes).toFixed(0)} %`).join(", ");
      console.log(`  ${written.toLocaleString("en")} keys written; nodes full ${fill}`);
    }
    if (stats.some((s) => s.evictions > 0)) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const cluster = await (await fetch(`${master.url}/stats`)).json() as { keys: number };
  const stats = await Promise.all(nodes.map((node) => nodeStats(node.url)));
  const gib = NODES * MAX_MEMORY_MIB / 1024;
  console.log(
    `\nfirst eviction after ${written.toLocaleString("en")} keys (${seconds.toFixed(1)} s)`,
  );
  for (const [i, s] of stats.entries()) {
    const perCopy = s.bytes / s.keys;
    console.log(
      `  node ${i + 1}: ${s.keys.toLocaleString("en")} copies, ${
        perCopy.toFixed(1)
      } B accounted each`,
    );
  }
  console.log(`keys held               ${cluster.keys.toLocaleString("en")}`);
  console.log(
    `keys per GiB            ${(cluster.keys / gib / 1e6).toFixed(2)} M of --max-memory ` +
      `(target 3.0 M; ${(cluster.keys / gib / 3e6).toFixed(2)}x)`,
  );

  const dir = await Deno.makeTempDir({ prefix: "cache-capacity-" });
  await writeKeyScripts(dir, Math.min(written, cluster.keys));
  for (const script of ["get", "set"]) {
    for (const list of pauses.values()) list.length = 0;
    recording = true;
    const rps = await wrk(`${dir}/${script}.lua`, master.url);
    recording = false;
    const all = [...pauses.values()].flat().sort((a, b) => a - b);
    const at = (q: number) => all.length ? all[Math.floor(q * (all.length - 1))].toFixed(2) : "-";
    console.log(
      `master ${script.toUpperCase()} c=50: ${rps} req/s; node GC pauses: ${all.length}, ` +
        `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`,
    );
  }
  await Deno.remove(dir, { recursive: true });
} finally {
  await processes.stopAll();
}

async function nodeStats(url: string): Promise<NodeStats> {
  return await (await fetch(`${url}/stats`)).json();
}

/** The pause of one `--trace-gc` line ("..., 1.23 / 0.00 ms ..."), or undefined. */
function gcPause(line: string): number | undefined {
  const match = / ([\d.]+) \/ [\d.]+ ms /.exec(line);
  return match ? Number(match[1]) : undefined;
}

async function wrk(script: string, url: string): Promise<number> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${LOAD_SECONDS}s`, "-s", script, url],
    stdout: "piped",
  }).output();
  return Math.round(
    Number(/Requests\/sec:\s+([\d.]+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? 0),
  );
}
