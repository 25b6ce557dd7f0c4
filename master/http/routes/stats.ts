// The cluster's counters: the sum over the up nodes, and each node's own.

import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { errors, json } from "@cache/protocol/route_parts";
import { ClusterStats } from "@cache/protocol/wire";
import { RECOVERING } from "../../membership/recovery.ts";

const stats = createRoute({
  method: "get",
  path: "/stats",
  summary: "Cluster counters",
  description: "Each up node's `/stats`, and their sum. `keys` counts distinct keys (the nodes' " +
    "`primaryKeys` summed) and `copies` every copy (the nodes' `keys` summed); while keys move " +
    "after a ring change, `keys` may be briefly off. A node that does not answer is listed " +
    "with its error and left out of the sum. `maxBytes` is 0 when any node is unbounded; " +
    "`uptimeSeconds` is the master's.",
  tags: ["stats"],
  responses: {
    200: json(ClusterStats, "The counters"),
    ...errors({ 503: RECOVERING }),
  },
});

/** Serves `/stats` from `gather`, which asks every up node for its own (`clusterStats`). */
export function addStatsRoutes(app: OpenAPIHono, gather: () => Promise<ClusterStats>): void {
  app.openapi(stats, async (c) => c.json(await gather(), 200));
}
