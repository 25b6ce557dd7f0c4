// The node's key routes: set, get and delete on its own store.

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Answer, WireAnswer } from "../../../shared/http1/answer.ts";
import { fastKeyGet } from "../../../shared/service/fast_get.ts";
import { fastJsonPost } from "../../../shared/service/fast_post.ts";
import { keyNotFound, keyRoutes } from "../../../shared/protocol/key_routes.ts";
import type { Logger } from "../../../shared/log/log.ts";
import type { Metrics } from "../../../shared/service/metrics.ts";
import type { Read, Store } from "../../store/store.ts";
import type { NodeContext } from "../app.ts";
import { DEADLINE_HEADER, EPOCH_HEADER, KeyValue } from "../../../shared/protocol/wire.ts";
import type { Routing } from "../../cluster/replicator.ts";
import { roleOf } from "../../../shared/service/auth.ts";
import type { ItemWrite, Writer } from "../../cluster/writer.ts";

/** Serves `/keys` from the node's store. */
export function addKeyRoutes(app: OpenAPIHono, node: NodeContext): void {
  app.openapi(keyRoutes.set, async (c) => {
    const write = c.req.valid("json");
    await node.writer.write([write], routing(c.req.raw));
    return c.body(null, 204);
  });

  app.openapi(keyRoutes.get, (c) => {
    const { key } = c.req.valid("param");
    const found = node.store.get(key);
    if (found === undefined) return c.json(keyNotFound(key), 404);
    return c.json(item(key, found), 200);
  });

  app.openapi(keyRoutes.delete, async (c) => {
    const { key } = c.req.valid("param");
    const found = await node.writer.delete(key, routing(c.req.raw));
    if (!found) return c.json(keyNotFound(key), 404);
    return c.body(null, 204);
  });
}

/**
 * `GET /keys/{key}` served beside the app with the same answers (see {@link fastKeyGet}), for a
 * node without tokens: the node's hottest route, kept off the router and validator.
 */
export function fastGet(
  store: Store,
  ringEpoch: () => number | undefined,
  metrics: Metrics,
  log: Logger,
): (request: Pick<Request, "method" | "url">) => Answer | Promise<Answer> | undefined {
  return fastKeyGet({
    read(key): WireAnswer {
      const found = store.get(key);
      const epoch = ringEpoch();
      return {
        status: found === undefined ? 404 : 200,
        contentType: "application/json",
        body: JSON.stringify(found === undefined ? keyNotFound(key) : item(key, found)),
        // The ring epoch the app adds to every answer.
        ...(epoch === undefined ? {} : { headers: { [EPOCH_HEADER]: String(epoch) } }),
      };
    },
    metrics,
    log,
  });
}

/**
 * `POST /keys` served beside the app with the same answers (see {@link fastJsonPost}), for a node
 * without tokens: the master sends a write to an idle primary this way.
 */
export function fastSet(writer: Writer, maxBodyBytes: number, metrics: Metrics, log: Logger) {
  return fastJsonPost({
    path: "/keys",
    schema: KeyValue,
    maxBodyBytes,
    metrics,
    log,
    handle: (write, request) => stored(writer, [write], request),
  });
}

/** A read as it goes on the wire: `ttl` in seconds, only for a key that expires. */
export function item(key: string, found: Read): { key: string; value: string; ttl?: number } {
  return found.ttlMs === undefined
    ? { key, value: found.value }
    : { key, value: found.value, ttl: found.ttlMs / 1000 };
}

/** Writes `items` as a request routed them, answering 204 once they are on every owner. */
export async function stored(
  writer: Writer,
  items: ItemWrite[],
  request: Request,
): Promise<Response> {
  await writer.write(items, routing(request));
  return new Response(null, { status: 204 });
}

/**
 * The ring epoch a request was routed with and its sender's deadline, from its headers. A client
 * token's epoch is not taken as news of a newer ring: only the master and nodes may make this node
 * ask for one (without tokens, one ask at a time is shared by every request).
 */
export function routing(request: Request): Routing {
  const role = roleOf(request);
  return {
    epoch: wholeNumber(request.headers.get(EPOCH_HEADER)),
    deadline: wholeNumber(request.headers.get(DEADLINE_HEADER)),
    ...(role === "client" ? { untrusted: true } : {}),
  };
}

/** A header's whole number, if it carries one. */
function wholeNumber(header: string | null): number | undefined {
  const number = Number(header);
  return header && Number.isSafeInteger(number) ? number : undefined;
}
