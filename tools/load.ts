// deno task bench:load: GET and SET through the master and on one node, measured with wrk against
// bare Deno.serve, a bare Deno forwarder and webdis + redis in the same run; prints a table, writes
// JSON and an SVG chart.

import { nodeSettings } from "../node/config.ts";
import { freePort, Processes, waitFor } from "../tests/support/process.ts";
import { chart } from "./load_chart.ts";
import {
  clientRow,
  LOAD_VALUE,
  loadKey,
  type Measure,
  median,
  preload,
  type Row,
  writeKeyScripts,
  wrkRow,
} from "./load_rows.ts";
import {
  ioredisRow,
  preloadRedis,
  redisCluster,
  type RedisSetup,
  singleRedis,
} from "./redis_rows.ts";

const DURATION_S = Number(Deno.env.get("LOAD_SECONDS") ?? 10);
const RUNS = Number(Deno.env.get("LOAD_RUNS") ?? 3);
const WARMUP_S = 2;
const KEYS = 100_000;
const CONNECTIONS = [10, 50];

const has = async (command: string) =>
  (await new Deno.Command("sh", { args: ["-c", `command -v ${command}`], stdout: "null" }).output())
    .success;

if (!(await has("wrk"))) {
  console.error("wrk is not installed: apt-get install wrk (Debian) or brew install wrk");
  Deno.exit(1);
}

const dir = await Deno.makeTempDir({ prefix: "cache-load-" });
const value = LOAD_VALUE;
const measure: Measure = { dir, seconds: DURATION_S, warmupSeconds: WARMUP_S, keys: KEYS };
const CLIENT_TOKEN = "client-token-1";
const TOKENS = { AUTH_TOKENS: `client:${CLIENT_TOKEN},node:node-token-1,admin:admin-token-1` };
const NODE_TOKENS = { MASTER_TOKEN: "node-token-1", NODE_TOKEN: "node-token-1" };
await writeKeyScripts(dir, KEYS, CLIENT_TOKEN);
await Deno.writeTextFile(
  `${dir}/webdis_get.lua`,
  `request = function()
  return wrk.format("GET", string.format("/GET/key:%011d", math.random(0, ${KEYS - 1})))
end`,
);
await Deno.writeTextFile(
  `${dir}/webdis_set.lua`,
  `request = function()
  return wrk.format("GET", string.format("/SET/key:%011d/${value}", math.random(0, ${KEYS - 1})))
end`,
);

const rows: Row[] = [];
const processes = new Processes();
const withTokens = new Processes({ ...TOKENS, ...NODE_TOKENS });
const children: Deno.ChildProcess[] = [];
const redisSetups: RedisSetup[] = [];
// Release settings: the node's default heartbeat, not the tests' 100 ms (the last flag counts).
const release = ["--heartbeat-ms", String(nodeSettings.heartbeatMs.schema.parse(undefined))];

/** A master and 3 nodes of `harness`, the master with `args`; their PIDs, master first. */
async function cluster(harness: Processes, args: string[] = []) {
  const master = await harness.master({ args });
  const nodes = await Promise.all([1, 2, 3].map(() => harness.node(master.url, release)));
  const as: HeadersInit = harness === withTokens ? { authorization: "Bearer admin-token-1" } : {};
  await waitFor(
    async () =>
      (await (await fetch(`${master.url}/nodes`, { headers: as })).json()).nodes.length === 3,
    "3 nodes",
  );
  return { master, pids: [master.pid, ...nodes.map((node) => node.pid)] };
}

