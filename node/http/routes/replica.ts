// Internal routes between nodes: copies of writes, keys handed over, and a key's versioned state.

import { createRoute, z } from "@hono/zod-openapi";
import { HttpError } from "@cache/protocol/errors";
import { type Answer, jsonAnswer } from "@cache/http1/answer";
import { CopiesRefusedBody, errors, json } from "@cache/protocol/route_parts";
import { keyNotFound, writeErrors } from "@cache/protocol/key_routes";
import { KeyParam } from "@cache/protocol/wire";
import { EvictedState, Replica, ReplicateAnswer } from "@cache/protocol/replica";
import { MAX_BATCH } from "@cache/protocol/wire";
import { MAX_REPLICA_ENTRIES, readReplicaBody } from "@cache/protocol/replica_body";
import type { HotPath } from "@cache/service/hot";
import { type NodeContext, routing } from "../context.ts";
import { readSenderRing, type RingRef, SENDER_RING_HEADER } from "@cache/protocol/sender_ring";
import type { CopiesApplied } from "../../cluster/writer.ts";
import type { Replica as Copy } from "../../store/store.ts";
import { within } from "@cache/async/sleep";

const ReplicateRequest = z.strictObject({
  entries: z.array(Replica).min(1).max(MAX_REPLICA_ENTRIES),
});

const replicate = createRoute({
  method: "post",
  path: "/replicate",
  summary: "Apply replicas (internal)",
  description: "Called by a key's primary and by nodes handing keys over. Each entry is applied " +
    "only if it is newer than this node's (by ring epoch, then version); a deletion is " +
    "remembered for five minutes. The answer lists the keys this node holds a newer state of. " +
    "Copies it has no room for (413, 507), or stamped past any version or ring epoch a node " +
    "could have given yet (409: a version 40 s ahead of this node's clock, an epoch past the " +
    "newest ring the masters have, asked for first), do not stop the others: the error's " +
    "`refused` names them, and every other entry was applied or was not newer.",
  tags: ["internal"],
  request: {
    headers: z.object({
      [SENDER_RING_HEADER]: z.string().regex(/^\d{1,16}\/\d{1,16}$/).optional().meta({
        description: "The ring the sender placed the entries by, `<term>/<epoch>`: entries a " +
          "sender on an older ring hands over go on to their owners in this node's ring",
      }),
    }),
    body: {
      ...json(ReplicateRequest, "The entries"),
      required: true,
    },
  },
  responses: {
    200: json(ReplicateAnswer, "How many changed, and the keys held newer than their copies"),
    ...errors({
      ...writeErrors,
      503: "The node has handed its keys over and is shutting down: the copies were not applied",
    }),
    409: json(CopiesRefusedBody, "The copies named are stamped past any version or ring yet"),
    413: json(CopiesRefusedBody, `${writeErrors[413]}; copies over the memory bound are named`),
    507: json(CopiesRefusedBody, `${writeErrors[507]}: the copies named were refused`),
  },
});

const evicted = createRoute({
  method: "post",
  path: "/evicted",
  summary: "Let go of states a primary evicted (internal)",
  description: "Called by a key's primary when it evicts the key: this node forgets its copy if " +
    "it is stamped at or below the state evicted, and remembers no deletion, so a newer write " +
    "stays. It remembers the state evicted for 30 s (20,000 at most), refusing its copy should " +
    "that come after the notice; a state stamped past any this node could have given yet (a " +
    "version 40 s ahead of its clock, a ring epoch a minute past it and its ring) is ignored, " +
    "as is a key this node is the primary of in its ring. Best effort: a primary does not wait " +
    "for it to write.",
  tags: ["internal"],
  request: {
    body: {
      ...json(
        z.strictObject({ evicted: z.array(EvictedState).min(1).max(MAX_BATCH) }),
        "The states",
      ),
      required: true,
    },
  },
  responses: {
    200: json(z.object({ dropped: z.number().int().min(0) }), "How many copies were let go"),
    ...errors({ 400: "The body is not valid" }),
  },
});

const replica = createRoute({
  method: "get",
  path: "/replica/{key}",
  summary: "A key's versioned state (internal)",
  description: "The value and version of a key, or its remembered deletion, for read repair.",
  tags: ["internal"],
  request: { params: KeyParam },
  responses: {
    200: json(Replica, "The key's state"),
    ...errors({ 400: "The key is not valid", 404: "Neither the key nor its deletion is here" }),
  },
});

/** Default wait for copies from a sender behind to be sent on: see `NodeContext.sendOnWaitMs`. */
const SEND_ON_WAIT_MS = 1000;

/** Serves `/replicate` (hot: every write a primary takes comes here once per backup),
 * `/evicted` and `/replica/{key}`. */
export function addReplicaRoutes(hot: HotPath, node: NodeContext): void {
  // Values stay the bytes they came as, from the body into the store (see `readReplicaBody`).
  hot.post(
    replicate,
    ({ entries }, request) => {
      const from = readSenderRing(request.headers.get(SENDER_RING_HEADER));
      open();
      const applied = node.writer.applyCopies(entries, open);
      if (applied instanceof Promise) return applied.then((done) => answered(done, entries, from));
      return answered(applied, entries, from);
    },
    readReplicaBody,
  );

  /**
   * Throws 503 once the node refuses copies: checked again before copies are applied once a ring
   * was asked for, as the node may have handed its keys over meanwhile, and copies it took then
   * would leave with it.
   */
  function open(): void {
    const closing = node.refusesCopies?.();
    if (closing !== undefined) throw new HttpError(503, closing);
  }

  /**
   * The answer to a `/replicate` of `entries`, applied as `applied` says. A full node takes what it
   * has room for and names the rest: its sender counts the others as taken, so they are sent on
   * (and claimed) as a whole batch taken would be.
   */
  function answered(
    applied: CopiesApplied,
    entries: Copy[],
    from: RingRef | undefined,
  ): Answer | Promise<Answer> {
    const { answer, refused, refusal } = applied;
    const out = refused.length > 0 ? new Set(refused) : undefined;
    const taken = out ? entries.filter(({ key }) => !out.has(key)) : entries;
    const reply = () => {
      if (refusal) throw refusal;
      return jsonAnswer(answer);
    };
    // From a sender behind this node's ring (a primary that has not heard of it, say): the
    // write counts once the key's owners in this ring have it, as a read by it asks them.
    const sentOn = from && taken.length > 0 ? node.replicated?.(taken, from) : undefined;
    if (!sentOn) return reply();
    return within(sentOn, node.sendOnWaitMs ?? SEND_ON_WAIT_MS, false).then((sent) => {
      if (sent) return reply();
      const which = taken.length === entries.length
        ? "The copies were"
        : `${taken.length} of ${entries.length} copies were (the others refused)`;
      throw new HttpError(
        504,
        `${which} applied here, but not yet sent on to their owners in this node's newer ` +
          "ring: they will be, and a read by that ring may not find them until then",
      );
    });
  }

  hot.app.openapi(evicted, (c) => {
    return c.json({ dropped: node.writer.dropEvicted(c.req.valid("json").evicted) }, 200);
  });
  hot.app.openapi(replica, async (c) => {
    const { key } = c.req.valid("param");
    // Asked in a newer ring (a new primary about to change the key), this node takes that ring
    // first: from then on it refuses writes of the key, so the state it answers stays the newest.
    await node.writer.catchUp(routing(c.req.raw));
    const found = node.store.replica(key);
    if (!found) return c.json(keyNotFound(key), 404);
    return c.json(found, 200);
  });
}
