// The node's routes over its whole key space: a scan of the keys it holds, and a flush.

import { HttpError } from "@cache/protocol/errors";
import { keyspaceRoutes } from "@cache/protocol/keyspace_routes";
import { slotOf } from "@cache/ring/ring";
import { roleOf } from "@cache/service/auth";
import type { HotPath } from "@cache/service/hot";
import type { NodeContext } from "../context.ts";

/**
 * Serves `GET /keys`, a scan of every key this node holds, its backup copies too (the master
 * merges the nodes' pages, each key once), and `DELETE /keys`, which empties this node.
 */
export function addKeyspaceRoutes(hot: HotPath, node: NodeContext): void {
  hot.app.openapi(keyspaceRoutes.scan, (c) => {
    const { prefix, cursor, count } = c.req.valid("query");
    const page = node.store.scan(Number(cursor ?? 0), count, prefix ?? "", slotOf);
    return c.json({ keys: page.keys, cursor: page.next === null ? null : String(page.next) }, 200);
  });

  hot.app.openapi(keyspaceRoutes.flush, (c) => {
    // Client tokens reach the key routes; emptying the node takes the master's or an admin's.
    if (roleOf(c.req.raw) === "client") {
      throw new HttpError(403, "Only an admin token may flush the cluster");
    }
    node.store.clear();
    return c.body(null, 204);
  });
}
