// Compares two checkouts on the load benchmark's rows, measured in turns in one run: does a change
// make any row slower?

import { freePort, waitFor } from "../tests/support/process.ts";
import {
  type Measure,
  median,
  preload,
  type Row,
  writeKeyScripts,
  wrkRow,
} from "../tools/load_rows.ts";

const SECONDS = Number(Deno.env.get("COMPARE_SECONDS") ?? 5);
const RUNS = Number(Deno.env.get("COMPARE_RUNS") ?? 3);
// Only these rows, comma-separated as the table names them ("node direct GET,master SET").
const ROWS = Deno.env.get("COMPARE_ROWS")?.split(",").map((row) => row.trim());
const WARMUP_S = 1;
const KEYS = 100_000;
const CONNECTIONS = [10, 50];
// tools/load.ts's settings, spelled out so both builds run alike whatever their defaults are.
const MASTER_ARGS = ["--replicas", "2", "--recovery-ms", "300"];
// More node flags, space-separated: "--max-memory 4mb" compares writes that evict.
const MORE_NODE_ARGS = (Deno.env.get("COMPARE_NODE_ARGS") ?? "").split(/\s+/).filter(Boolean);
const NODE_ARGS = ["--heartbeat-ms", "1000", ...MORE_NODE_ARGS];
const START_MS = 30_000;
const LABELS = ["old", "new"];

/** One checkout's services, started from its own `master/main.ts` and `node/main.ts`. */
export interface Build {
  /** The master of 3 nodes, and a node with no master; each with the PIDs a row's CPU is of. */
  services: Record<"master" | "node", { url: string; pids: number[] }>;
}

