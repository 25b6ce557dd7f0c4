// top: rates from two looks, the table, and the loop on a terminal or not.

import assert from "node:assert/strict";
import { figures, keyRequests, type Sample, top, topLines, type TopOptions } from "./cli_top.ts";

const node = (address: string, hits: number, misses: number, keys = 1) => ({
  address,
  keys,
  primaryKeys: keys,
  bytes: 1024 * keys,
  maxBytes: 1024 * 1024,
  hits,
  misses,
  evictions: 0,
  expired: 0,
  uptimeSeconds: 10,
});

/** A look at `at` ms, of `nodes`, with `requests` per node address. */
function sample(
  at: number,
  nodes: ReturnType<typeof node>[],
  requests: Record<string, number> = {},
): Sample {
  const sum = (pick: (n: ReturnType<typeof node>) => number) =>
    nodes.reduce((total, n) => total + pick(n), 0);
  const totals = {
    ...node("", sum((n) => n.hits), sum((n) => n.misses), sum((n) => n.keys)),
    copies: sum((n) => n.keys),
  };
  return {
    at,
    stats: { ...totals, nodes },
    requests: new Map(Object.entries(requests)),
  };
}

Deno.test("keyRequests() sums the requests of the key routes only, any method and status", () => {
  const metrics = [
    "# HELP http_requests_total HTTP requests answered",
    "# TYPE http_requests_total counter",
    'http_requests_total{method="GET",route="/keys/{key}",status="200"} 7',
    'http_requests_total{method="GET",route="/keys/{key}",status="404"} 2',
    'http_requests_total{method="POST",route="/keys",status="201"} 3',
    'http_requests_total{method="POST",route="/mget",status="200"} 1',
    'http_requests_total{method="POST",route="/mset",status="200"} 1',
    'http_requests_total{method="POST",route="/stamped",status="200"} 5',
    'http_requests_total{method="POST",route="/keys/{key}/incr",status="200"} 2',
    'http_requests_total{method="POST",route="/replicate",status="200"} 40',
    'http_requests_total{method="GET",route="/stats",status="200"} 9',
    "cache_hits_total 100",
  ].join("\n");
  assert.equal(keyRequests(metrics), 21);
  assert.equal(keyRequests('http_requests_total{method="GET",route="/live",status="200"} 1'), 0);
  assert.equal(keyRequests("cache_hits_total 100\n"), undefined);
});

Deno.test("figures() gives each node's rates from the change of its counters", () => {
  const before = sample(1000, [node("http://a:1", 10, 0), node("http://c:3", 50, 0)], {
    "http://a:1": 5,
  });
  const after = sample(3000, [
    node("http://a:1", 30, 10, 4),
    node("http://b:2", 8, 0),
    node("http://c:3", 2, 0), // restarted: its counters went back
  ], { "http://a:1": 45, "http://b:2": 9 });
  after.stats.nodes.push({ address: "http://d:4", error: "Node timed out" });
  const refresh = figures(before, after);
  assert.equal(refresh.seconds, 2);
  assert.equal(refresh.at, "1970-01-01T00:00:03.000Z");
  assert.deepEqual(refresh.nodes, [
    {
      address: "http://a:1",
      opsPerSecond: 20,
      readsPerSecond: 15,
      hitRate: 20 / 30,
      keys: 4,
      bytes: 4096,
      maxBytes: 1024 * 1024,
    },
    {
      address: "http://b:2",
      opsPerSecond: null,
      readsPerSecond: null,
      hitRate: null,
      keys: 1,
      bytes: 1024,
      maxBytes: 1024 * 1024,
    },
    {
      address: "http://c:3",
      opsPerSecond: null,
      readsPerSecond: null,
      hitRate: null,
      keys: 1,
      bytes: 1024,
      maxBytes: 1024 * 1024,
    },
    { address: "http://d:4", error: "Node timed out" },
  ]);
  assert.deepEqual(refresh.total, {
    opsPerSecond: 20,
    readsPerSecond: 15,
    hitRate: 20 / 30,
    keys: 6,
    bytes: 6144,
    maxBytes: 1024 * 1024,
  });
  const first = figures(undefined, after);
  assert.equal(first.seconds, null);
  assert.equal(first.total.readsPerSecond, null);
});

