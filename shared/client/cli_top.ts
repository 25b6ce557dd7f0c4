// `cache top`: a live view of the cluster per node, from the change of its counters between looks.

import type { ClusterStats } from "@cache/protocol/wire";
import { memory, percent, rate, table } from "./cli_format.ts";

/** One look at the cluster: the master's `/stats`, and what each node's `/metrics` counted. */
export interface Sample {
  /** When the look was taken, in milliseconds since 1970. */
  at: number;
  /** The master's `GET /stats`. */
  stats: ClusterStats;
  /** Each node's requests on its key routes since it started; absent when unreadable. */
  requests: Map<string, number>;
}

/** A node's figures over one refresh; a rate is null when it cannot be known yet. */
export interface NodeFigures {
  address: string;
  /** Requests on the node's key routes (`/keys`, `/keys/{key}`, `/mget`, `/mset`) per second. */
  opsPerSecond: number | null;
  /** Keys read (hits and misses) per second. */
  readsPerSecond: number | null;
  /** Share of the reads of the interval that found their key. */
  hitRate: number | null;
  keys: number;
  bytes: number;
  maxBytes: number;
}

/** One refresh of `top`: each node's figures (or error) and the cluster's. */
export interface Refresh {
  /** When the later look was taken, ISO 8601. */
  at: string;
  /** Seconds between the two looks; null on a first look. */
  seconds: number | null;
  nodes: (NodeFigures | { address: string; error: string })[];
  total: Omit<NodeFigures, "address">;
}

/**
 * The routes whose requests count as operations: a client's reads and writes (a plain write sent
 * to every owner at once is a `/stamped`, an increment or touch a route of its own).
 */
const KEY_ROUTES = new Set([
  "/keys",
  "/keys/{key}",
  "/keys/{key}/incr",
  "/keys/{key}/touch",
  "/mget",
  "/mset",
  "/stamped",
]);

/**
 * The requests a service's `/metrics` counted on its key routes, all methods and statuses, or
 * undefined when the text has no `http_requests_total`.
 *
 * @example
 * ```ts
 * import { keyRequests } from "./cli_top.ts";
 * keyRequests('http_requests_total{method="GET",route="/keys/{key}",status="200"} 7\n'); // 7
 * ```
 */
export function keyRequests(metrics: string): number | undefined {
  let total: number | undefined;
  for (const line of metrics.split("\n")) {
    const sample = /^http_requests_total\{(.*)\} (\S+)$/.exec(line);
    if (!sample) continue;
    total ??= 0;
    const route = /(?:^|,)route="([^"]*)"/.exec(sample[1])?.[1];
    if (route !== undefined && KEY_ROUTES.has(route)) total += Number(sample[2]);
  }
  return total;
}

/**
 * The figures between two looks: rates from the change of each node's counters (null for a node
 * not in `before`, or whose counters went back, as when it restarted), keys and memory from
 * `after`. Without `before`, every rate is null.
 *
 * @example
 * ```ts
 * import { figures } from "./cli_top.ts";
 * const refresh = figures(before, after);
 * refresh.nodes[0]; // { address, opsPerSecond: 120, readsPerSecond: 100, hitRate: 0.9, … }
 * ```
 */
export function figures(before: Sample | undefined, after: Sample): Refresh {
  const seconds = before ? (after.at - before.at) / 1000 : null;
  const earlier = new Map<string, { hits: number; misses: number }>();
  for (const node of before?.stats.nodes ?? []) {
    if (!("error" in node)) earlier.set(node.address, node);
  }
  const per = (change: number | undefined) =>
    seconds && change !== undefined && change >= 0 ? change / seconds : null;
  let hits = 0;
  let reads = 0;
  const nodes: Refresh["nodes"] = after.stats.nodes.map((node) => {
    if ("error" in node) return { address: node.address, error: node.error };
    const was = earlier.get(node.address);
    const readsNow = node.hits + node.misses;
    const read = was ? readsNow - (was.hits + was.misses) : undefined;
    const hit = was ? node.hits - was.hits : undefined;
    const requestsBefore = before?.requests.get(node.address);
    const requestsAfter = after.requests.get(node.address);
    const requests = requestsBefore !== undefined && requestsAfter !== undefined
      ? requestsAfter - requestsBefore
      : undefined;
    const counted = read !== undefined && hit !== undefined && read >= 0 && hit >= 0;
    if (counted) {
      hits += hit;
      reads += read;
    }
    return {
      address: node.address,
      opsPerSecond: per(requests),
      readsPerSecond: per(read),
      hitRate: counted && read > 0 ? hit / read : null,
      keys: node.keys,
      bytes: node.bytes,
      maxBytes: node.maxBytes,
    };
  });
  const sum = (pick: (node: NodeFigures) => number | null) => {
    const known = nodes.flatMap((node) =>
      "error" in node || pick(node) === null ? [] : [pick(node)!]
    );
    return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
  };
  return {
    at: new Date(after.at).toISOString(),
    seconds,
    nodes,
    total: {
      opsPerSecond: sum((node) => node.opsPerSecond),
      readsPerSecond: sum((node) => node.readsPerSecond),
      hitRate: reads > 0 ? hits / reads : null,
      keys: after.stats.keys,
      bytes: after.stats.bytes,
      maxBytes: after.stats.maxBytes,
    },
  };
}