/** Starts a baseline server of bench/ on `ports`; stopped with the run. */
function start(script: string, ports: number[]): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", script, ...ports.map(String)],
    stdout: "null",
  }).spawn();
  children.push(child);
  return child;
}
try {
  console.log(
    "Starting three clusters of a master and 3 nodes (R=2, R=2 with tokens, R=1), and a standalone node",
  );
  // Default log level: info writes no line per request.
  const { master, pids: open } = await cluster(processes);
  const tokens = await cluster(withTokens);
  const one = await cluster(processes, ["--replicas", "1"]);
  const single = await processes.node("none", release); // no master: a node on its own
  await preload(master.url, KEYS);
  await preload(tokens.master.url, KEYS, CLIENT_TOKEN);
  await preload(one.master.url, KEYS);
  await preload(single.url, KEYS);

  // A bare server measured alone, and the ceiling of forwarding in Deno: one call per request to
  // it and two more like it, nothing checked.
  const backendPorts = [freePort(), freePort(), freePort()];
  const backends = backendPorts.map((port) => start("bench/bare_server.ts", [port]));
  const bare = backends[0];
  for (const port of backendPorts) {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, "bare server");
  }
  const forwarderPort = freePort();
  const forwarder = start("bench/forwarder.ts", [forwarderPort, ...backendPorts]);
  const forwarderUrl = `http://127.0.0.1:${forwarderPort}`;
  await waitFor(async () => (await fetch(`${forwarderUrl}/keys/k`)).ok, "forwarder");

  let webdisUrl: string | undefined;
  const webdisPids: number[] = [];
  if (await has("redis-server") && await has("webdis")) {
    const redisPort = freePort();
    const redis = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(redisPort),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "null",
    }).spawn();
    children.push(redis);
    const webdisPort = freePort();
    await Deno.writeTextFile(
      `${dir}/webdis.json`,
      JSON.stringify({
        redis_host: "127.0.0.1",
        redis_port: redisPort,
        http_host: "127.0.0.1",
        http_port: webdisPort,
        threads: 2,
        daemonize: false,
        verbosity: 0,
        logfile: `${dir}/webdis.log`,
      }),
    );
    // Its libevent warns on stderr each time wrk drops its connections at the end of a run.
    const webdis = new Deno.Command("webdis", {
      args: [`${dir}/webdis.json`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(webdis);
    webdisPids.push(webdis.pid, redis.pid);
    webdisUrl = `http://127.0.0.1:${webdisPort}`;
    await waitFor(async () => (await fetch(`${webdisUrl}/PING`)).ok, "webdis");
    console.log("  preloading redis");
    for (let i = 0; i < KEYS; i += 100) {
      const args = Array.from({ length: 100 }, (_, j) => `${loadKey(i + j)}/${value}`).join("/");
      await (await fetch(`${webdisUrl}/MSET/${args}`)).arrayBuffer();
    }
  } else {
    console.log(
      "  webdis or redis-server not installed (apt-get install webdis redis-server): skipping",
    );
  }
  // The anchor a user would pick instead: Redis, alone and as a cluster, through ioredis.
  const redisRows: { name: string; setup: RedisSetup }[] = [];
  if (await has("redis-server") && await has("redis-cli")) {
    console.log("Starting a redis-server and a Redis Cluster of 3 primaries with a replica each");
    for (
      const [name, make] of [["redis-server", singleRedis], [
        "Redis Cluster",
        redisCluster,
      ]] as const
    ) {
      const setup = await make(dir);
      redisSetups.push(setup);
      await preloadRedis(setup.client, KEYS);
      redisRows.push({ name: `ioredis → ${name}`, setup });
    }
  } else {
    console.log(
      "  redis-server or redis-cli not installed (apt-get install redis-server): skipping the ioredis rows",
    );
  }

  // Every row is measured RUNS times, the rows taking turns, so a slow minute of the machine
  // falls on all of them; each row keeps its median run.
  const plan: (() => Promise<Row>)[] = [];
  for (const c of CONNECTIONS) {
    const bareUrl = `http://127.0.0.1:${backendPorts[0]}/`;
    plan.push(() => wrkRow(measure, "bare Deno.serve", bareUrl, "get.lua", c, [bare.pid]));
    plan.push(() => wrkRow(measure, "master GET", master.url, "get.lua", c, open));
    plan.push(() =>
      wrkRow(measure, "master GET (tokens)", tokens.master.url, "get_token.lua", c, tokens.pids)
    );
    plan.push(() =>
      wrkRow(measure, "Deno forwarder GET", forwarderUrl, "get.lua", c, [
        forwarder.pid,
        ...backends.map((backend) => backend.pid),
      ])
    );
    plan.push(() => wrkRow(measure, "master SET", master.url, "set.lua", c, open));
    plan.push(() =>
      wrkRow(measure, "master SET (tokens)", tokens.master.url, "set_token.lua", c, tokens.pids)
    );
    plan.push(() => wrkRow(measure, "node direct GET", single.url, "get.lua", c, [single.pid]));
    plan.push(() => wrkRow(measure, "node direct SET", single.url, "set.lua", c, [single.pid]));
    if (webdisUrl) {
      const url = webdisUrl;
      plan.push(() => wrkRow(measure, "webdis+redis GET", url, "webdis_get.lua", c, webdisPids));
      plan.push(() => wrkRow(measure, "webdis+redis SET", url, "webdis_set.lua", c, webdisPids));
    }
    // The client's rows come from a load loop in this process, not wrk: compare them together.
    plan.push(() => clientRow(measure, master.url, "proxy", c, open));
    for (const op of ["GET", "SET"] as const) {
      plan.push(() => clientRow(measure, master.url, "direct", c, open, op));
      plan.push(() =>
        clientRow(measure, tokens.master.url, "direct", c, tokens.pids, op, { token: CLIENT_TOKEN })
      );
      for (const { name, setup } of redisRows) {
        plan.push(() => ioredisRow(measure, `${name} ${op}`, setup.client, op, c, setup.pids));
      }
    }
    plan.push(async () => ({
      ...await clientRow(measure, one.master.url, "direct", c, one.pids, "SET"),
      name: "client direct SET (R=1)",
    }));
  }
  const samples: Row[][] = plan.map(() => []);
  for (let run = 1; run <= RUNS; run++) {
    console.log(`Run ${run} of ${RUNS}`);
    for (const [i, measure] of plan.entries()) samples[i].push(await measure());
  }
  rows.push(...samples.map(median));
  if (webdisUrl && await has("redis-benchmark")) {
    const config = JSON.parse(await Deno.readTextFile(`${dir}/webdis.json`));
    const out = new TextDecoder().decode(
      (await new Deno.Command("redis-benchmark", {
        args: ["-p", String(config.redis_port), "-t", "get,set", "-n", "200000", "-c", "50", "-q"],
        stdout: "piped",
      }).output()).stdout,
    );
    for (
      const match of out.matchAll(
        /(GET|SET): ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/g,
      )
    ) {
      rows.push({
        name: `redis-benchmark ${match[1]}`,
        connections: 50,
        requestsPerSecond: Math.round(Number(match[2])),
        p50Ms: Number(match[3] ?? NaN),
        p99Ms: NaN,
      });
    }
  }
} finally {
  await processes.stopAll();
  await withTokens.stopAll();
  for (const setup of redisSetups) await setup.stop();
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // ended
    }
    await child.status;
  }
}

