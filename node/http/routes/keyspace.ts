// The node's routes over its whole key space: a scan of the keys it holds, and a flush.

import { HttpError } from "@cache/protocol/errors";
import { ownerErrors } from "@cache/protocol/key_routes";
import { checkFlushQuery, keyspaceRoutes } from "@cache/protocol/keyspace_routes";
import { readSenderRing, SENDER_RING_HEADER } from "@cache/protocol/sender_ring";
import { roleOf } from "@cache/service/auth";
import type { HotPath } from "@cache/service/hot";
import { errors, json } from "@cache/protocol/route_parts";
import { Flushed, FlushQuery } from "@cache/protocol/wire";
import { SLOTS } from "@cache/ring/rendezvous";
import { checkAhead, MAX_FLUSH_AHEAD_US } from "../../cluster/replicator.ts";
import { type NodeContext, routing } from "../context.ts";

// The shared scan, described as a node answers it: its own keys, which the master merges.
const scan = {
  ...keyspaceRoutes.scan,
  description: "Lists the keys this node holds, its backup copies too, a page at a time by ring " +
    "slot (`count`, 1 to 1000, default 100; pass each page's `cursor` until it is null). The " +
    "master's `GET /keys` merges every node's pages into a scan of the cluster, each key once. " +
    "Each page walks every key the node holds: scans with a client token may take a quarter of " +
    "the node's time, and are answered 429 past it.",
  responses: {
    ...keyspaceRoutes.scan.responses,
    ...errors({
      429: "Scans with a client token have taken their share of the node's time: wait the " +
        "`retry-after` seconds",
      503: ownerErrors[503],
    }),
  },
};

// The shared flush, as a node answers it: in two rounds when the master flushes the cluster.
const flush = {
  ...keyspaceRoutes.flush,
  description: "Empties this node. The master flushes the cluster in two rounds: every node " +
    "empties and answers the newest version it has given or seen; then every node is sent the " +
    "highest of those as `through`, forgets what is stamped at or below it (a write that raced " +
    "the first round) and refuses such states from then on, so a write racing the flush is " +
    "kept or dropped alike by all its owners. With tokens configured, only an admin token or the " +
    "master's (a node token) may.",
  request: { query: FlushQuery },
  responses: {
    200: json(Flushed, "Emptied, with this node's newest version"),
    ...errors({
      400: "The query is not valid",
      403: "A client token may not flush the cluster",
      409: "`through` is too far ahead of this node's clock",
      421: "Routed with an older ring (`x-sender-ring`, else `x-ring-epoch`) than this node's",
      503: ownerErrors[503],
    }),
  },
};

/**
 * Serves `GET /keys`, a scan of every key this node holds, its backup copies too (the master
 * merges the nodes' pages, each key once), and `DELETE /keys`, which empties this node.
 */
export function addKeyspaceRoutes(hot: HotPath, node: NodeContext): void {
  hot.app.openapi(scan, (c) => {
    const { prefix, cursor, count } = c.req.valid("query");
    const from = Number(cursor ?? 0);
    if (from >= SLOTS) throw new HttpError(400, "cursor is not one a scan answered");
    // The master paces its own scans; a client paging this node directly is held to a budget.
    const budget = roleOf(c.req.raw) === "client" ? node.scanBudget : undefined;
    const wait = budget?.wait() ?? 0;
    if (wait > 0) {
      const error = "Scans with a client token have taken their share of this node's time: try " +
        `again in ${wait} s, or scan through the master`;
      return c.json({ error }, 429, { "retry-after": String(wait) });
    }
    const started = performance.now();
    const page = node.store.scan(from, count, prefix ?? "");
    budget?.spend(performance.now() - started);
    return c.json({ keys: page.keys, cursor: page.next === null ? null : String(page.next) }, 200);
  });

  hot.app.openapi(flush, async (c) => {
    // Client tokens reach the key routes; emptying the node takes the master's or an admin's.
    if (roleOf(c.req.raw) === "client") {
      throw new HttpError(403, "Only an admin token (or the master's) may flush the cluster");
    }
    checkFlushQuery(c.req.url, ["through"]);
    // A master with an older ring may not know every node: its flush would miss some.
    const sender = readSenderRing(c.req.header(SENDER_RING_HEADER) ?? null);
    await node.writer.checkRing(routing(c.req.raw), sender);
    const { through } = c.req.valid("query");
    if (through === undefined) node.store.clear();
    else {
      // Far past this clock, it would leave versions that count writes instead of time.
      checkAhead(Number(through), MAX_FLUSH_AHEAD_US, node.store.now());
      node.store.flushThrough(Number(through));
    }
    return c.json({ version: node.store.lastVersion }, 200);
  });
}
