// deno task bench:rss: a real node's resident memory against its --max-memory under concurrent
// writes: idle, peak, and 10 s after the writes stop. Prints figures; never fails on them.
//
//   deno task bench:rss                          # every scenario, a standalone node
//   deno task bench:rss --only 100kb --seconds 30
//   deno task bench:rss --cluster                # a master and two nodes, R=2: both nodes measured
//   deno task bench:rss --cluster --through-master   # the same, every write sent to the master
//   deno task bench:rss --v8-flags=--max-semi-space-size=1   # the node's V8 flags instead of ours
//
// Each scenario starts fresh processes (VmHWM is a process's peak since it started). Writers are
// keep-alive loops posting distinct keys to /keys on the key's primary: in a cluster, each node
// is the primary of some keys and the backup of the others, so it pays both ends of replication.

import { parseArgs } from "node:util";
import { http1Client } from "@cache/http1/client";
import { Ring } from "@cache/ring/ring";
import { Processes, type ProcessService, waitFor } from "../tests/support/process.ts";

const MIB = 1024 * 1024;

interface Scenario {
  name: string;
  valueBytes: number;
  maxMemory: string;
  /** Items per `/mset`: each writer posts batches of this many, not one `/keys` at a time. */
  batch?: number;
}

const SCENARIOS: Scenario[] = [
  { name: "100kb", valueBytes: 100 * 1024, maxMemory: "64mb" },
  { name: "1kb", valueBytes: 1024, maxMemory: "256mb" },
  // Bodies of 4 MiB: each is read into a buffer grown from 64 KiB, in the C heap.
  { name: "4mb-mset", valueBytes: 4 * 1024, maxMemory: "64mb", batch: 1000 },
  // Values near the 1 MiB limit into 70 % of a 512 MiB container, as Kubernetes sets it.
  { name: "1mb", valueBytes: 1_048_000, maxMemory: "358mb" },
];

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "20" },
    after: { type: "string", default: "10" },
    writers: { type: "string", default: "8" },
    only: { type: "string" },
    cluster: { type: "boolean", default: false },
    "through-master": { type: "boolean", default: false },
    "v8-flags": { type: "string" },
    "max-memory": { type: "string" },
  },
  strict: true,
});
const seconds = Number(flags.seconds);
const afterSeconds = Number(flags.after);
const writers = Number(flags.writers);
// --max-memory replaces each scenario's bound: a tiny one shows what the write path alone costs.
const scenarios = SCENARIOS.filter((s) => !flags.only || s.name === flags.only).map((s) =>
  flags["max-memory"] ? { ...s, maxMemory: flags["max-memory"] } : s
);
if (![seconds, afterSeconds, writers].every((n) => n > 0) || scenarios.length === 0) {
  console.error(
    "Usage: deno task bench:rss [--seconds 20] [--after 10] [--writers 8] " +
      "[--only 100kb|1kb|4mb-mset|1mb] [--max-memory 1mb] [--cluster [--through-master]] " +
      "[--v8-flags=...]",
  );
  Deno.exit(2);
}

/** Resident and peak resident bytes of process `pid`, from /proc (Linux only). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") * 1024, hwm: kib("VmHWM") * 1024 };
}

const mb = (bytes: number) => (bytes / MIB).toFixed(0);

/** One measured node: its RSS now and at its highest, sampled every 100 ms. */
class Watched {
  idle = 0;
  now = 0;
  /** The kernel's own high-water mark as well: no peak between two samples is missed. */
  peak = 0;

  constructor(readonly service: ProcessService) {}

  sample(): void {
    const { rss, hwm } = memoryOf(this.service.pid);
    this.now = rss;
    this.peak = Math.max(this.peak, rss, hwm);
  }
}

interface Result {
  scenario: Scenario;
  node: string;
  idle: number;
  peak: number;
  after: number;
  perSecond: number;
  keys: number;
  bytes: number;
  maxBytes: number;
  evictions: number;
  failed: number;
}

/** Starts the processes a scenario measures: a node alone, or a master and two nodes. */
async function start(processes: Processes, scenario: Scenario) {
  const args = ["--max-memory", scenario.maxMemory];
  if (!flags.cluster) {
    const node = await processes.node("none", args); // no master: a node on its own
    return { nodes: [node], ownerOf: (_key: string) => node.url };
  }
  const master = await processes.master({ args: ["--replicas", "2"] });
  const nodes = await Promise.all([0, 1].map(() => processes.node(master.url, args)));
  const view = await waitFor(async () => {
    const ring = await (await fetch(`${master.url}/ring`)).json();
    return ring.nodes?.length === 2 && ring;
  }, "a ring of two nodes");
  const ring = new Ring(view.nodes);
  const urlOf = new Map(nodes.map((node) => [node.address, node.url]));
  if (flags["through-master"]) return { nodes, ownerOf: (_key: string) => master.url };
  return { nodes, ownerOf: (key: string) => urlOf.get(ring.owner(key)!)! };
}

