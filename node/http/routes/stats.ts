// The node's counters: keys, bytes, hits, misses, evictions, expirations and uptime.

import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { json } from "@cache/protocol/route_parts";
import { NodeStats } from "@cache/protocol/wire";
import type { NodeContext } from "../context.ts";

const stats = createRoute({
  method: "get",
  path: "/stats",
  summary: "Node counters",
  description: "Exact counters since start; keys past their ttl are never counted.",
  tags: ["stats"],
  responses: { 200: json(NodeStats, "The counters") },
});

/** Serves `/stats`. */
export function addStatsRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(stats, (c) => {
    const uptimeSeconds = (node.now() - node.startedAt) / 1000;
    const rebalance = node.rebalance?.();
    return c.json(
      { ...node.store.stats(), uptimeSeconds, ...(rebalance ? { rebalance } : {}) },
      200,
    );
  });
}
