// Builds the node's HTTP app from its dependencies.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApi } from "@cache/service/api";
import { addHealthRoutes } from "@cache/service/health";
import { maxBodyBytes } from "@cache/protocol/key_routes";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import { EPOCH_HEADER } from "@cache/protocol/wire";
import { type AccessRules, type Auth, protect } from "@cache/service/auth";
import type { Logger } from "@cache/log/log";
import { Metrics } from "@cache/service/metrics";
import { addBatchRoutes } from "./routes/batch.ts";
import { addKeyRoutes } from "./routes/keys.ts";
import { addKeyspaceRoutes } from "./routes/keyspace.ts";
import { addStatsRoutes } from "./routes/stats.ts";
import type { Replicator } from "../cluster/replicator.ts";
import { HotPath } from "@cache/service/hot";
import type { NodeContext } from "./context.ts";
import type { RebalanceProgress } from "../cluster/rebalance.ts";
import type { RingRef } from "@cache/protocol/sender_ring";
import { ScanBudget } from "./scan_budget.ts";
import { addReplicaRoutes } from "./routes/replica.ts";
import { addStampedRoutes } from "./routes/stamped.ts";
import type { Store } from "../store/store.ts";
import { Writer } from "../cluster/writer.ts";

/** What the node's app needs. */
export interface NodeDeps {
  store: Store;
  maxValueBytes: number;
  /** Seconds a key lives when a write gives no ttl; 0 is forever. */
  defaultTtlSeconds?: number;
  /** Why the node is not ready, or `undefined` when it is. */
  notReady: () => string | undefined;
  log: Logger;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
  /** Served at `/metrics`; default a new set. */
  metrics?: Metrics;
  /** Placement and replication; without it the node stands alone. */
  replicator?: Replicator;
  /** How far key moves have gone, for `/stats`. */
  rebalance?: () => RebalanceProgress;
  /**
   * Told of the entries each `/replicate` applied and the ring its sender placed them by (see
   * `Strays` and `Rebalancer.claimed`); what it returns, the answer waits for.
   */
  replicated?: (entries: Iterable<{ key: string }>, from: RingRef) => Promise<boolean> | void;
  /** See `NodeContext.sendOnWaitMs`. */
  sendOnWaitMs?: number;
  /** Why `/replicate` is refused (503) now, as once a leaving node handed its keys over. */
  refusesCopies?: () => string | undefined;
  /** The share of the node's time scans with a client token may take; default a quarter. */
  scanBudget?: Pick<ScanBudget, "wait" | "spend">;
  /**
   * How many keys held this node is the primary of, for `/stats`, once its ring's slots are
   * marked; default: every one.
   */
  primaryKeys?: () => Promise<number | undefined>;
  /** The ring epoch this node knows, sent with every answer so clients notice a newer ring. */
  ringEpoch?: () => number | undefined;
  /** Applies writes; default one built from the store, cluster and limits above. */
  writer?: Writer;
  /** Accepted tokens; without any, the node is open. */
  auth?: Auth;
  /** Whether `/metrics` needs an admin token. */
  metricsAuth?: boolean;
}

/**
 * Who may call what on a node: client tokens only reach the key routes (`/keys/*` is `/keys` too).
 */
export function nodeAccess(metricsAuth = false): AccessRules {
  return [
    [["/keys/*", "/mget", "/mset", "/stamped"], ["client", "node"]],
    [["/replicate", "/evicted", "/replica/*", "/stats"], ["node"]],
    ...(metricsAuth ? [[["/metrics"], ["admin"]] as AccessRules[number]] : []),
  ];
}

/**
 * The node's app, the hot path that serves its busiest routes ahead of it, and the headers every
 * answer carries (its ring epoch and clock, once it has a ring).
 */
export type NodeApp = OpenAPIHono & {
  hot: HotPath;
  clock: () => Record<string, string> | undefined;
};

