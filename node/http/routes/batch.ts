// The node's batch routes: mget and mset on its own store.

import { z } from "@hono/zod-openapi";
import { jsonAnswer } from "@cache/http1/answer";
import { batchRoutes } from "@cache/protocol/batch_routes";
import { answerCounter, owned } from "@cache/protocol/key_routes";
import { readMsetBody } from "@cache/protocol/set_body";
import { LINES_TYPE, type MGetResponse } from "@cache/protocol/wire";
import type { HotPath } from "@cache/service/hot";
import { item, itemJson, type NodeContext, stored } from "../context.ts";

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
      wantsLines(request.headers.get("accept"))
        ? { status: 200, contentType: LINES_TYPE, body: readLines(node, keys) }
        : jsonAnswer(readMany(node, keys)),
  );

  // Values stay the bytes they came as, from the body into the store (see `readMsetBody`).
  hot.post(
    owned(batchRoutes.mset, true),
    ({ items }, request) => stored(node.writer, items, request),
    readMsetBody,
  );
}

/** The items of `keys` stored here, in order, and the keys that are not. */
function readMany(node: NodeContext, keys: string[]): MGetResponse {
  const found: MGetResponse = { items: [], missing: [] };
  const count = answerCounter(node.maxValueBytes);
  for (const key of keys) {
    const read = node.store.get(key);
    if (read === undefined) found.missing.push(key);
    else {
      count(read.value);
      found.items.push(item(key, read));
    }
  }
  return found;
}

const wantsLines = (accept: string | null | undefined) => accept?.includes(LINES_TYPE) === true;

/** One line per key of `keys`, in order: its item as `GET /keys/{key}` answers it, or `null`. */
function readLines(node: NodeContext, keys: string[]): string {
  let lines = "";
  const count = answerCounter(node.maxValueBytes);
  for (const key of keys) {
    const read = node.store.get(key);
    if (read !== undefined) count(read.value);
    lines += (read === undefined ? "null" : itemJson(key, read)) + "\n";
  }
  return lines;
}
