// A hot JSON POST route served beside the app: the body is checked with the route's own schema,
// and anything the schema or the limits would refuse is handed to the app for its exact answer.

import type { z } from "@hono/zod-openapi";
import { jsonDepth, MAX_JSON_DEPTH, utf8 } from "./api.ts";
import { errorResponse } from "../protocol/errors.ts";
import type { Logger } from "../log/log.ts";
import type { Metrics } from "./metrics.ts";
import { requestRecorder } from "./observe.ts";

// The content types services send each other, which the app accepts too; it judges any other.
const PLAIN_JSON = /^application\/json(;\s*charset=utf-8)?$/i;

/** What serving one JSON POST route beside the app needs. */
export interface FastPostOptions<S extends z.ZodType> {
  /** The route's path, also its metrics label: `/mget`. */
  path: string;
  /** The route's request body schema, as the app's route declares it. */
  schema: S;
  /** Answers a valid body, given as parsed and as sent; may throw HttpError. */
  handle: (body: z.infer<S>, request: Request, text: string) => Response | Promise<Response>;
  /** Bodies larger than this go to the app, which refuses them with 413. */
  maxBodyBytes: number;
  /** Counts the request where the app counts its requests. */
  metrics: Metrics;
  log: Logger;
}

/** Answers a request the fast route does not take: the app. */
export type Fallback = (request: Request) => Response | Promise<Response>;

/**
 * Returns a handler that answers `POST path` with a JSON body of a declared length that the schema
 * accepts, and returns undefined for every other request. A body the schema refuses (or that is
 * not JSON) is passed to `fallback` (the app) with the same method, headers and body, so errors
 * keep the app's exact answers. Only for services without tokens, like {@link fastKeyGet}.
 *
 * @example
 * ```ts
 * const fast = fastJsonPost({
 *   path: "/mget", schema: MGetRequest, maxBodyBytes: 1 << 20, metrics, log,
 *   handle: ({ keys }) => Response.json({ items: [], missing: keys }),
 * });
 * Deno.serve((request) => fast(request, app.fetch) ?? app.fetch(request));
 * ```
 */
export function fastJsonPost<S extends z.ZodType>(
  options: FastPostOptions<S>,
): (request: Request, fallback: Fallback) => Response | Promise<Response> | undefined {
  const record = requestRecorder(options.metrics);
  const { path, schema, maxBodyBytes } = options;
  return (request, fallback) => {
    if (request.method !== "POST") return undefined;
    const url = request.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    if (start < 0 || url.length - start !== path.length || !url.startsWith(path, start)) {
      return undefined; // a query string, or another path
    }
    const length = Number(request.headers.get("content-length") ?? NaN);
    if (!(length <= maxBodyBytes)) return undefined; // chunked or too large: the app's limits
    const type = request.headers.get("content-type");
    if (type === null || !PLAIN_JSON.test(type)) return undefined; // other types: the app's rules
    return answer(request, fallback);
  };

  async function answer(request: Request, fallback: Fallback): Promise<Response> {
    const started = performance.now();
    let text: string | undefined;
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await request.bytes();
      text = utf8(bytes);
    } catch {
      // The client went away mid-body: nobody reads the answer, but it is still one.
      const response = Response.json({ error: "Request body could not be read" }, { status: 400 });
      record("POST", path, response.status, started);
      return response;
    }
    let body: z.infer<S> | undefined;
    try {
      // The app's nesting limit first: a schema that drops unknown fields would not see them.
      const parsed = text !== undefined && jsonDepth(text) <= MAX_JSON_DEPTH &&
        schema.safeParse(JSON.parse(text));
      if (parsed && parsed.success) body = parsed.data;
    } catch {
      // not JSON: the app says so
    }
    if (body === undefined || text === undefined) {
      const { method, headers } = request;
      return await fallback(new Request(request.url, { method, headers, body: bytes }));
    }
    let response: Response;
    try {
      response = await options.handle(body, request, text);
    } catch (error) {
      response = errorResponse(error, "POST", path, options.log);
    }
    record("POST", path, response.status, started);
    return response;
  }
}
