// Builds the node's HTTP app from its dependencies.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApi } from "../shared/api.ts";
import { addHealthRoutes } from "../shared/health.ts";
import { maxBodyBytes } from "../shared/key_routes.ts";
import type { Logger } from "../shared/log.ts";
import { addKeyRoutes } from "./routes/keys.ts";
import type { Store } from "./store.ts";

/** What the node's app needs. */
export interface NodeDeps {
  store: Store;
  maxValueBytes: number;
  /** Why the node is not ready, or `undefined` when it is. */
  notReady: () => string | undefined;
  log: Logger;
}

/** The node's app: `/keys`, probes, `/openapi.json` and `/reference`. */
export function createApp(deps: NodeDeps): OpenAPIHono {
  const app = createApi({
    title: "Cache node",
    description: "One node of the cache cluster: stores the keys the ring gives it.",
    maxBodyBytes: maxBodyBytes(deps.maxValueBytes),
    log: deps.log,
  });
  addKeyRoutes(app, deps.store, deps.maxValueBytes);
  addHealthRoutes(app, "while the master acknowledges this node's heartbeats", deps.notReady);
  return app;
}
