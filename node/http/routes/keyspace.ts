// The node's routes over its whole key space: a scan of the keys it holds, and a flush.

import { HttpError } from "@cache/protocol/errors";
import { keyspaceRoutes } from "@cache/protocol/keyspace_routes";
import { slotOf } from "@cache/ring/ring";
import { roleOf } from "@cache/service/auth";
import type { HotPath } from "@cache/service/hot";
import type { NodeContext } from "../context.ts";

// The shared scan, described as a node answers it: its own keys, which the master merges.
const scan = {
  ...keyspaceRoutes.scan,
  description: "Lists the keys this node holds, its backup copies too, a page at a time by ring " +
    "slot (`count`, 1 to 1000, default 100; pass each page's `cursor` until it is null). The " +
    "master's `GET /keys` merges every node's pages into a scan of the cluster, each key once.",
};

/**
 * Serves `GET /keys`, a scan of every key this node holds, its backup copies too (the master
 * merges the nodes' pages, each key once), and `DELETE /keys`, which empties this node.
 */
export function addKeyspaceRoutes(hot: HotPath, node: NodeContext): void {
  hot.app.openapi(scan, (c) => {
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
