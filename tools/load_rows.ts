// How the load benchmark measures a row: wrk against a URL, or the TypeScript client's load loop,
// each with the CPU per request of the processes serving it.

import { CacheClient, type ClientOptions } from "@cache/client";
import { cpuSeconds } from "./cpu.ts";

export interface Row {
  name: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU microseconds per request of the processes serving the row, not the load generator's. */
  cpuMicros?: number;
  /** Requests per second of every run, when the row is a median. */
  runs?: number[];
}

/** What every measured run shares. */
export interface Measure {
  /** Where the wrk scripts are. */
  dir: string;
  seconds: number;
  warmupSeconds: number;
  /** Keys preloaded: `loadKey(0)` to `loadKey(keys - 1)`. */
  keys: number;
}

/** The i-th preloaded key: 16 bytes. */
export const loadKey = (i: number) => `key:${String(i).padStart(11, "0")}`;

/** The value every preloaded key holds: 100 bytes. */
export const LOAD_VALUE = "v".repeat(100);

/**
 * Writes wrk's `get.lua` and `set.lua` into `dir`: GETs and SETs of `keys` preloaded keys, picked
 * at random, through `/keys`; and `get_token.lua` and `set_token.lua`, the same with `token`.
 */
export async function writeKeyScripts(dir: string, keys: number, token = ""): Promise<void> {
  const random = `math.random(0, ${keys - 1})`;
  for (const suffix of ["", "_token"]) {
    const auth = suffix ? `wrk.headers["Authorization"] = "Bearer ${token}"\n` : "";
    await Deno.writeTextFile(
      `${dir}/get${suffix}.lua`,
      `${auth}request = function()
  return wrk.format("GET", string.format("/keys/key:%011d", ${random}))
end`,
    );
    await Deno.writeTextFile(
      `${dir}/set${suffix}.lua`,
      `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
${auth}request = function()
  local body = string.format('{"key":"key:%011d","value":"${LOAD_VALUE}"}', ${random})
  return wrk.format("POST", "/keys", nil, body)
end`,
    );
  }
}

/** Writes `loadKey(0)` to `loadKey(keys - 1)` through `url`'s `/mset`, 1,000 at a time. */
export async function preload(url: string, keys: number, token?: string): Promise<void> {
  for (let i = 0; i < keys; i += 1000) {
    const items = Array.from(
      { length: 1000 },
      (_, j) => ({ key: loadKey(i + j), value: LOAD_VALUE }),
    );
    const answer = await fetch(`${url}/mset`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ items }),
    });
    if (answer.status !== 204) {
      throw new Error(`Cannot preload ${url}: ${answer.status} ${await answer.text()}`);
    }
    if ((i + 1000) % 25_000 === 0) console.log(`  preloaded ${i + 1000} keys into ${url}`);
  }
}

/**
 * CPU microseconds per request that `pids` spent on `measured`, which resolves to its requests;
 * undefined where /proc cannot tell.
 */
async function cpuPerRequest(
  pids: number[],
  measured: () => Promise<number>,
): Promise<number | undefined> {
  const before = await cpuSeconds(pids);
  const requests = await measured();
  const after = await cpuSeconds(pids);
  if (before === undefined || after === undefined || requests === 0) return undefined;
  return Math.round((after - before) * 1e6 / requests * 10) / 10;
}

/** Runs wrk against `url`; `pids` are the processes serving it, whose CPU the row reports. */
export async function wrkRow(
  measure: Measure,
  name: string,
  url: string,
  script: string,
  connections: number,
  pids: number[],
): Promise<Row> {
  const run = (seconds: number) =>
    new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${connections}`,
        `-d${seconds}s`,
        "--latency",
        "-s",
        `${measure.dir}/${script}`,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  await run(measure.warmupSeconds);
  let out = "";
  const cpuMicros = await cpuPerRequest(pids, async () => {
    out = new TextDecoder().decode((await run(measure.seconds)).stdout);
    return Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const ms = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return NaN;
    // Rounded to the microsecond wrk prints: 348us is 0.348 ms, not 0.34800000000000003.
    const scaled = Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
    return Math.round(scaled * 1000) / 1000;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (non2xx) console.log(`  warning: ${name} had ${non2xx} non-2xx answers`);
  const row = {
    name,
    connections,
    requestsPerSecond: Math.round(rps),
    p50Ms: ms("50"),
    p99Ms: ms("99"),
    cpuMicros,
  };
  console.log(
    `  ${name} c=${connections}: ${row.requestsPerSecond} req/s, p50 ${row.p50Ms} ms, ` +
      `p99 ${row.p99Ms} ms, ${cpuMicros ?? "?"} us CPU/request`,
  );
  return row;
}

/** The run with the median requests per second (the upper median of an even count). */
export function median(runs: Row[]): Row {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return { ...sorted[Math.floor(sorted.length / 2)], runs: runs.map((r) => r.requestsPerSecond) };
}

/**
 * The client's GETs or SETs of random preloaded keys from `connections` concurrent loops in this
 * process, `mode` direct or through the master.
 */
export async function clientRow(
  measure: Measure,
  masterUrl: string,
  mode: "direct" | "proxy",
  connections: number,
  pids: number[],
  op: "GET" | "SET" = "GET",
  options: ClientOptions = {},
): Promise<Row> {
  const cache = await CacheClient.connect(masterUrl, { ...options, mode });
  const name = `client ${mode} ${op}${options.token ? " (tokens)" : ""}`;
  try {
    const call = op === "GET"
      ? (key: string) => cache.get(key)
      : (key: string) => cache.set(key, LOAD_VALUE);
    return await loopRow(measure, name, call, connections, pids);
  } finally {
    cache.close();
  }
}

/**
 * Calls `call` on random preloaded keys from `connections` concurrent loops in this process, as a
 * client library is used; CPU per request counts this process with `pids`.
 */
export async function loopRow(
  measure: Measure,
  name: string,
  call: (key: string) => Promise<unknown>,
  connections: number,
  pids: number[],
): Promise<Row> {
  const run = async (seconds: number, latencies: number[]) => {
    const end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await call(loadKey(Math.floor(Math.random() * measure.keys)));
        latencies.push(performance.now() - started);
      }
    }));
  };
  await run(measure.warmupSeconds, []);
  const latencies: number[] = [];
  const cpuMicros = await cpuPerRequest([Deno.pid, ...pids], async () => {
    await run(measure.seconds, latencies);
    return latencies.length;
  });
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Number(latencies[Math.floor(q * (latencies.length - 1))].toFixed(2));
  const row = {
    name,
    connections,
    requestsPerSecond: Math.round(latencies.length / measure.seconds),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    cpuMicros,
  };
  console.log(
    `  ${name} c=${connections}: ${row.requestsPerSecond} req/s, p99 ${row.p99Ms} ms, ` +
      `${cpuMicros ?? "?"} us CPU/request`,
  );
  return row;
}
