// Builds the node's HTTP app from its dependencies.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApi } from "../shared/api.ts";
import { HttpError } from "../shared/errors.ts";
import { addHealthRoutes } from "../shared/health.ts";
import { maxBodyBytes } from "../shared/key_routes.ts";
import type { Logger } from "../shared/log.ts";
import { addBatchRoutes } from "./routes/batch.ts";
import { addKeyRoutes } from "./routes/keys.ts";
import { addStatsRoutes } from "./routes/stats.ts";
import { EntryTooLargeError, type Store, StoreFullError } from "./store.ts";

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
}

/** What the node's routes share. */
export interface NodeContext {
  store: Store;
  maxValueBytes: number;
  now: () => number;
  startedAt: number;
  /** Writes items with their ttl in seconds (or the default), mapping store refusals to HTTP. */
  write(items: { key: string; value: string; ttl?: number }[]): void;
}

/** The node's app: `/keys`, batch, `/stats`, probes, `/openapi.json` and `/reference`. */
export function createApp(deps: NodeDeps): OpenAPIHono {
  const app = createApi({
    title: "Cache node",
    description: "One node of the cache cluster: stores the keys the ring gives it, in memory, " +
      "with TTLs and a memory bound.",
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    log: deps.log,
  });
  const now = deps.now ?? Date.now;
  const defaultTtlSeconds = deps.defaultTtlSeconds ?? 0;
  const node: NodeContext = {
    store: deps.store,
    maxValueBytes: deps.maxValueBytes,
    now,
    startedAt: now(),
    write(items) {
      const writes = items.map(({ key, value, ttl }) => ({
        key,
        value,
        ttlMs: (ttl ?? defaultTtlSeconds) * 1000,
      }));
      try {
        deps.store.setMany(writes);
      } catch (error) {
        if (error instanceof EntryTooLargeError) throw new HttpError(413, error.message);
        if (error instanceof StoreFullError) throw new HttpError(507, error.message);
        throw error;
      }
    },
  };
  addKeyRoutes(app, node);
  addBatchRoutes(app, node);
  addStatsRoutes(app, node);
  addHealthRoutes(app, "while the master acknowledges this node's heartbeats", deps.notReady);
  return app;
}
