// The node's batch routes: mget and mset on its own store.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { batchRoutes } from "../../shared/batch_routes.ts";
import { fastJsonPost } from "../../shared/fast_post.ts";
import type { Logger } from "../../shared/log.ts";
import type { Metrics } from "../../shared/metrics.ts";
import { EPOCH_HEADER, MGetRequest, type MGetResponse, MSetRequest } from "../../shared/wire.ts";
import type { NodeContext } from "../app.ts";
import type { Store } from "../store.ts";
import type { Writer } from "../writer.ts";
import { item, routedEpoch, stored } from "./keys.ts";

/** Serves `/mget` and `/mset` from the node's store. */
export function addBatchRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(batchRoutes.mget, (c) => c.json(readMany(node.store, c.req.valid("json").keys), 200));

  app.openapi(batchRoutes.mset, async (c) => {
    const { items } = c.req.valid("json");
    await node.writer.write(items, routedEpoch(c.req.header(EPOCH_HEADER)));
    return c.body(null, 204);
  });
}

/** The items of `keys` stored here, in order, and the keys that are not. */
function readMany(store: Store, keys: string[]): MGetResponse {
  const found: MGetResponse = { items: [], missing: [] };
  for (const key of keys) {
    const read = store.get(key);
    if (read === undefined) found.missing.push(key);
    else found.items.push(item(key, read));
  }
  return found;
}

/**
 * `POST /mget` served beside the app with the same answers (see {@link fastJsonPost}), for a node
 * without tokens: the master gathers its reads of a busy node into it.
 */
export function fastMget(
  store: Store,
  maxBodyBytes: number,
  metrics: Metrics,
  log: Logger,
) {
  return fastJsonPost({
    path: "/mget",
    schema: MGetRequest,
    maxBodyBytes,
    metrics,
    log,
    handle: ({ keys }) => Response.json(readMany(store, keys)),
  });
}

/**
 * `POST /mset` served beside the app with the same answers (see {@link fastJsonPost}), for a node
 * without tokens: the master gathers its writes to a busy primary into it.
 */
export function fastMset(writer: Writer, maxBodyBytes: number, metrics: Metrics, log: Logger) {
  return fastJsonPost({
    path: "/mset",
    schema: MSetRequest,
    maxBodyBytes,
    metrics,
    log,
    handle: ({ items }, request) => stored(writer, items, request),
  });
}
