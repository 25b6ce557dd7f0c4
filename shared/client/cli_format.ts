// How the CLI prints the master's documents for people: aligned tables, sizes, rates, percentages.

import type { ClusterStats, NodeList, NodeStats } from "@cache/protocol/wire";

/**
 * `rows` as lines of columns two spaces apart, each column as wide as its widest cell; columns
 * listed in `right` align right (numbers). A row shorter than the others ends early, and the last
 * cell of a row is never padded, so an error message may run past the columns.
 *
 * @example
 * ```ts
 * import { table } from "./cli_format.ts";
 * table([["NODE", "KEYS"], ["http://a:1", "12"]], [1]); // ["NODE        KEYS", "http://a:1    12"]
 * ```
 */
export function table(rows: string[][], right: number[] = []): string[] {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, c) => {
    // A cell that ends its row short of the last column does not widen its column.
    const cells = rows.filter((row) => row.length === columns || c < row.length - 1);
    return Math.max(0, ...cells.map((row) => row[c]?.length ?? 0));
  });
  return rows.map((row) =>
    row.map((cell, c) => {
      if (c === row.length - 1 && !right.includes(c)) return cell;
      return right.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]);
    }).join("  ").trimEnd()
  );
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * A size for people: `512 B`, `1.5 KiB`, `64.0 MiB`.
 *
 * @example
 * ```ts
 * import { size } from "./cli_format.ts";
 * size(1536); // "1.5 KiB"
 * ```
 */
export function size(bytes: number): string {
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Memory used against the bound: `1.5 KiB / 64.0 MiB (0.0%)`, or `1.5 KiB / unbounded`.
 *
 * @example
 * ```ts
 * import { memory } from "./cli_format.ts";
 * memory(1024, 4096); // "1.0 KiB / 4.0 KiB (25.0%)"
 * ```
 */
export function memory(bytes: number, maxBytes: number): string {
  if (maxBytes === 0) return `${size(bytes)} / unbounded`;
  return `${size(bytes)} / ${size(maxBytes)} (${percent(bytes / maxBytes)})`;
}

/**
 * A fraction as a percentage with one decimal, or `-` when there is none.
 *
 * @example
 * ```ts
 * import { percent } from "./cli_format.ts";
 * percent(0.8333); // "83.3%"
 * ```
 */
export function percent(fraction: number | null): string {
  return fraction === null || !Number.isFinite(fraction) ? "-" : `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Events per second: one decimal below 100, whole above, `-` when unknown.
 *
 * @example
 * ```ts
 * import { rate } from "./cli_format.ts";
 * rate(12.345); // "12.3"
 * ```
 */
export function rate(perSecond: number | null): string {
  if (perSecond === null) return "-";
  return perSecond < 100 ? perSecond.toFixed(1) : String(Math.round(perSecond));
}

/**
 * A duration for people: `45s`, `3m 20s`, `2h 5m`, `4d 3h`.
 *
 * @example
 * ```ts
 * import { duration } from "./cli_format.ts";
 * duration(200); // "3m 20s"
 * ```
 */
export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor(s / 60) % 60}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** A node's share of reads that found their key, or null before any read. */
function hitRate(stats: Pick<NodeStats, "hits" | "misses">): number | null {
  const reads = stats.hits + stats.misses;
  return reads === 0 ? null : stats.hits / reads;
}

/**
 * The master's `GET /stats` for people: the cluster's counters, then one line per node (or its
 * error).
 *
 * @example
 * ```ts
 * import { statsText } from "./cli_format.ts";
 * const text = statsText(stats); // "keys       3\nmemory     …"
 * ```
 */
export function statsText(stats: ClusterStats): string {
  // `copies` (keys with their backups) is read loosely: a master from before it does not send it.
  const copies = (stats as { copies?: number }).copies;
  const totals = table([
    ["keys", String(stats.keys)],
    ...copies === undefined ? [] : [["copies", String(copies)]],
    ["memory", memory(stats.bytes, stats.maxBytes)],
    ["hits", String(stats.hits)],
    ["misses", String(stats.misses)],
    ["hit rate", percent(hitRate(stats))],
    ["evictions", String(stats.evictions)],
    ["expired", String(stats.expired)],
    ["uptime", `${duration(stats.uptimeSeconds)} (master)`],
  ]);
  const rows = [["NODE", "KEYS", "MEMORY", "HITS", "MISSES", "HIT%", "UPTIME"]];
  for (const node of stats.nodes) {
    if ("error" in node) rows.push([node.address, `error: ${node.error}`]);
    else {
      rows.push([
        node.address,
        String(node.keys),
        memory(node.bytes, node.maxBytes),
        String(node.hits),
        String(node.misses),
        percent(hitRate(node)),
        duration(node.uptimeSeconds),
      ]);
    }
  }
  return [...totals, "", ...table(rows, [1, 3, 4, 5])].join("\n") + "\n";
}

/**
 * The master's `GET /nodes` for people: the ring epoch, then one line per node.
 *
 * @example
 * ```ts
 * import { nodesText } from "./cli_format.ts";
 * nodesText({ epoch: 1, nodes: [] }); // "Ring epoch 1: no nodes\n"
 * ```
 */
export function nodesText(list: NodeList): string {
  if (list.nodes.length === 0) return `Ring epoch ${list.epoch}: no nodes\n`;
  const up = list.nodes.filter((node) => node.status === "up").length;
  const rows = [["ADDRESS", "STATUS", "SYNCED", "LAST SEEN"]];
  for (const node of list.nodes) {
    rows.push([node.address, node.status, node.synced ? "yes" : "no", node.lastSeen]);
  }
  const head = `Ring epoch ${list.epoch}: ${list.nodes.length} nodes, ${up} up`;
  return [head, ...table(rows)].join("\n") + "\n";
}
