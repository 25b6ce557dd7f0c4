// Starts real master and node processes on 127.0.0.1 for tests, and stops them by PID.

import { parseMetrics } from "@cache/service/metrics";
import { parseTokens } from "@cache/service/auth";
import type { Harness, Service } from "./harness.ts";
import { NODE_V8_FLAGS } from "../../node/v8_flags.ts";

const root = new URL("../../", import.meta.url);
const permissions = ["--allow-net", "--allow-env", "--allow-read"];

/** A service process and its PID. */
export interface ProcessService extends Service {
  pid: number;
}

/** Every process a test started; {@link stopAll} ends those still running. */
export class Processes implements Harness {
  readonly #running = new Map<number, Deno.ChildProcess>();
  readonly #env: Record<string, string>;
  readonly #openFiles: number | undefined;
  readonly #nodeV8Flags: string;
  readonly #onLine: ((pid: number, line: string) => void) | undefined;

  /**
   * `env` is added to every process's environment; with `openFiles`, each process runs under that
   * limit on open descriptors (util-linux's `prlimit`); `onLine` sees every line a process prints;
   * `v8Flags` replaces the V8 flags nodes run with everywhere ({@link NODE_V8_FLAGS}).
   */
  constructor(
    env: Record<string, string> = {},
    options: {
      openFiles?: number;
      onLine?: (pid: number, line: string) => void;
      v8Flags?: string;
    } = {},
  ) {
    this.#env = env;
    this.#openFiles = options.openFiles;
    this.#onLine = options.onLine;
    this.#nodeV8Flags = options.v8Flags ?? NODE_V8_FLAGS;
  }

  masterAddress(): string {
    return `http://127.0.0.1:${freePort()}`;
  }

  /**
   * Starts `master/main.ts` on a free port, or on the port of `at`, and waits until it has a
   * ring to publish: a master that starts learns the last ring from its nodes first.
   */
  async master(options: { at?: string; args?: string[] } = {}): Promise<ProcessService> {
    const master = await this.#startMaster(options);
    if (master.url.startsWith("https:")) return master; // TLS tests wait with their own client
    // With tokens, a token of the list: without one the 401 would not tell the recovery's 503.
    const token = parseTokens(this.#env.AUTH_TOKENS ?? "")[0]?.[1];
    const headers: HeadersInit = token ? { authorization: `Bearer ${token}` } : {};
    await waitFor(
      async () => {
        const answer = await fetch(`${master.url}/ring`, { headers });
        await answer.body?.cancel();
        return answer.status !== 503;
      },
      "the master has a ring",
      15_000,
    );
    return master;
  }

  #startMaster(options: { at?: string; args?: string[] }): Promise<ProcessService> {
    const port = options.at ? new URL(options.at).port : "0";
    // A fresh master waits for the nodes of a last ring it cannot know there was: a short wait
    // here keeps tests quick; the restart tests give the default back (a later flag wins).
    return this.#start("master/main.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      port,
      "--recovery-ms",
      "300",
      ...options.args ?? [],
    ]);
  }

  /** Starts `node/main.ts` reporting to `masterUrl`. */
  node(masterUrl: string, args: string[] = []): Promise<ProcessService> {
    const defaults = ["--host", "127.0.0.1", "--port", "0", "--heartbeat-ms", "100"];
    const v8 = [`--v8-flags=${this.#nodeV8Flags}`];
    return this.#start("node/main.ts", [...defaults, "--master", masterUrl, ...args], v8);
  }

  /** Kills every process still running and waits for each to end. */
  async stopAll(): Promise<void> {
    for (const child of this.#running.values()) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already ended
      }
    }
    await Promise.all([...this.#running.values()].map((child) => child.status));
    this.#running.clear();
  }

  async #start(entry: string, args: string[], v8: string[] = []): Promise<ProcessService> {
    const deno = [Deno.execPath(), "run", ...permissions, ...v8, entry, ...args];
    const limit = this.#openFiles;
    const [command, ...rest] = limit ? ["prlimit", `--nofile=${limit}:${limit}`, ...deno] : deno;
    const child = new Deno.Command(command, {
      args: rest,
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...this.#env },
    }).spawn();
    this.#running.set(child.pid, child);
    const ended = child.status.then((status) => {
      this.#running.delete(child.pid);
      return status;
    });
    const logs: Record<string, unknown>[] = [];
    const stderr = new Response(child.stderr).text();
    const listening = new Promise<string>((resolve, reject) => {
      readLines(child.stdout, (line) => {
        this.#onLine?.(child.pid, line);
        try {
          const entry = JSON.parse(line);
          logs.push(entry);
          if (entry.msg === "listening") resolve(entry.url);
        } catch {
          // not a log line
        }
      }).then(async () => reject(new Error(`${entry} ended before listening: ${await stderr}`)));
    });
    const url = await deadline(listening, 15_000, `${entry} did not start`);
    const advertised = logs.find((line) => line.msg === "listening")?.advertise;
    return {
      url,
      address: typeof advertised === "string" ? advertised : url,
      pid: child.pid,
      logs,
      stop: async (signal = "SIGTERM") => {
        try {
          child.kill(signal);
        } catch {
          // already ended
        }
        return (await ended).code;
      },
    };
  }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    lines.forEach(onLine);
  }
}

function deadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it returns a value other than undefined or false, or fails after `ms`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  message: string,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${message} within ${ms} ms${last ? `: ${last}` : ""}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The master's view of its nodes. */
export async function nodesOf(
  masterUrl: string,
): Promise<{ address: string; status: string; synced: boolean }[]> {
  const answer = await fetch(`${masterUrl}/nodes`);
  const body = await answer.json();
  // 503 while a (re)started master learns the last ring: a waitFor asks again.
  if (!answer.ok) throw new Error(`GET /nodes answered ${answer.status}: ${body.error}`);
  return body.nodes;
}

/** Writes `key` through `url`'s `/keys` and returns the status. */
export async function put(url: string, key: string, value: string): Promise<number> {
  const answer = await fetch(`${url}/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, value }),
  });
  await answer.body?.cancel();
  return answer.status;
}

/** Reads `key` through `url`; the value, or undefined on 404. Throws on any other status. */
export async function get(url: string, key: string): Promise<string | undefined> {
  const answer = await fetch(`${url}/keys/${encodeURIComponent(key)}`);
  const body = await answer.json();
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET ${key}: ${answer.status} ${body.error}`);
  return body.value;
}

/** Waits until every node not down has moved its keys for the master's current epoch. */
export async function settled(masterUrl: string, ms = 15_000): Promise<void> {
  await waitFor(
    async () => {
      const nodes = await nodesOf(masterUrl);
      return nodes.every((n) => n.status === "down" || n.synced);
    },
    "keys moved for the current ring",
    ms,
  );
}

/** Waits until the master's `/ring` says the ring settled: every node followed it. */
export async function ringSettled(masterUrl: string, ms = 15_000): Promise<void> {
  await waitFor(
    async () => (await (await fetch(`${masterUrl}/ring`)).json()).settled === true,
    "the ring settled",
    ms,
  );
}

/**
 * Waits until the node at `url` serves keys: `/ready` answers 200 only while a master takes its
 * heartbeats and its lease runs. One listed up by the master may not yet: a node whose first beat
 * came while a (re)started master learnt the ring, every node after that master's recovery, and one
 * stalled past its lease each wait a beat for their lease.
 */
export async function ready(url: string): Promise<void> {
  await waitFor(async () => {
    const answer = await fetch(`${url}/ready`);
    await answer.body?.cancel();
    return answer.status === 200;
  }, `${url} ready`);
}

/**
 * Starts a master with `args` and `count` nodes with `nodeArgs`, and waits until all are registered
 * and settled.
 */
export async function settledCluster(
  processes: Processes,
  count: number,
  args: string[] = [],
  nodeArgs: string[] = [],
) {
  const master = await processes.master({ args });
  const nodes = await Promise.all(
    Array.from({ length: count }, () => processes.node(master.url, nodeArgs)),
  );
  await waitFor(
    async () => (await nodesOf(master.url)).length === count,
    `${count} nodes registered`,
  );
  await settled(master.url);
  return { master, nodes };
}

/** The write calls the services at `urls` answered, by route, from their request counters. */
export async function writeCalls(urls: string[]) {
  const calls = { keys: 0, msets: 0, stamped: 0, replicates: 0 };
  const routes = { keys: "/keys", msets: "/mset", stamped: "/stamped", replicates: "/replicate" };
  for (const url of urls) {
    const metrics = parseMetrics(await (await fetch(`${url}/metrics`)).text());
    for (const [series, count] of metrics) {
      if (!series.startsWith("http_requests_total{") || !series.includes('method="POST"')) continue;
      for (const [name, route] of Object.entries(routes) as [keyof typeof calls, string][]) {
        if (series.includes(`route="${route}"`)) calls[name] += count;
      }
    }
  }
  return calls;
}