/** The node's app: `/keys`, batch, `/stats`, probes, `/openapi.json` and `/reference`. */
export function createApp(deps: NodeDeps): NodeApp {
  const metrics = deps.metrics ?? new Metrics();
  addStoreMetrics(metrics, deps.store);
  const now = deps.now ?? Date.now;
  // Every answer, the hot path's too, carries the ring epoch this node knows, and its clock: a
  // sender gives a write's deadline in it (see `NodeClocks`). One object a millisecond, shared.
  const ringEpoch = deps.ringEpoch;
  let shared: { epoch: number; time: number; headers: Record<string, string> } | undefined;
  const headers = ringEpoch && (() => {
    const epoch = ringEpoch();
    if (epoch === undefined) return undefined; // no ring yet: no writer to tell its clock
    const time = now();
    if (shared?.time !== time || shared.epoch !== epoch) {
      const headers = Object.freeze({
        [EPOCH_HEADER]: String(epoch),
        [NODE_TIME_HEADER]: String(time),
      });
      shared = { epoch, time, headers };
    }
    return shared.headers;
  });
  const app = createApi({
    title: "Cache node",
    description: "One node of the cache cluster: stores the keys the ring gives it, in memory, " +
      "with TTLs and a memory bound.",
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    log: deps.log,
    metrics,
    headers,
    headerDescriptions: {
      [EPOCH_HEADER]: "The ring epoch this node knows; on every answer once it has a ring",
      [NODE_TIME_HEADER]: "This node's clock, in milliseconds since 1970, on every answer once " +
        "it has a ring: a write's `x-deadline` is given in it",
    },
    guard: (app) => protect(app, deps.auth, nodeAccess(deps.metricsAuth)),
  });
  const node: NodeContext = {
    store: deps.store,
    writer: deps.writer ??
      new Writer(deps.store, deps.replicator, deps.maxValueBytes, deps.defaultTtlSeconds),
    maxValueBytes: deps.maxValueBytes,
    now,
    startedAt: now(),
    rebalance: deps.rebalance,
    replicated: deps.replicated,
    sendOnWaitMs: deps.sendOnWaitMs,
    refusesCopies: deps.refusesCopies,
    scanBudget: deps.scanBudget ?? new ScanBudget({ share: 0.25, burstMs: 250 }),
    primaryKeys: deps.primaryKeys,
  };
  const hot = new HotPath(app, {
    metrics,
    log: deps.log,
    auth: deps.auth,
    rules: nodeAccess(deps.metricsAuth),
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    headers,
  });
  addKeyRoutes(hot, node);
  addKeyspaceRoutes(hot, node);
  addBatchRoutes(hot, node);
  addStampedRoutes(hot, node);
  addStatsRoutes(app, node);
  addReplicaRoutes(hot, node);
  addHealthRoutes(
    app,
    "node",
    "while the master acknowledges this node's heartbeats and the leading master's lease holds (past it, key routes answer 503)",
    deps.notReady,
  );
  return Object.assign(app, { hot, clock: headers || (() => undefined) });
}

/** The store's sizes and counters as metrics, read at each scrape. */
function addStoreMetrics(metrics: Metrics, store: Store): void {
  // One reading per scrape: a scrape renders every series in one go, so the figures agree and
  // the store expires due keys once, not once per series.
  let reading: ReturnType<Store["stats"]> | undefined;
  const read = (field: keyof ReturnType<Store["stats"]>) => () => {
    if (!reading) {
      reading = store.stats();
      queueMicrotask(() => reading = undefined);
    }
    return [[{}, reading[field]]] as [Record<string, string>, number][];
  };
  metrics.gauge("cache_keys", "Keys stored, expired ones never counted", read("keys"));
  metrics.gauge("cache_bytes", "Accounted bytes: keys, values and overhead", read("bytes"));
  metrics.gauge("cache_max_bytes", "Memory bound in bytes; 0 is unbounded", read("maxBytes"));
  metrics.counter("cache_hits_total", "Reads that found their key", read("hits"));
  metrics.counter("cache_misses_total", "Reads that did not find their key", read("misses"));
  metrics.counter(
    "cache_evictions_total",
    "Keys evicted to stay under the bound",
    read("evictions"),
  );
  metrics.counter("cache_expired_total", "Keys removed at their TTL", read("expired"));
}
