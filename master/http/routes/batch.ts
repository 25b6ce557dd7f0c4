// The master's batch routes: each batch is split by owner, one request per node, in parallel.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { BodyParts } from "@cache/http1/body_parts";
import { readBudgetOf } from "@cache/http1/unread_budget";
import { batchRoutes } from "@cache/protocol/batch_routes";
import {
  answerCounter,
  checkValueSize,
  forwarded,
  forwardedWrite,
} from "@cache/protocol/key_routes";
import { type FoundBatch, valueChars } from "../../routing/node_answers.ts";
import type { Router } from "../../routing/router.ts";
import { onTime } from "../late_writes.ts";

const routes = { mget: forwarded(batchRoutes.mget), mset: forwardedWrite(batchRoutes.mset) };

/**
 * Serves `/mget` and `/mset` by splitting each batch among the owners of its keys (see
 * {@link Router.mget} and {@link Router.mset}). A read of an owner that fails goes to its keys'
 * backups, as a single GET would. `now()` is the clock of a write's `x-deadline` (see
 * `addKeyRoutes`).
 */
export function addBatchRoutes(
  app: OpenAPIHono,
  router: Router,
  maxValueBytes: number,
  now: () => number,
): void {
  app.openapi(routes.mget, async (c) => {
    const { keys } = c.req.valid("json");
    const found = await router.mget(keys);
    // Reads that came together were let in together and waited on the nodes together: each
    // checks for room right before its answer is made, and counts it at once (see ReadBudget).
    const budget = readBudgetOf(c.req.raw);
    const full = budget?.full();
    if (full !== undefined) return c.json({ error: full }, 503);
    const body = mgetBody(found, answerCounter(maxValueBytes));
    budget?.made(body.length);
    // An MGetResponse's JSON, not an object the route's types can see.
    const bytes = body as string | Uint8Array<ArrayBuffer>; // no shared memory in it
    return c.body(bytes, 200, { "content-type": "application/json" }) as never;
  });

  app.openapi(routes.mset, async (c) => {
    const { items } = c.req.valid("json");
    for (const { value } of items) checkValueSize(value, maxValueBytes);
    await router.mset(items, onTime(c.req.raw.headers, now)); // see addKeyRoutes
    return c.body(null, 204);
  });
}

/**
 * The JSON of an `/mget` answer, its items the bodies the nodes sent, neither parsed nor written
 * again (a 14 MB answer took 0.4 s more that way); `count` is given each value's characters.
 */
function mgetBody(found: FoundBatch, count: (chars: number) => void): string | Uint8Array {
  const parts = new BodyParts();
  parts.add('{"items":[');
  found.items.forEach(({ key, body }, i) => {
    count(valueChars(key, body));
    if (i > 0) parts.add(",");
    parts.add(body);
  });
  parts.add(`],"missing":${JSON.stringify(found.missing)}}`);
  return parts.body();
}