/** Runs `entry` of the checkout `dir` on a free port of 127.0.0.1; resolves to its logged URL. */
async function spawn(dir: string, entry: string, args: string[], children: Deno.ChildProcess[]) {
  const child = new Deno.Command(Deno.execPath(), {
    // --frozen: a lockfile out of date fails the start instead of being rewritten in the checkout.
    args: ["run", "--allow-all", "--frozen", entry, "--host", "127.0.0.1", "--port", "0", ...args],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  children.push(child);
  // Both pipes are read to the end: a full pipe would stall the service mid-benchmark.
  const stderr = new Response(child.stderr).text();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${dir}/${entry} did not start`)), START_MS);
    (async () => {
      let buffered = "";
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (buffered + text).split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          try {
            const log = JSON.parse(line);
            if (log.msg === "listening") resolve(log.url);
          } catch {
            // not a log line
          }
        }
      }
      reject(new Error(`${dir}/${entry} ended before listening: ${await stderr}`));
    })();
  }).finally(() => clearTimeout(timer));
  return { url, pid: child.pid };
}

/**
 * Starts the checkout `dir`'s master with 3 nodes and a standalone node, preloaded; every process
 * is added to `children`, for the caller to stop.
 */
export async function startBuild(
  label: string,
  dir: string,
  children: Deno.ChildProcess[],
): Promise<Build> {
  const master = await spawn(dir, "master/main.ts", MASTER_ARGS, children);
  await waitFor(async () => {
    const answer = await fetch(`${master.url}/ring`);
    await answer.body?.cancel();
    return answer.status !== 503;
  }, `${label}: the master has a ring`);
  const args = ["--master", master.url, ...NODE_ARGS];
  const nodes = await Promise.all([1, 2, 3].map(() => spawn(dir, "node/main.ts", args, children)));
  await waitFor(async () => {
    const { nodes } = await (await fetch(`${master.url}/nodes`)).json();
    return nodes.length === 3 && nodes.every((node: { synced: boolean }) => node.synced);
  }, `${label}: 3 nodes registered and settled`);
  // No master: a node on its own. Builds before `--master none` served on their own with a master
  // that never answers; later ones serve nothing until a master gives them a ring.
  const config = await Deno.readTextFile(`${dir}/node/config.ts`);
  const alone = config.includes('z.literal("none")') ? "none" : `http://127.0.0.1:${freePort()}`;
  const node = await spawn(dir, "node/main.ts", ["--master", alone, ...NODE_ARGS], children);
  await preload(master.url, KEYS);
  await preload(node.url, KEYS);
  console.log(`${label}: ${dir}: master ${master.url}, standalone node ${node.url}, preloaded`);
  return {
    services: {
      master: { url: master.url, pids: [master.pid, ...nodes.map((n) => n.pid)] },
      node: { url: node.url, pids: [node.pid] },
    },
  };
}

async function main(oldDir: string, newDir: string) {
  const dir = await Deno.makeTempDir({ prefix: "cache-compare-" });
  const children: Deno.ChildProcess[] = [];
  const measure: Measure = { dir, seconds: SECONDS, warmupSeconds: WARMUP_S, keys: KEYS };
  await writeKeyScripts(dir, KEYS); // tools/load.ts's GETs and SETs of the preloaded keys
  const name = (plan: { service: string; op: string }) =>
    `${plan.service === "master" ? "master" : "node direct"} ${plan.op}`;
  const plans = CONNECTIONS.flatMap((connections) =>
    (["master", "node"] as const).flatMap((service) =>
      ["GET", "SET"].map((op) => ({ service, op, connections }))
    )
  ).filter((plan) => !ROWS || ROWS.includes(name(plan)));
  const samples = plans.map((): [Row[], Row[]] => [[], []]);
  try {
    // Both builds stay up: idle, one heartbeats once a second per node and used 2.7% of one core
    // (measured over 20 s), far below the run-to-run noise; starting and preloading a build per
    // turn would take longer than the measurement.
    const builds = [await startBuild("old", oldDir, children)];
    builds.push(await startBuild("new", newDir, children));
    for (let run = 1; run <= RUNS; run++) {
      console.log(`Round ${run} of ${RUNS}`);
      // Odd rounds measure old first, even rounds new first: neither always follows the other.
      const order = run % 2 === 1 ? [0, 1] : [1, 0];
      for (const [i, plan] of plans.entries()) {
        for (const b of order) {
          const { url, pids } = builds[b].services[plan.service];
          const label = `${LABELS[b]} ${name(plan)}`;
          const script = `${plan.op.toLowerCase()}.lua`;
          samples[i][b].push(await wrkRow(measure, label, url, script, plan.connections, pids));
        }
      }
    }
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already ended
      }
    }
    await Promise.all(children.map((child) => child.status));
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `\nold: ${oldDir}\nnew: ${newDir}\n\n` +
      `| row | conns | old req/s (median of ${RUNS}) | new req/s (median) | new/old | ` +
      "old CPU us/req | new CPU us/req | old runs | new runs |\n" +
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  );
  for (const [i, plan] of plans.entries()) {
    const [before, after] = samples[i].map(median);
    const ratio = (after.requestsPerSecond / before.requestsPerSecond).toFixed(2);
    console.log(
      `| ${name(plan)} | ${plan.connections} | ${before.requestsPerSecond} | ` +
        `${after.requestsPerSecond} | ${ratio} | ${before.cpuMicros ?? "—"} | ` +
        `${after.cpuMicros ?? "—"} | ${before.runs!.join(", ")} | ${after.runs!.join(", ")} |`,
    );
  }
}

if (import.meta.main) {
  const [oldDir, newDir = new URL("..", import.meta.url).pathname] = Deno.args;
  if (!oldDir) {
    console.error("Usage: deno run --allow-all bench/compare_builds.ts <old-dir> [<new-dir>]");
    Deno.exit(2);
  }
  try {
    await main(oldDir, newDir);
  } catch (error) {
    // A build that cannot start is not a timing: that one fails the run.
    console.error(`Cannot compare ${oldDir} with ${newDir}: ${error}`);
    Deno.exit(1);
  }
}