/**
 * One write of `value`: to `/keys` under `key`, or with `batch`, to `/mset` under that many keys
 * named after it, all of one owner.
 */
function write(
  key: string,
  value: string,
  batch: number | undefined,
  ownerOf: (key: string) => string,
): { url: string; path: string; body: string; items: number } {
  const url = ownerOf(key);
  if (batch === undefined) {
    return { url, path: "/keys", body: `{"key":"${key}","value":"${value}"}`, items: 1 };
  }
  const items: string[] = [];
  for (let j = 0; items.length < batch; j++) {
    if (ownerOf(`${key}:${j}`) === url) items.push(`{"key":"${key}:${j}","value":"${value}"}`);
  }
  return { url, path: "/mset", body: `{"items":[${items.join(",")}]}`, items: batch };
}

async function run(scenario: Scenario): Promise<Result[]> {
  const values = `${Math.round(scenario.valueBytes / 1024)} KB values`;
  const what = scenario.batch ? `${values} in /mset bodies of ${scenario.batch}` : values;
  const label = `${what} into --max-memory ${scenario.maxMemory}`;
  console.log(`\n${label}: ${writers} writers for ${seconds} s, then ${afterSeconds} s idle`);
  const processes = new Processes({}, flags["v8-flags"] ? { v8Flags: flags["v8-flags"] } : {});
  const client = http1Client();
  try {
    const { nodes, ownerOf } = await start(processes, scenario);
    const watched = nodes.map((node) => new Watched(node));
    await new Promise((resolve) => setTimeout(resolve, 1000)); // started, nothing served yet
    for (const w of watched) {
      w.sample();
      w.idle = w.now;
    }
    const sampler = setInterval(() => watched.forEach((w) => w.sample()), 100);

    const value = "0123456789abcdef".repeat(scenario.valueBytes / 16);
    let written = 0;
    let failed = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    const progress = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const rss = watched.map((w) => `RSS ${mb(w.now)} MB (peak ${mb(w.peak)})`).join(", ");
      console.log(`  ${elapsed.toFixed(0).padStart(3)} s  ${written} writes  ${rss}`);
    }, 2000);
    await Promise.all(Array.from({ length: writers }, async (_, id) => {
      for (let i = 0; performance.now() < until; i++) {
        const { url, path, body, items } = write(`w${id}:${i}`, value, scenario.batch, ownerOf);
        const answer = await client.exchange(url, {
          method: "POST",
          path,
          headers: { "content-type": "application/json" },
          body,
        });
        if (answer.status === 204) written += items;
        else if (failed++ === 0) {
          console.log(
            `  a write answered ${answer.status}: ${new TextDecoder().decode(answer.body)}`,
          );
        }
      }
    }));
    const perSecond = written / ((performance.now() - started) / 1000);
    clearInterval(progress);
    client.close();
    const stats = await Promise.all(
      nodes.map(async (node) => await (await fetch(`${node.url}/stats`)).json()),
    );
    console.log(`  writes stopped: ${written} in ${seconds} s; waiting ${afterSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, afterSeconds * 1000));
    clearInterval(sampler);
    return watched.map((w, i) => {
      w.sample();
      return {
        scenario,
        node: nodes.length > 1 ? `node ${i + 1}` : "node",
        idle: w.idle,
        peak: w.peak,
        after: w.now,
        perSecond,
        keys: stats[i].keys,
        bytes: stats[i].bytes,
        maxBytes: stats[i].maxBytes,
        evictions: stats[i].evictions,
        failed,
      };
    });
  } finally {
    client.close();
    await processes.stopAll();
  }
}

const results: Result[] = [];
for (const scenario of scenarios) results.push(...await run(scenario));

console.log(
  `\n${writers} writers, ${seconds} s of writes, RSS ${afterSeconds} s after; ` +
    `${flags.cluster ? "a master and two nodes, R=2" : "a standalone node"}` +
    `${flags["through-master"] ? ", writes through the master" : ""}` +
    `${flags["v8-flags"] ? `, node V8 flags ${flags["v8-flags"]}` : ""}\n`,
);
const rows = [
  [
    "scenario",
    "node",
    "idle MB",
    "peak MB",
    "(peak-idle)/max",
    `after ${afterSeconds} s MB`,
    "writes/s",
    "keys",
    "stored MB",
    "evictions",
    "failed",
  ],
  ...results.map((r) => [
    `${Math.round(r.scenario.valueBytes / 1024)} KB` +
    `${r.scenario.batch ? ` x${r.scenario.batch}` : ""} into ` +
    r.scenario.maxMemory,
    r.node,
    mb(r.idle),
    mb(r.peak),
    r.maxBytes ? ((r.peak - r.idle) / r.maxBytes).toFixed(2) : "-",
    mb(r.after),
    r.perSecond.toFixed(0),
    String(r.keys),
    mb(r.bytes),
    String(r.evictions),
    String(r.failed),
  ]),
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
for (const row of rows) {
  console.log(
    row.map((cell, c) => c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))
      .join("  "),
  );
}
