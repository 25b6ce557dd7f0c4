// The master's key routes: validated here, then forwarded to the key's owner.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { fastKeyGet } from "../../../shared/service/fast_get.ts";
import { fastJsonPost } from "../../../shared/service/fast_post.ts";
import {
  checkValueSize,
  forwarded,
  keyRoutes,
  maxBodyBytes,
} from "../../../shared/protocol/key_routes.ts";
import type { Logger } from "../../../shared/log/log.ts";
import type { Metrics } from "../../../shared/service/metrics.ts";
import { KeyValue } from "../../../shared/protocol/wire.ts";
import type { Router } from "../../routing/router.ts";

const routes = {
  set: forwarded(keyRoutes.set),
  get: forwarded(keyRoutes.get),
  delete: forwarded(keyRoutes.delete),
};

/** Passes another service's answer through as it is: it answers the same declared route. */
export const relay = (answer: Promise<Response>) => answer as Promise<never>;

/** Serves `/keys` by forwarding each request to the owner of its key. */
export function addKeyRoutes(app: OpenAPIHono, router: Router, maxValueBytes: number): void {
  app.openapi(routes.set, async (c) => {
    const write = c.req.valid("json");
    checkValueSize(write.value, maxValueBytes);
    // The body goes on as it came (the request keeps the text the validator parsed): valid here,
    // so valid at the node, with no second serialisation.
    return await relay(router.set(write.key, await c.req.text()));
  });

  app.openapi(routes.get, (c) => {
    const { key } = c.req.valid("param");
    return relay(router.get(key));
  });

  app.openapi(routes.delete, (c) => {
    const { key } = c.req.valid("param");
    return relay(router.delete(key));
  });
}

/**
 * `POST /keys` served beside the app with the same answers (see {@link fastJsonPost}), for a master
 * without tokens: the body goes on to the primary as it came.
 */
export function fastSet(router: Router, maxValueBytes: number, metrics: Metrics, log: Logger) {
  return fastJsonPost({
    path: "/keys",
    schema: KeyValue,
    maxBodyBytes: maxBodyBytes(maxValueBytes),
    metrics,
    log,
    handle: (write, _request, text) => {
      checkValueSize(write.value, maxValueBytes);
      return router.set(write.key, text);
    },
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
): (request: Pick<Request, "method" | "url">) => Response | Promise<Response> | undefined {
  return fastKeyGet({ read: (key) => router.get(key), metrics, log });
}
