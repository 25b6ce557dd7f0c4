// The routes over the whole key space both services serve: a scan by pages, and a flush.

import { createRoute } from "@hono/zod-openapi";
import { HttpError } from "./errors.ts";
import { errors, json } from "./route_parts.ts";
import { MAX_SCAN_COUNT, ScanPage, ScanQuery } from "./wire.ts";

/** `GET /keys` and `DELETE /keys`. */
export const keyspaceRoutes = {
  scan: createRoute({
    method: "get",
    path: "/keys",
    summary: "Scan the keys",
    description: `Lists the keys a page at a time (\`count\`, 1 to ${MAX_SCAN_COUNT}, default ` +
      "100): pass each page's `cursor` to get the next, until it is null. As Redis SCAN " +
      "promises, a key stored for the whole scan is returned, even while nodes join or leave " +
      "and keys move; a key written or deleted during the scan may or may not be. The master " +
      "answers each key once; a page may hold fewer keys than `count`, even none, before the end.",
    tags: ["keys"],
    request: { query: ScanQuery },
    responses: {
      200: json(ScanPage, "A page of keys and the cursor of the next"),
      ...errors({ 400: "The query is not valid" }),
    },
  }),
  flush: createRoute({
    method: "delete",
    path: "/keys",
    summary: "Delete every key",
    description: "Empties the whole cluster, as FLUSHALL does. It takes no query and no body: " +
      "one is refused, not taken for a filter. With tokens configured, only an admin token may.",
    tags: ["keys"],
    responses: {
      204: { description: "Every key is deleted" },
      ...errors({
        400: "A query parameter or a body: a flush takes neither, and empties every key",
        403: "Only an admin token may flush the cluster",
      }),
    },
  }),
};

/**
 * Throws 400 for a query parameter of a flush's `url` other than `allowed`, one with no name
 * included (`?=`), which a query's schema never sees: a flush takes no filter (`?prefix=user:`
 * emptied every key, not those of the prefix). The one check of a flush's query, on both services.
 *
 * @example
 * ```ts
 * import { checkFlushQuery } from "./keyspace_routes.ts";
 * checkFlushQuery("http://m:8080/keys?through=5", ["through"]); // passes
 * checkFlushQuery("http://m:8080/keys?="); // throws HttpError 400
 * ```
 */
export function checkFlushQuery(url: string, allowed: string[] = []): void {
  for (const name of new URL(url).searchParams.keys()) {
    if (!allowed.includes(name)) {
      throw new HttpError(400, `DELETE /keys empties every key and takes no ${name || "unnamed"}`);
    }
  }
}
