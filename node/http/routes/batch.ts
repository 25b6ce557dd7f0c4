// The node's batch routes: mget and mset on its own store.

import { z } from "@hono/zod-openapi";
import type { WireAnswer } from "@cache/http1/answer";
import { BodyParts } from "@cache/http1/body_parts";
import { batchRoutes } from "@cache/protocol/batch_routes";
import { answerCounter, owned, ownedSet } from "@cache/protocol/key_routes";
import { readMsetBody } from "@cache/protocol/set_body";
import { LINES_TYPE } from "@cache/protocol/wire";
import type { HotPath } from "@cache/service/hot";
import { type NodeContext, stored } from "../context.ts";
import { addItem, readForAnswer } from "../items.ts";

// The shared `/mget`, with the node's second answer type: lines the master passes on unparsed.
const read = owned(batchRoutes.mget, false);
const mget = {
  ...read,
  responses: {
    ...read.responses,
    200: {
      ...read.responses[200],
      description: "The items found and the keys missing; with `accept: application/x-ndjson`, " +
        "one line per key asked, in order: its item, or `null` for a key not stored",
      content: {
        ...read.responses[200].content,
        [LINES_TYPE]: { schema: z.string() },
      },
    },
  },
};

/** Serves `/mget` and `/mset` from the node's store; both are hot. */
export function addBatchRoutes(hot: HotPath, node: NodeContext): void {
  hot.post(
    mget,
    ({ keys }, request) =>
      wantsLines(request.headers.get("accept")) ? readLines(node, keys) : readMany(node, keys),
  );

  // Values stay the bytes they came as, from the body into the store (see `readMsetBody`).
  hot.post(
    ownedSet(batchRoutes.mset),
    ({ items }, request) => stored(node.writer, items, request),
    readMsetBody,
  );
}

/**
 * The items of `keys` stored here, in order, and the keys that are not: `{"items", "missing"}`, as
 * `JSON.stringify()` writes it, large values copied in as their bytes.
 */
function readMany(node: NodeContext, keys: string[]): WireAnswer {
  const parts = new BodyParts();
  const missing: string[] = [];
  const count = answerCounter(node.maxValueBytes);
  parts.add('{"items":[');
  let items = 0;
  for (const key of keys) {
    const read = readForAnswer(node.store, key);
    if (read === undefined) {
      missing.push(key);
      continue;
    }
    if (items++ > 0) parts.add(",");
    addItem(parts, key, read, count);
  }
  parts.add('],"missing":' + JSON.stringify(missing) + "}");
  return { status: 200, contentType: "application/json", body: parts.body() };
}

const wantsLines = (accept: string | null | undefined) => accept?.includes(LINES_TYPE) === true;

/** One line per key of `keys`, in order: its item as `GET /keys/{key}` answers it, or `null`. */
function readLines(node: NodeContext, keys: string[]): WireAnswer {
  const parts = new BodyParts();
  const count = answerCounter(node.maxValueBytes);
  for (const key of keys) {
    const read = readForAnswer(node.store, key);
    if (read === undefined) parts.add("null\n");
    else {
      addItem(parts, key, read, count);
      parts.add("\n");
    }
  }
  return { status: 200, contentType: LINES_TYPE, body: parts.body() };
}
