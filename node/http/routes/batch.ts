// The node's batch routes: mget and mset on its own store.

import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { batchRoutes } from "../../../shared/protocol/batch_routes.ts";
import { fastJsonPost } from "../../../shared/service/fast_post.ts";
import type { Logger } from "../../../shared/log/log.ts";
import type { Metrics } from "../../../shared/service/metrics.ts";
import {
  LINES_TYPE,
  MGetRequest,
  type MGetResponse,
  MSetRequest,
} from "../../../shared/protocol/wire.ts";
import type { NodeContext } from "../app.ts";
import type { Store } from "../../store/store.ts";
import type { Writer } from "../../cluster/writer.ts";
import { item, routing, stored } from "./keys.ts";

// The shared `/mget`, with the node's second answer type: lines the master passes on unparsed.
const mget = {
  ...batchRoutes.mget,
  responses: {
    ...batchRoutes.mget.responses,
    200: {
      ...batchRoutes.mget.responses[200],
      description: "The items found and the keys missing; with `accept: application/x-ndjson`, " +
        "one line per key asked, in order: its item, or `null` for a key not stored",
      content: {
        ...batchRoutes.mget.responses[200].content,
        [LINES_TYPE]: { schema: z.string() },
      },
    },
  },
};

/** Serves `/mget` and `/mset` from the node's store. */
export function addBatchRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(mget, (c) => {
    const { keys } = c.req.valid("json");
    if (wantsLines(c.req.header("accept"))) {
      return c.body(readLines(node.store, keys), 200, { "content-type": LINES_TYPE }) as never;
    }
    return c.json(readMany(node.store, keys), 200);
  });

  app.openapi(batchRoutes.mset, async (c) => {
    const { items } = c.req.valid("json");
    await node.writer.write(items, routing(c.req.raw));
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

const wantsLines = (accept: string | null | undefined) => accept?.includes(LINES_TYPE) === true;

/** One line per key of `keys`, in order: its item as `GET /keys/{key}` answers it, or `null`. */
function readLines(store: Store, keys: string[]): string {
  let lines = "";
  for (const key of keys) {
    const read = store.get(key);
    lines += (read === undefined ? "null" : JSON.stringify(item(key, read))) + "\n";
  }
  return lines;
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
    handle: ({ keys }, request) =>
      wantsLines(request.headers.get("accept"))
        ? new Response(readLines(store, keys), { headers: { "content-type": LINES_TYPE } })
        : Response.json(readMany(store, keys)),
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
