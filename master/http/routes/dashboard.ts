// The dashboard: a live page of the cluster served by the master, and the state it polls.

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { OPEN } from "@cache/service/api";
import { errors, json } from "@cache/protocol/route_parts";
import { ClusterStats, NodeStats } from "@cache/protocol/wire";
import type { Breakers } from "../../routing/breaker.ts";
import { PAGE, SCRIPT } from "../dashboard_page.ts";
import { Election } from "../election.ts";
import type { Registry } from "../../membership/registry.ts";
import { RECOVERING } from "../../membership/recovery.ts";
import { ringShares } from "../ring_shares.ts";

const DashboardState = z.object({
  election: Election,
  epoch: z.number().int(),
  settled: z.boolean(),
  nodes: z.array(z.object({
    address: z.string(),
    status: z.enum(["up", "leaving", "down"]),
    synced: z.boolean(),
    breaker: z.enum(["closed", "open", "half-open"]),
    share: z.number().optional().openapi({ description: "Share of the key space, 0 to 1" }),
    stats: NodeStats.optional(),
  })),
  totals: ClusterStats.omit({ nodes: true }),
}).openapi("DashboardState");

const page = createRoute({
  method: "get",
  path: "/dashboard",
  summary: "Dashboard",
  description: "A live page of the cluster: nodes, ring shares, key inspector. The page is open; " +
    "its data needs an admin token, entered once in the page.",
  tags: ["dashboard"],
  ...OPEN,
  responses: { 200: { description: "The page", content: { "text/html": { schema: z.string() } } } },
});

const script = createRoute({
  method: "get",
  path: "/dashboard/app.js",
  summary: "Dashboard script",
  tags: ["dashboard"],
  ...OPEN,
  responses: {
    200: { description: "The script", content: { "text/javascript": { schema: z.string() } } },
  },
});

const state = createRoute({
  method: "get",
  path: "/dashboard/state",
  summary: "Dashboard state",
  description: "Which master leads, and every node with its status, breaker, ring share and " +
    "counters, and the totals.",
  tags: ["dashboard"],
  responses: {
    200: json(DashboardState, "The cluster's state"),
    ...errors({ 503: RECOVERING }),
  },
});

/** Serves `/dashboard`, its script and the state it polls. */
export function addDashboardRoutes(
  app: OpenAPIHono,
  deps: {
    registry: Registry;
    /** The cluster's counters, as `/stats` gathers them. */
    gather: () => Promise<ClusterStats>;
    breakers?: Breakers;
    election: () => Election;
  },
): void {
  app.openapi(page, (c) => c.html(PAGE) as never);
  app.openapi(
    script,
    (c) => c.body(SCRIPT, 200, { "content-type": "text/javascript; charset=utf-8" }) as never,
  );
  app.openapi(state, async (c) => {
    const { registry } = deps;
    const [shares, stats] = await Promise.all([ringShares(registry.ring), deps.gather()]);
    const byAddress = new Map(stats.nodes.map((n) => [n.address, n]));
    const nodes = registry.list().nodes.map((node) => {
      const found = byAddress.get(node.address);
      return {
        ...node,
        breaker: deps.breakers?.state(node.address) ?? "closed" as const,
        share: shares.get(node.address),
        stats: found && !("error" in found) ? NodeStats.parse(found) : undefined,
      };
    });
    const { nodes: _, ...totals } = stats;
    const election = deps.election();
    return c.json(
      { election, epoch: registry.epoch, settled: registry.settled, nodes, totals },
      200,
    );
  });
}
