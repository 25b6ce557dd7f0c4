// The master's routes over the whole key space: a scan merged from every node, and a flush.

import { HttpError } from "@cache/protocol/errors";
import { forwarded } from "@cache/protocol/key_routes";
import { keyspaceRoutes } from "@cache/protocol/keyspace_routes";
import { roleOf } from "@cache/service/auth";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Router } from "../../routing/router.ts";

const routes = {
  scan: forwarded(keyspaceRoutes.scan),
  flush: forwarded(keyspaceRoutes.flush),
};

/** Serves `GET /keys` (a scan) and `DELETE /keys` (a flush, for admins when tokens are set). */
export function addKeyspaceRoutes(app: OpenAPIHono, router: Router): void {
  app.openapi(routes.scan, async (c) => c.json(await router.scan(c.req.valid("query")), 200));

  app.openapi(routes.flush, async (c) => {
    // `/keys` is open to client tokens for the scan; emptying the cluster takes an admin's.
    if (roleOf(c.req.raw) === "client") {
      throw new HttpError(403, "Only an admin token may flush the cluster");
    }
    await router.flush();
    return c.body(null, 204);
  });
}
