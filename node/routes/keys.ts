// The node's key routes: set, get and delete on its own store.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { checkValueSize, keyRoutes } from "../../shared/key_routes.ts";
import type { Read } from "../store.ts";
import type { NodeContext } from "../app.ts";

/** Serves `/keys` from the node's store. */
export function addKeyRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(keyRoutes.set, (c) => {
    const { key, value, ttl } = c.req.valid("json");
    checkValueSize(value, node.maxValueBytes);
    node.write([{ key, value, ttl }]);
    return c.body(null, 204);
  });

  app.openapi(keyRoutes.get, (c) => {
    const { key } = c.req.valid("param");
    const found = node.store.get(key);
    if (found === undefined) return c.json({ error: `Key "${key}" not found` }, 404);
    return c.json(item(key, found), 200);
  });

  app.openapi(keyRoutes.delete, (c) => {
    const { key } = c.req.valid("param");
    if (!node.store.delete(key)) return c.json({ error: `Key "${key}" not found` }, 404);
    return c.body(null, 204);
  });
}

/** A read as it goes on the wire: `ttl` in seconds, only for a key that expires. */
export function item(key: string, found: Read): { key: string; value: string; ttl?: number } {
  return found.ttlMs === undefined
    ? { key, value: found.value }
    : { key, value: found.value, ttl: found.ttlMs / 1000 };
}
