// The tables and figures the CLI prints for people.

import assert from "node:assert/strict";
import {
  duration,
  memory,
  nodesText,
  percent,
  rate,
  size,
  statsText,
  table,
} from "./cli_format.ts";
import type { ClusterStats } from "@cache/protocol/wire";

Deno.test("table() aligns columns, numbers right, and lets a short row's last cell run on", () => {
  const lines = table(
    [
      ["NODE", "KEYS", "MEMORY"],
      ["http://a:1", "12", "1.0 KiB"],
      ["http://b:22", "error: http://b:22 could not be reached"],
      ["http://c:3", "3", "2.0 KiB"],
    ],
    [1],
  );
  assert.deepEqual(lines, [
    "NODE         KEYS  MEMORY",
    "http://a:1     12  1.0 KiB",
    "http://b:22  error: http://b:22 could not be reached",
    "http://c:3      3  2.0 KiB",
  ]);
});

Deno.test("size(), memory(), percent(), rate() and duration() read as people write them", () => {
  assert.deepEqual([size(0), size(1023), size(1536), size(64 * 1024 * 1024)], [
    "0 B",
    "1023 B",
    "1.5 KiB",
    "64.0 MiB",
  ]);
  assert.equal(memory(1024, 4096), "1.0 KiB / 4.0 KiB (25.0%)");
  assert.equal(memory(1024, 0), "1.0 KiB / unbounded");
  assert.deepEqual([percent(null), percent(1), percent(2 / 3)], ["-", "100.0%", "66.7%"]);
  assert.deepEqual([rate(null), rate(0), rate(12.345), rate(1234.5)], ["-", "0.0", "12.3", "1235"]);
  assert.deepEqual([duration(45.9), duration(200), duration(7500), duration(90000)], [
    "45s",
    "3m 20s",
    "2h 5m",
    "1d 1h",
  ]);
});

const node = (address: string, hits: number, misses: number) => ({
  address,
  keys: 3,
  primaryKeys: 2,
  bytes: 2048,
  maxBytes: 0,
  hits,
  misses,
  evictions: 0,
  expired: 1,
  uptimeSeconds: 61,
});

Deno.test("statsText() prints the totals, then one line per node or its error", () => {
  const totals = { ...node("", 3, 1), copies: 6, uptimeSeconds: 3600 };
  const stats: ClusterStats = {
    ...totals,
    nodes: [node("http://a:1", 3, 1), { address: "http://b:2", error: "Node timed out" }],
  };
  const text = statsText(stats);
  assert.match(text, /^keys {7}3\ncopies {5}6\nmemory {5}2\.0 KiB \/ unbounded\n/);
  assert.match(text, /^hit rate {3}75\.0%$/m);
  assert.match(text, /^uptime {5}1h 0m \(master\)$/m);
  assert.match(text, /^http:\/\/a:1 +3 {2}2\.0 KiB \/ unbounded +3 +1 +75\.0% {2}1m 1s$/m);
  assert.match(text, /^http:\/\/b:2 +error: Node timed out$/m);
});

Deno.test("nodesText() prints the epoch and each node's status", () => {
  const text = nodesText({
    epoch: 4,
    nodes: [
      { address: "http://a:1", status: "up", lastSeen: "2026-01-01T00:00:00.000Z", synced: true },
      {
        address: "http://b:2",
        status: "down",
        lastSeen: "2026-01-01T00:00:01.000Z",
        synced: false,
      },
    ],
  });
  assert.equal(
    text,
    [
      "Ring epoch 4: 2 nodes, 1 up",
      "ADDRESS     STATUS  SYNCED  LAST SEEN",
      "http://a:1  up      yes     2026-01-01T00:00:00.000Z",
      "http://b:2  down    no      2026-01-01T00:00:01.000Z",
      "",
    ].join("\n"),
  );
  assert.equal(nodesText({ epoch: 0, nodes: [] }), "Ring epoch 0: no nodes\n");
});