/**
 * A refresh as lines for people: a heading naming the cluster, the time and the interval, a line
 * per node, and the cluster's total.
 *
 * @example
 * ```ts
 * import { figures, topLines } from "./cli_top.ts";
 * topLines(figures(before, after), "http://127.0.0.1:8080");
 * // ["cache top  http://127.0.0.1:8080  13:00:01 UTC  over 1.0 s", "NODE  OPS/S …", …]
 * ```
 */
export function topLines(refresh: Refresh, url: string): string[] {
  const over = refresh.seconds === null ? "first look" : `over ${refresh.seconds.toFixed(1)} s`;
  const heading = `cache top  ${url}  ${refresh.at.slice(11, 19)} UTC  ${over}`;
  const rows = [["NODE", "OPS/S", "READS/S", "HIT%", "KEYS", "MEMORY"]];
  const row = (name: string, f: Omit<NodeFigures, "address">) => [
    name,
    rate(f.opsPerSecond),
    rate(f.readsPerSecond),
    percent(f.hitRate),
    String(f.keys),
    memory(f.bytes, f.maxBytes),
  ];
  for (const node of refresh.nodes) {
    rows.push("error" in node ? [node.address, `error: ${node.error}`] : row(node.address, node));
  }
  rows.push(row("TOTAL", refresh.total));
  return [heading, ...table(rows, [1, 2, 3, 4])];
}

/** What `top` needs: a way to look, where to write, and how often. */
export interface TopOptions {
  /** Takes one look at the cluster, given up on when `signal` aborts; throws when it fails. */
  sample(signal?: AbortSignal): Promise<Sample>;
  /** Writes to standard output. */
  write(text: string): void;
  /** The master's URL, for the heading. */
  url: string;
  intervalMs: number;
  /** One refresh over one interval, then return. */
  once: boolean;
  /** One JSON document per refresh instead of a table. */
  json: boolean;
  /** Redraw in place with ANSI escapes rather than print one block per refresh. */
  terminal: boolean;
  /** Ends the view (Ctrl-C). */
  signal?: AbortSignal;
}

// Cursor home, clear to the end of the line and of the screen; hide and show the cursor.
const HOME = "\x1b[H";
const CLEAR_LINE = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";
const CLEAR_SCREEN = "\x1b[2J";
const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

/**
 * Shows the cluster until `signal` aborts: a refresh every `intervalMs`, each from the change
 * since the look before. The first look's failure throws (a wrong URL or token); later failures
 * are shown in place of the table, and the next refresh tries again. With `once`, looks twice,
 * `intervalMs` apart, prints that one refresh and returns.
 *
 * @example
 * ```ts
 * import { top } from "./cli_top.ts";
 * const options = { intervalMs: 1000, once: true, json: false, terminal: false };
 * await top({ sample, write: console.log, url, ...options });
 * ```
 */
export async function top(options: TopOptions): Promise<void> {
  const { signal, terminal } = options;
  const live = terminal && !options.json && !options.once;
  let first = true;
  const draw = (lines: string[]) => {
    if (options.json) return; // JSON is written per refresh by show()
    if (!live) {
      options.write(`${first ? "" : "\n"}${lines.join("\n")}\n`);
    } else {
      const frame = lines.map((line) => line + CLEAR_LINE).join("\n");
      options.write(`${first ? CLEAR_SCREEN : ""}${HOME}${frame}\n${CLEAR_BELOW}`);
    }
    first = false;
  };
  const show = (before: Sample | undefined, after: Sample) => {
    const refresh = figures(before, after);
    if (options.json) options.write(JSON.stringify({ url: options.url, ...refresh }) + "\n");
    else draw(topLines(refresh, options.url));
  };
  let before = await options.sample(signal);
  if (live) options.write(HIDE_CURSOR);
  try {
    if (!options.once) show(undefined, before);
    while (!signal?.aborted) {
      await sleep(options.intervalMs, signal);
      if (signal?.aborted) break;
      let after: Sample;
      try {
        after = await options.sample(signal);
      } catch (error) {
        if (signal?.aborted) break;
        if (options.once) throw error;
        const message = `cache: ${error instanceof Error ? error.message : String(error)}`;
        if (options.json) {
          options.write(JSON.stringify({ url: options.url, error: message }) + "\n");
        } else {draw([
            `cache top  ${options.url}  ${new Date().toISOString().slice(11, 19)} UTC`,
            message,
          ]);}
        continue;
      }
      show(before, after);
      before = after;
      if (options.once) break;
    }
  } finally {
    if (live) options.write(SHOW_CURSOR);
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
