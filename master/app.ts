// Builds the master's HTTP app from its dependencies.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApi } from "../shared/api.ts";
import { addHealthRoutes } from "../shared/health.ts";
import { maxBodyBytes } from "../shared/key_routes.ts";
import type { Logger } from "../shared/log.ts";
import type { Registry } from "./registry.ts";
import type { Router } from "./router.ts";
import { addBatchRoutes } from "./routes/batch.ts";
import { addKeyRoutes } from "./routes/keys.ts";
import { addRegisterRoutes } from "./routes/register.ts";
import { addStatsRoutes } from "./routes/stats.ts";

/** What the master's app needs. */
export interface MasterDeps {
  registry: Registry;
  router: Router;
  maxValueBytes: number;
  log: Logger;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
}

/** The master's app: `/keys` (forwarded), membership routes, probes, `/openapi.json`, `/reference`. */
export function createApp(deps: MasterDeps): OpenAPIHono {
  const app = createApi({
    title: "Cache master",
    description: "Registry and router of the cache cluster: nodes register here, and every key " +
      "request is forwarded to the node that owns the key on the consistent-hash ring.",
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    log: deps.log,
  });
  addKeyRoutes(app, deps.router, deps.maxValueBytes);
  addBatchRoutes(app, deps.router, deps.maxValueBytes);
  addRegisterRoutes(app, deps.registry);
  const now = deps.now ?? Date.now;
  addStatsRoutes(app, { registry: deps.registry, router: deps.router, now, startedAt: now() });
  addHealthRoutes(
    app,
    "while at least one node is up",
    () => deps.registry.ring.size > 0 ? undefined : "No node is up",
  );
  return app;
}
