// The node's key routes: set, get and delete on its own store.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { checkValueSize, keyRoutes } from "../../shared/key_routes.ts";
import type { Store } from "../store.ts";

const routes = keyRoutes;

/** Serves `/keys` from `store`. */
export function addKeyRoutes(app: OpenAPIHono, store: Store, maxValueBytes: number): void {
  app.openapi(routes.set, (c) => {
    const { key, value } = c.req.valid("json");
    checkValueSize(value, maxValueBytes);
    store.set(key, value);
    return c.body(null, 204);
  });

  app.openapi(routes.get, (c) => {
    const { key } = c.req.valid("param");
    const value = store.get(key);
    if (value === undefined) return c.json({ error: `Key "${key}" not found` }, 404);
    return c.json({ key, value }, 200);
  });

  app.openapi(routes.delete, (c) => {
    const { key } = c.req.valid("param");
    if (!store.delete(key)) return c.json({ error: `Key "${key}" not found` }, 404);
    return c.body(null, 204);
  });
}
