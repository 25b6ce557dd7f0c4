// The hot read, `GET /keys/{key}`, served beside the app without its router, validator and
// middleware chain: the same answers, metrics and span names, for a fraction of the work.

import type { Answer } from "../http1/answer.ts";
import { errorResponse } from "../protocol/errors.ts";
import { isPlainSegment } from "../protocol/key_path.ts";
import type { Logger } from "../log/log.ts";
import type { Metrics } from "./metrics.ts";
import { requestRecorder } from "./observe.ts";
import { MAX_KEY_BYTES } from "../protocol/wire.ts";

/** What serving a read needs; `A` is what a read answers, a Response or its parts. */
export interface FastGetOptions<A extends Answer> {
  /** Answers a read of `key`, which is already valid; may throw HttpError. */
  read: (key: string) => A | Promise<A>;
  /** Counts the request where the app counts its requests. */
  metrics: Metrics;
  log: Logger;
}

const ROUTE = "/keys/{key}";

/**
 * Returns a handler that answers `GET /keys/{key}` for a key whose path segment needs no decoding
 * and is within the key size limit, and returns undefined for every other request, which the app
 * then serves. Only for services without tokens: with tokens, every request goes through the app
 * and its access checks.
 *
 * @example
 * ```ts
 * const fast = fastKeyGet({ read: (key) => Response.json({ key }), metrics, log });
 * Deno.serve((request) => fast(request) ?? app.fetch(request));
 * ```
 */
export function fastKeyGet<A extends Answer>(
  options: FastGetOptions<A>,
): (request: Pick<Request, "method" | "url">) => A | Response | Promise<A | Response> | undefined {
  const record = requestRecorder(options.metrics);
  return (request) => {
    if (request.method !== "GET") return undefined;
    const url = request.url;
    const path = url.indexOf("/", url.indexOf("//") + 2);
    if (path < 0 || !url.startsWith("/keys/", path)) return undefined;
    const key = url.slice(path + "/keys/".length);
    // A plain segment is ASCII: its length is its size in bytes.
    if (key.length > MAX_KEY_BYTES || !isPlainSegment(key)) return undefined;

    return answer(key);
  };

  // A read that answers at once is answered at once: the runtime sends a Response returned
  // synchronously on a shorter path than one behind a promise.
  function answer(key: string): A | Response | Promise<A | Response> {
    const started = performance.now();
    let read: A | Promise<A>;
    try {
      read = options.read(key);
    } catch (error) {
      return done(failure(key, error), started);
    }
    if (!(read instanceof Promise)) return done(read, started);
    return read.then(
      (response) => done(response, started),
      (error) => done(failure(key, error), started),
    );
  }

  function done<T extends Answer>(response: T, started: number): T {
    record("GET", ROUTE, response.status, started);
    return response;
  }

  function failure(key: string, error: unknown): Response {
    return errorResponse(error, "GET", `/keys/${key}`, options.log);
  }
}
