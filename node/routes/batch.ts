// The node's batch routes: mget and mset on its own store.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { batchRoutes } from "../../shared/batch_routes.ts";
import type { MGetResponse } from "../../shared/wire.ts";
import type { NodeContext } from "../app.ts";
import { EPOCH_HEADER } from "../../shared/wire.ts";
import { item, routedEpoch } from "./keys.ts";

/** Serves `/mget` and `/mset` from the node's store. */
export function addBatchRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(batchRoutes.mget, (c) => {
    const found: MGetResponse = { items: [], missing: [] };
    for (const key of c.req.valid("json").keys) {
      const read = node.store.get(key);
      if (read === undefined) found.missing.push(key);
      else found.items.push(item(key, read));
    }
    return c.json(found, 200);
  });

  app.openapi(batchRoutes.mset, async (c) => {
    const { items } = c.req.valid("json");
    await node.writer.write(items, routedEpoch(c.req.header(EPOCH_HEADER)));
    return c.body(null, 204);
  });
}
