// The master's routes over the whole key space: a scan merged from every node, and a flush.

import { HttpError } from "@cache/protocol/errors";
import { forwarded, forwardedWrite } from "@cache/protocol/key_routes";
import { checkFlushQuery, keyspaceRoutes } from "@cache/protocol/keyspace_routes";
import { roleOf } from "@cache/service/auth";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Follower } from "../../membership/follower.ts";
import { onTime } from "../late_writes.ts";
import type { Registry } from "../../membership/registry.ts";
import type { Router } from "../../routing/router.ts";
import { relay } from "../relay.ts";

const routes = {
  scan: forwarded(keyspaceRoutes.scan),
  flush: forwardedWrite(keyspaceRoutes.flush),
};

/** A follower's way to the leader, which flushes: it knows every node, and tells them the flush. */
export interface Leadership {
  registry: Pick<Registry, "leading">;
  follower?: Pick<Follower, "forward">;
}

/**
 * Time a follower waits for the leader's flush: two rounds over every node, each of which walks
 * what it holds.
 */
const FLUSH_FORWARD_TIMEOUT_MS = 30_000;

/**
 * Serves `GET /keys` (a scan) and `DELETE /keys` (a flush, for admins when tokens are set; a
 * follower's goes to the leader; refused past its sender's `x-deadline` in `now()`'s clock).
 */
export function addKeyspaceRoutes(
  app: OpenAPIHono,
  router: Router,
  lead?: Leadership,
  now: () => number = Date.now,
): void {
  app.openapi(routes.scan, async (c) => c.json(await router.scan(c.req.valid("query")), 200));

  app.openapi(routes.flush, async (c) => {
    // `/keys` is open to client tokens for the scan; emptying the cluster takes an admin's.
    if (roleOf(c.req.raw) === "client") {
      throw new HttpError(403, "Only an admin token may flush the cluster");
    }
    checkFlushQuery(c.req.url);
    onTime(c.req.raw.headers, now);
    const follower = lead?.follower;
    if (follower && !lead.registry.leading) {
      // With the caller's token: a flush takes an admin's, which this master's own is not.
      const authorization = c.req.header("authorization");
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const init = { method: "DELETE", headers };
      return relay(follower.forward("/keys", init, FLUSH_FORWARD_TIMEOUT_MS));
    }
    await router.flush();
    return c.body(null, 204);
  });
}
