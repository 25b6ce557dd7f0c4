// The node's counters: keys, bytes, hits, misses, evictions, expirations and uptime.

import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { json } from "@cache/protocol/route_parts";
import { NodeStats } from "@cache/protocol/wire";
import type { NodeContext } from "../context.ts";

const stats = createRoute({
  method: "get",
  path: "/stats",
  summary: "Node counters",
  description: "Exact counters since start; keys past their ttl are not counted (when millions " +
    "come due at once, those not yet removed still are: a read removes them for 20 ms at most, " +
    "reads and writes for 200 ms a second at most). `keys` are the copies held here, " +
    "`primaryKeys` those of them this node is the primary of in the ring it knows, from the keys " +
    "counted per ring slot as they come and go.",
  tags: ["stats"],
  responses: { 200: json(NodeStats, "The counters") },
});

/** Serves `/stats`. */
export function addStatsRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(stats, async (c) => {
    await node.primaryKeys?.(); // the first call after a ring change waits for its slots' marking
    const { keys, ...counters } = node.store.stats(); // due keys expired first
    // Read as the call is made, once marked.
    const primaryKeys = (await node.primaryKeys?.()) ?? keys;
    const uptimeSeconds = (node.now() - node.startedAt) / 1000;
    const rebalance = node.rebalance?.();
    return c.json(
      { keys, primaryKeys, ...counters, uptimeSeconds, ...(rebalance ? { rebalance } : {}) },
      200,
    );
  });
}
