// The node's key routes: set (conditional too), get, delete, incr and touch on its own store.

import { keyNotFound, keyRoutes, owned, ownedSet } from "@cache/protocol/key_routes";
import { readSetBody } from "@cache/protocol/set_body";
import type { SetRequest } from "@cache/protocol/wire";
import type { HotPath } from "@cache/service/hot";
import { type NodeContext, routing, stored } from "../context.ts";
import { readAnswer, readForAnswer } from "../items.ts";

// The shared key routes, with what a node answers as their owner.
const routes = {
  set: ownedSet(keyRoutes.set),
  get: owned(keyRoutes.get, false),
  delete: owned(keyRoutes.delete, true),
  incr: owned(keyRoutes.incr, true),
  touch: owned(keyRoutes.touch, true),
};

/**
 * Serves `/keys/...` from the node's store; set and get are hot. A plain set's value goes from
 * the request's bytes into the store: it never becomes a string here (see `readSetBody`).
 */
export function addKeyRoutes(hot: HotPath, node: NodeContext): void {
  hot.post(routes.set, (write, request) => {
    const { if: state, ifVersion } = write as Partial<SetRequest>; // a raw write has neither
    const condition = state !== undefined || ifVersion !== undefined
      ? { if: state, ifVersion }
      : undefined;
    return stored(node.writer, [write], request, condition);
  }, readSetBody);

  hot.get(routes.get, ({ key }) => readAnswer(key, readForAnswer(node.store, key)));

  hot.app.openapi(routes.delete, async (c) => {
    const { key } = c.req.valid("param");
    const found = await node.writer.delete(key, routing(c.req.raw));
    if (!found) return c.json(keyNotFound(key), 404);
    return c.body(null, 204);
  });

  hot.app.openapi(routes.incr, async (c) => {
    const { key } = c.req.valid("param");
    const counter = await node.writer.incr(key, c.req.valid("json"), routing(c.req.raw));
    return c.json(counter, 200);
  });

  hot.app.openapi(routes.touch, async (c) => {
    const { key } = c.req.valid("param");
    const { ttl } = c.req.valid("json");
    const found = await node.writer.touch(key, ttl, routing(c.req.raw));
    if (!found) return c.json(keyNotFound(key), 404);
    return c.body(null, 204);
  });
}
