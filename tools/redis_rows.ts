// The load benchmark's anchor: one redis-server and a Redis Cluster of 3 primaries with a replica
// each, driven by ioredis from the same kind of load loop as the client's rows.

import { Cluster, Redis } from "ioredis";
import { freePort, waitFor } from "../tests/support/process.ts";
import { LOAD_VALUE, loadKey, loopRow, type Measure, type Row } from "./load_rows.ts";

/** A Redis setup started for the run: where to reach it and what to stop. */
export interface RedisSetup {
  client: Redis | Cluster;
  pids: number[];
  stop(): Promise<void>;
}

/** Starts redis-server on a free port of 127.0.0.1, with nothing saved to disk. */
function redisServer(dir: string, cluster: boolean): { port: number; child: Deno.ChildProcess } {
  const port = freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (cluster) {
    args.push("--cluster-enabled", "yes", "--cluster-config-file", `${dir}/nodes-${port}.conf`);
  }
  const child = new Deno.Command("redis-server", { args, cwd: dir, stdout: "null" }).spawn();
  return { port, child };
}

async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // ended
    }
    await child.status;
  }
}

async function ping(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {}); // refused until the server listens: the wait retries
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** One redis-server, and an ioredis client of it. */
export async function singleRedis(dir: string): Promise<RedisSetup> {
  const { port, child } = redisServer(dir, false);
  await waitFor(() => ping(port), "redis-server answers");
  const client = new Redis({ port, host: "127.0.0.1" });
  return {
    client,
    pids: [child.pid],
    stop: async () => {
      client.disconnect();
      await stopAll([child]);
    },
  };
}

/**
 * A Redis Cluster of 3 primaries each with one replica (`redis-cli --cluster create ...
 * --cluster-replicas 1`), and an ioredis Cluster client of it.
 */
export async function redisCluster(dir: string): Promise<RedisSetup> {
  const servers = Array.from({ length: 6 }, () => redisServer(dir, true));
  const children = servers.map((s) => s.child);
  try {
    for (const { port } of servers) await waitFor(() => ping(port), "redis-server answers");
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...servers.map(({ port }) => `127.0.0.1:${port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!create.success) {
      throw new Error(
        `Cannot create the Redis Cluster: ${new TextDecoder().decode(create.stderr)}`,
      );
    }
    const client = new Cluster(servers.map(({ port }) => ({ host: "127.0.0.1", port })));
    await waitFor(
      async () => {
        try {
          return (await client.cluster("INFO")).includes("cluster_state:ok");
        } catch {
          return false;
        }
      },
      "the Redis Cluster is ok",
      20_000,
    );
    return {
      client,
      pids: children.map((child) => child.pid),
      stop: async () => {
        client.disconnect();
        await stopAll(children);
      },
    };
  } catch (error) {
    await stopAll(children);
    throw error;
  }
}

/** Writes `loadKey(0)` to `loadKey(keys - 1)` through `client`, 100 per pipeline. */
export async function preloadRedis(client: Redis | Cluster, keys: number): Promise<void> {
  for (let i = 0; i < keys; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, keys - i) },
        (_, j) => client.set(loadKey(i + j), LOAD_VALUE),
      ),
    );
  }
}

/** GETs or SETs of random preloaded keys through `client`, measured as the client's rows are. */
export function ioredisRow(
  measure: Measure,
  name: string,
  client: Redis | Cluster,
  op: "GET" | "SET",
  connections: number,
  pids: number[],
): Promise<Row> {
  const call = op === "GET"
    ? (key: string) => client.get(key)
    : (key: string) => client.set(key, LOAD_VALUE);
  return loopRow(measure, name, call, connections, pids);
}