Deno.test("topLines() prints a heading, a line per node or its error, and the total", () => {
  const before = sample(0, [node("http://a:1", 0, 0)], { "http://a:1": 0 });
  const after = sample(1000, [node("http://a:1", 9, 1)], { "http://a:1": 250 });
  after.stats.nodes.push({ address: "http://b:2", error: "Node timed out" });
  assert.deepEqual(topLines(figures(before, after), "http://m:1"), [
    "cache top  http://m:1  00:00:01 UTC  over 1.0 s",
    "NODE        OPS/S  READS/S   HIT%  KEYS  MEMORY",
    "http://a:1    250     10.0  90.0%     1  1.0 KiB / 1.0 MiB (0.1%)",
    "http://b:2  error: Node timed out",
    "TOTAL         250     10.0  90.0%     1  1.0 KiB / 1.0 MiB (0.1%)",
  ]);
});

/** top() over looks whose counters grow by 10 reads each, writing into `out`. */
function watched(options: Partial<TopOptions> & { failAt?: number } = {}) {
  const out: string[] = [];
  let looks = 0;
  const opts: TopOptions = {
    sample: () => {
      looks++;
      if (looks === options.failAt) return Promise.reject(new Error("The master went away"));
      return Promise.resolve(sample(looks * 100, [node("http://a:1", looks * 10, 0)]));
    },
    write: (text) => out.push(text),
    url: "http://m:1",
    intervalMs: 10,
    once: false,
    json: false,
    terminal: false,
    ...options,
  };
  return { opts, out, looks: () => looks };
}

Deno.test("top() with once looks twice, an interval apart, and prints one refresh", async () => {
  const { opts, out, looks } = watched({ once: true, json: true });
  await top(opts);
  assert.equal(looks(), 2);
  assert.equal(out.length, 1);
  const refresh = JSON.parse(out[0]);
  assert.equal(refresh.url, "http://m:1");
  assert.equal(refresh.seconds, 0.1);
  assert.equal(refresh.nodes[0].readsPerSecond, 100);
});

Deno.test("top() redraws in place on a terminal, and shows the cursor again when stopped", async () => {
  const controller = new AbortController();
  const { opts, out } = watched({ terminal: true, signal: controller.signal });
  opts.write = (text) => {
    out.push(text);
    if (out.length === 4) controller.abort();
  };
  await top(opts);
  assert.equal(out[0], "\x1b[?25l");
  assert.ok(out[1].startsWith("\x1b[2J\x1b[H"), JSON.stringify(out[1]));
  assert.ok(out[2].startsWith("\x1b[H") && !out[2].includes("\x1b[2J"), "later frames only home");
  assert.ok(out[2].endsWith("\n\x1b[J"));
  assert.ok(
    out[2].split("\n").every((line, i, all) => i === all.length - 1 || line.endsWith("\x1b[K")),
  );
  assert.match(out[2], /^http:\/\/a:1 +- +100 /m);
  assert.equal(out.at(-1), "\x1b[?25h");
  assert.equal(out.length, 5, "stops at the abort");
});

Deno.test("top() prints one block per refresh when not on a terminal, and shows a failed look", async () => {
  const controller = new AbortController();
  const { opts, out } = watched({ failAt: 2, signal: controller.signal });
  opts.write = (text) => {
    out.push(text);
    if (out.length === 3) controller.abort();
  };
  await top(opts);
  assert.equal(out.length, 3);
  assert.ok(out.every((block) => !block.includes("\x1b")));
  assert.match(out[0], /first look\nNODE/);
  assert.match(out[1], /^\ncache top {2}http:\/\/m:1 .*\ncache: The master went away\n$/);
  assert.match(
    out[2],
    /^\ncache top .* over 0\.2 s\n/,
    "the next look is compared with the last good one",
  );
});

Deno.test("top() throws when the first look fails", async () => {
  const { opts, out } = watched({ failAt: 1 });
  await assert.rejects(top(opts), /The master went away/);
  assert.deepEqual(out, []);
});