const find = (name: string, c: number) => rows.find((r) => r.name === name && r.connections === c);
const ratios: Record<string, number> = {};
// CPU per request of the serving processes, against webdis + redis's: where the time goes.
const cpuRatios: Record<string, number> = {};
/** Sets `label` in `into` to row `top` over row `bottom` at `c` connections, where both have it. */
function ratio(
  into: Record<string, number>,
  label: string,
  [top, bottom]: [string, string],
  c: number,
  field: "requestsPerSecond" | "cpuMicros" = "requestsPerSecond",
) {
  const over = find(top, c)?.[field];
  const under = find(bottom, c)?.[field];
  if (over && under) into[`${label}, c=${c}`] = over / under;
}
for (const c of CONNECTIONS) {
  for (const op of ["GET", "SET"]) {
    const [master, node, webdis] = [`master ${op}`, `node direct ${op}`, `webdis+redis ${op}`];
    ratio(ratios, `master ${op} / bare Deno`, [master, "bare Deno.serve"], c);
    ratio(ratios, `master ${op} / webdis`, [master, webdis], c);
    ratio(ratios, `node direct ${op} / bare Deno`, [node, "bare Deno.serve"], c);
    ratio(cpuRatios, `master + nodes ${op} / webdis + redis`, [master, webdis], c, "cpuMicros");
  }
  const forwarder = "Deno forwarder GET";
  ratio(ratios, "Deno forwarder GET / webdis", [forwarder, "webdis+redis GET"], c);
  ratio(ratios, "master GET / Deno forwarder", ["master GET", forwarder], c);
  ratio(
    cpuRatios,
    "Deno forwarder + backends GET / webdis + redis",
    [forwarder, "webdis+redis GET"],
    c,
    "cpuMicros",
  );
  ratio(ratios, "client direct / client proxy GET", ["client direct GET", "client proxy GET"], c);
  for (const op of ["GET", "SET"]) {
    const client = `client direct ${op}`;
    ratio(ratios, `client direct / ioredis-cluster ${op}`, [
      client,
      `ioredis → Redis Cluster ${op}`,
    ], c);
    for (const row of [`master ${op}`, client]) {
      ratio(ratios, `${row} tokens / open`, [`${row} (tokens)`, row], c);
    }
  }
  ratio(
    ratios,
    "client direct R=2 SET / R=1 SET",
    ["client direct SET", "client direct SET (R=1)"],
    c,
  );
  ratio(ratios, "master SET / master GET", ["master SET", "master GET"], c);
}

console.log(
  `\n| row | conns | req/s (median of ${RUNS}) | p50 ms | p99 ms | CPU us/req | every run |\n` +
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
);
// redis-benchmark prints no p99: a dash, not NaN.
const cell = (value: number) => Number.isNaN(value) ? "—" : value.toFixed(2);
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.connections} | ${r.requestsPerSecond} | ${cell(r.p50Ms)} | ${
      cell(r.p99Ms)
    } | ${r.cpuMicros ?? "—"} | ${r.runs?.join(", ") ?? ""} |`,
  );
}
console.log("\n| ratio | value |\n| --- | ---: |");
for (const [name, value] of Object.entries(ratios)) {
  console.log(`| ${name} | ${value.toFixed(2)} |`);
}
console.log("\n| CPU per request (servers, not wrk) | times |\n| --- | ---: |");
for (const [name, value] of Object.entries(cpuRatios)) {
  console.log(`| ${name} | ${value.toFixed(2)} |`);
}

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const out = new URL(`../bench/results/${stamp}`, import.meta.url).pathname;
await Deno.writeTextFile(
  `${out}.json`,
  JSON.stringify({ date: new Date().toISOString(), rows, ratios, cpuRatios }, null, 2),
);
await Deno.writeTextFile(`${out}.svg`, chart(rows));
console.log(`\nWrote ${out}.json and ${out}.svg`);
await Deno.remove(dir, { recursive: true });
