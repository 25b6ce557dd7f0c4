// `POST /stamped`: writes their sender stamped with versions of its own and sent to every owner of
// each key at once, so a write at R=2 takes one round trip, not client -> primary -> backup.

import { createRoute, z } from "@hono/zod-openapi";
import { jsonAnswer } from "@cache/http1/answer";
import {
  errors,
  json,
  MisdirectedBody,
  withBodies,
  WriteFailureBody,
} from "@cache/protocol/route_parts";
import { deadlineParameter, epochParameter, writeErrors } from "@cache/protocol/key_routes";
import { readStampedBody } from "@cache/protocol/set_body";
import { StampedRequest } from "@cache/protocol/wire";
import type { HotPath } from "@cache/service/hot";
import { type NodeContext, routing } from "../context.ts";

const StampedResponse = z.object({
  stale: z.array(z.number().int()).meta({
    description: "The indexes of the items this node did not store: as their primary, it holds " +
      "or held a newer state of the key; as a backup, it holds that very version already " +
      "(another sender's). Write them again through the primary (`POST /keys`)",
  }),
}).meta({ id: "StampedResponse" });

const stamped = createRoute({
  method: "post",
  path: "/stamped",
  summary: "Write stamped copies to every owner at once",
  description: "For clients that send a write to all of its key's owners in one round trip, each " +
    "with the same version. A key's primary stores it only if the version is newer than any " +
    "state of the key it holds or let go of (else the item is `stale`); a backup keeps the " +
    "newest, and lists as `stale` an item whose version it holds already. The write counts as " +
    "stored once every owner answered and none listed it. " +
    "Refused with 421 unless routed with this node's ring epoch (`x-ring-epoch`) and for keys " +
    "it owns, and with 409 for a version more than 10 s ahead of this node's clock.",
  tags: ["batch"],
  parameters: [epochParameter(true), deadlineParameter],
  request: { body: { ...json(StampedRequest, "The stamped items"), required: true } },
  responses: {
    200: json(StampedResponse, "Applied; the stale items listed"),
    ...withBodies(
      errors({
        ...writeErrors,
        409: "A version is too far ahead of this node's clock",
        421: "Not routed with this node's ring epoch, or a key this node does not own",
        503: "The node's lease ran out: it cannot tell whether it still owns its keys",
        504: "The sender's deadline passed: nothing was written",
      }),
      { 421: MisdirectedBody, 504: WriteFailureBody },
    ),
  },
});

/** Serves `POST /stamped` on the hot path. */
export function addStampedRoutes(hot: HotPath, node: NodeContext): void {
  // Values stay the bytes they came as, from a large body into the store (see `readStampedBody`).
  hot.post(stamped, async ({ items }, request) => {
    const stale = await node.writer.stamped(items, routing(request));
    return jsonAnswer({ stale });
  }, readStampedBody);
}
