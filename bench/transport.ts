// The client's transports, runtime by runtime: calls per second and CPU microseconds per call of
// this process, reading (GET /keys/{key}) and writing (POST /keys) one key on a real node at 1, 10
// and 50 calls in flight, each call under a deadline as the client makes it. Under Deno: the
// Deno.connect client (shared/http1/client.ts), the node:http one (node_client.ts) and the global
// fetch; then the same script, bundled, under Node: node:http and the global fetch (undici).
// Run: deno run --allow-all bench/transport.ts   (BENCH_SECONDS a round, default 2; BENCH_ROUNDS a
// row, default 2, each transport in turn)
// Node alone, against a node already running: the bundle with `--url http://127.0.0.1:PORT`.

import process from "node:process";
import { deadline } from "@cache/http1/deadline";
import type { Http1Client } from "@cache/http1/client";
import { nodeHttp1Client } from "@cache/http1/node_client";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const IN_FLIGHT = [1, 10, 50];
const KEY = "bench:transport";

/** One call of a transport: method, path and body to `origin`; resolves when read whole. */
type Call = (origin: string, method: string, path: string, body?: string) => Promise<number>;

const decoder = new TextDecoder();

function viaClient(client: Http1Client): Call {
  return async (origin, method, path, body) => {
    const limit = deadline(5000, "no answer within 5000 ms");
    try {
      const headers = body ? { "content-type": "application/json" } : undefined;
      const answer = await client.exchange(origin, {
        method,
        path,
        headers,
        body,
        signal: limit.signal,
      });
      decoder.decode(answer.body);
      return answer.status;
    } finally {
      limit.clear();
    }
  };
}

const viaFetch: Call = async (origin, method, path, body) => {
  const limit = deadline(5000, "no answer within 5000 ms");
  try {
    const headers = body ? { "content-type": "application/json" } : undefined;
    const answer = await fetch(origin + path, { method, headers, body, signal: limit.signal });
    await answer.text();
    return answer.status;
  } finally {
    limit.clear();
  }
};

/** Calls per second and CPU microseconds per call of `call` with `inFlight` at once. */
async function measure(call: () => Promise<number>, inFlight: number) {
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let calls = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      const status = await call();
      if (status < 200 || status > 299) throw new Error(`The node answered ${status}`);
      calls++;
    }
  }));
  const used = process.cpuUsage(cpu);
  return { perSecond: calls / SECONDS, cpuMicros: (used.user + used.system) / calls };
}

/**
 * Measures each transport of this runtime against the node at `origin`, in turns, ROUNDS times a
 * row, and prints each one's best round: other work on the machine slows a round, never speeds it.
 */
async function run(runtime: string, origin: string, transports: [string, Call][]) {
  const value = JSON.stringify({ key: KEY, value: "v".repeat(100) });
  for (
    const [op, one] of [
      ["POST /keys", (call: Call) => call(origin, "POST", "/keys", value)],
      ["GET /keys/{key}", (call: Call) => call(origin, "GET", `/keys/${KEY}`)],
    ] as const
  ) {
    for (const inFlight of IN_FLIGHT) {
      const best = transports.map(() => ({ perSecond: 0, cpuMicros: 0 }));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, [, call]] of transports.entries()) {
          if (round === 0) await measure(() => one(call), inFlight); // warm-up
          const row = await measure(() => one(call), inFlight);
          if (row.perSecond > best[i].perSecond) best[i] = row;
        }
      }
      for (const [i, [name]] of transports.entries()) {
        console.log(
          `${runtime.padEnd(5)} ${name.padEnd(10)} ${op.padEnd(16)} c=${
            String(inFlight).padEnd(3)
          } ${String(Math.round(best[i].perSecond)).padStart(6)} calls/s ${
            best[i].cpuMicros.toFixed(0).padStart(5)
          } µs CPU/call`,
        );
      }
    }
  }
}

if (!("Deno" in globalThis)) {
  // Under Node: the bundle of this script, given the node's URL.
  const at = process.argv.indexOf("--url");
  if (at < 0) throw new TypeError("Run this bundle with --url http://127.0.0.1:PORT");
  const node = nodeHttp1Client();
  try {
    await run("node", process.argv[at + 1], [["node:http", viaClient(node)], ["fetch", viaFetch]]);
  } finally {
    node.close();
  }
} else {
  const { http1Client } = await import("@cache/http1/client");
  const { Processes } = await import("../tests/support/process.ts");
  const processes = new Processes();
  const dir = await Deno.makeTempDir({ prefix: "bench-transport-" });
  try {
    const master = await processes.master();
    const node = await processes.node(master.url);
    const deno = http1Client();
    const compat = nodeHttp1Client();
    try {
      await run("deno", node.url, [
        ["Deno.conn", viaClient(deno)],
        ["node:http", viaClient(compat)],
        ["fetch", viaFetch],
      ]);
    } finally {
      deno.close();
      compat.close();
    }
    const bundle = `${dir}/transport.mjs`;
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", bundle, import.meta.filename!],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!built.success) throw new Error("deno bundle failed");
    const ran = await new Deno.Command("node", {
      args: [bundle, "--url", node.url],
      env: { BENCH_SECONDS: String(SECONDS), BENCH_ROUNDS: String(ROUNDS) },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!ran.success) throw new Error("The Node run failed");
  } finally {
    await processes.stopAll();
    await Deno.remove(dir, { recursive: true });
  }
}
