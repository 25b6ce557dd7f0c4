// The master's key routes: validated here, then forwarded to the key's owner.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { fastKeyGet } from "../../shared/fast_get.ts";
import { checkValueSize, forwarded, keyRoutes } from "../../shared/key_routes.ts";
import type { Logger } from "../../shared/log.ts";
import type { Metrics } from "../../shared/metrics.ts";
import type { Router } from "../router.ts";

const routes = {
  set: forwarded(keyRoutes.set),
  get: forwarded(keyRoutes.get),
  delete: forwarded(keyRoutes.delete),
};

const jsonHeaders = { "content-type": "application/json" };

/** Passes another service's answer through as it is: it answers the same declared route. */
export const relay = (answer: Promise<Response>) => answer as Promise<never>;

/** Serves `/keys` by forwarding each request to the owner of its key. */
export function addKeyRoutes(app: OpenAPIHono, router: Router, maxValueBytes: number): void {
  app.openapi(routes.set, async (c) => {
    const write = c.req.valid("json");
    checkValueSize(write.value, maxValueBytes);
    // The body goes on as it came (the request keeps the text the validator parsed): valid here,
    // so valid at the node, with no second serialisation.
    const body = await c.req.text();
    const init = { method: "POST", body, headers: jsonHeaders };
    return await relay(router.forward(write.key, "/keys", init));
  });

  app.openapi(routes.get, (c) => {
    const { key } = c.req.valid("param");
    return relay(router.get(key));
  });

  app.openapi(routes.delete, (c) => {
    const { key } = c.req.valid("param");
    return relay(router.forward(key, `/keys/${encodeURIComponent(key)}`, { method: "DELETE" }));
  });
}

/**
 * `GET /keys/{key}` served beside the app with the same answers (see {@link fastKeyGet}), for a
 * master without tokens: the read is forwarded as the app's route forwards it.
 */
export function fastGet(
  router: Router,
  metrics: Metrics,
  log: Logger,
): (request: Request) => Response | Promise<Response> | undefined {
  return fastKeyGet({ read: (key) => router.get(key), metrics, log });
}
