// The master's batch routes: each batch is split by owner, one request per node, in parallel.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { batchRoutes } from "@cache/protocol/batch_routes";
import { answerCounter, checkValueSize, forwarded } from "@cache/protocol/key_routes";
import type { Router } from "../../routing/router.ts";

const routes = { mget: forwarded(batchRoutes.mget), mset: forwarded(batchRoutes.mset) };

/**
 * Serves `/mget` and `/mset` by splitting each batch among the owners of its keys (see
 * {@link Router.mget} and {@link Router.mset}). A read of an owner that fails goes to its keys'
 * backups, as a single GET would.
 */
export function addBatchRoutes(app: OpenAPIHono, router: Router, maxValueBytes: number): void {
  app.openapi(routes.mget, async (c) => {
    const { keys } = c.req.valid("json");
    const found = await router.mget(keys);
    const count = answerCounter(maxValueBytes); // repeats are one read of a node, not one answer
    for (const { value } of found.items) count(value);
    return c.json(found, 200);
  });

  app.openapi(routes.mset, async (c) => {
    const { items } = c.req.valid("json");
    for (const { value } of items) checkValueSize(value, maxValueBytes);
    await router.mset(items);
    return c.body(null, 204);
  });
}
