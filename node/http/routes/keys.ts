// The node's key routes: set, get and delete on its own store; set and get are hot.

import { keyNotFound, keyRoutes } from "@cache/protocol/key_routes";
import type { HotPath } from "@cache/service/hot";
import { type NodeContext, readAnswer, routing, stored } from "../context.ts";

/** Serves `/keys` from the node's store. */
export function addKeyRoutes(hot: HotPath, node: NodeContext): void {
  hot.post(keyRoutes.set, (write, request) => stored(node.writer, [write], request));

  hot.get(keyRoutes.get, ({ key }) => readAnswer(key, node.store.get(key)));

  hot.app.openapi(keyRoutes.delete, async (c) => {
    const { key } = c.req.valid("param");
    const found = await node.writer.delete(key, routing(c.req.raw));
    if (!found) return c.json(keyNotFound(key), 404);
    return c.body(null, 204);
  });
}
