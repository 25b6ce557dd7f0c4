// Builds the master's HTTP app from its dependencies.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApi } from "@cache/service/api";
import { addHealthRoutes } from "@cache/service/health";
import { maxBodyBytes } from "@cache/protocol/key_routes";
import { type AccessRules, type Auth, protect } from "@cache/service/auth";
import type { Logger } from "@cache/log/log";
import { HotPath } from "@cache/service/hot";
import { Metrics } from "@cache/service/metrics";
import type { Breakers } from "../routing/breaker.ts";
import type { Follower } from "../membership/follower.ts";
import type { Registry } from "../membership/registry.ts";
import type { Router } from "../routing/router.ts";
import { addBatchRoutes } from "./routes/batch.ts";
import { addDashboardRoutes } from "./routes/dashboard.ts";
import { sharedClusterStats } from "./cluster_stats.ts";
import { addKeyRoutes } from "./routes/keys.ts";
import { addKeyspaceRoutes } from "./routes/keyspace.ts";
import type { Election } from "./election.ts";
import { addRegisterRoutes } from "./routes/register.ts";
import { addStatsRoutes } from "./routes/stats.ts";
import { clockHeaders } from "./late_writes.ts";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";

/** What the master's app needs. */
export interface MasterDeps {
  registry: Registry;
  router: Router;
  maxValueBytes: number;
  log: Logger;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
  /** Served at `/metrics`; default a new set. Pass the router's own to serve its metrics too. */
  metrics?: Metrics;
  /** The router's breakers, whose states are served as metrics. */
  breakers?: Breakers;
  /** Accepted tokens; without any, the master is open. */
  auth?: Auth;
  /** Whether `/metrics` needs an admin token. */
  metricsAuth?: boolean;
  /** A follower's link to the leader; none without election. */
  follower?: Follower;
  /** The election as this master sees it; default: no election, this master leads. */
  election?: () => Election;
  /** Resolves once the master can call a node; a node joins the ring only then. */
  reach?: (address: string) => Promise<void>;
  /** The cluster serves TLS: nodes must register `https://` addresses. */
  tls?: boolean;
}

/**
 * Who may call what on the master; unlisted paths (probes, documents, the page) stay open. A
 * pattern `/x/*` also matches `/x` itself, so listing both would check a token twice.
 */
export function masterAccess(metricsAuth = false): AccessRules {
  return [
    [["/keys/*", "/mget", "/mset"], ["client"]],
    [["/ring/*", "/leader"], ["client", "node"]],
    [["/register/*"], ["node"]],
    [["/nodes", "/stats", "/dashboard/state", ...(metricsAuth ? ["/metrics"] : [])], ["admin"]],
  ];
}

/** The master's app, and the hot path that serves its busiest routes ahead of it. */
export type MasterApp = OpenAPIHono & { hot: HotPath };

/**
 * The master's app: `/keys` (forwarded), membership routes, probes, `/openapi.json`, `/reference`.
 */
export function createApp(deps: MasterDeps): MasterApp {
  const metrics = deps.metrics ?? new Metrics();
  addClusterMetrics(metrics, deps.registry, deps.breakers);
  const now = deps.now ?? Date.now;
  const headers = clockHeaders(now); // a client's write deadline is in this clock (late_writes.ts)
  const app = createApi({
    title: "Cache master",
    description: "Registry and router of the cache cluster: nodes register here, and every key " +
      "request is forwarded to the node that owns the key on the consistent-hash ring. " +
      "A live view of the cluster: [the dashboard](/dashboard).",
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    log: deps.log,
    metrics,
    headers,
    headerDescriptions: {
      [NODE_TIME_HEADER]: "This master's clock, in milliseconds since 1970: a write's " +
        "`x-deadline` is given in it",
    },
    guard: (app) => protect(app, deps.auth, masterAccess(deps.metricsAuth)),
  });
  const hot = new HotPath(app, {
    metrics,
    log: deps.log,
    auth: deps.auth,
    rules: masterAccess(deps.metricsAuth),
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    headers,
  });
  addKeyRoutes(hot, deps.router, deps.maxValueBytes, now);
  addKeyspaceRoutes(app, deps.router, { registry: deps.registry, follower: deps.follower }, now);
  addBatchRoutes(app, deps.router, deps.maxValueBytes, now);
  const election = deps.election ??
    (() => ({ mode: "none", self: "", leader: null, leading: true, term: 0 }) as const);
  addRegisterRoutes(app, {
    registry: deps.registry,
    follower: deps.follower,
    election,
    reach: deps.reach,
    tls: deps.tls,
    clocks: deps.router.clocks,
  });
  const gather = sharedClusterStats({
    registry: deps.registry,
    router: deps.router,
    now,
    startedAt: now(),
  });
  addStatsRoutes(app, gather);
  addDashboardRoutes(app, { registry: deps.registry, gather, breakers: deps.breakers, election });
  addHealthRoutes(
    app,
    "master",
    "while at least one node is up and the master is not learning the last ring from its nodes",
    () =>
      deps.registry.recovering
        ? "Learning the last ring from the nodes"
        : deps.registry.ring.size > 0
        ? undefined
        : "No node is up",
  );
  return Object.assign(app, { hot });
}

const BREAKER_STATES = { closed: 0, open: 1, "half-open": 2 } as const;

/** Membership, epoch and breakers as metrics, read at each scrape. */
function addClusterMetrics(metrics: Metrics, registry: Registry, breakers?: Breakers): void {
  metrics.gauge("cluster_nodes", "Nodes the master knows, by status", () => {
    const nodes = registry.list().nodes;
    return (["up", "leaving", "down"] as const).map((status) => [
      { status },
      nodes.filter((n) => n.status === status).length,
    ]);
  });
  metrics.gauge("ring_epoch", "Changes of the set of up nodes", () => [[{}, registry.epoch]]);
  metrics.gauge("rebalance_pending_nodes", "Nodes still moving keys for this epoch", () => [[
    {},
    registry.list().nodes.filter((n) => n.status !== "down" && !n.synced).length,
  ]]);
  metrics.gauge(
    "breaker_state",
    "Circuit breaker per node: 0 closed, 1 open, 2 half-open",
    () =>
      registry.list().nodes.map((n) => [
        { node: n.address },
        BREAKER_STATES[breakers?.state(n.address) ?? "closed"],
      ]),
  );
}
