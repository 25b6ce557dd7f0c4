// A node whose lease ran out answers its key routes with 503: it may no longer own its keys.

import type { RecordRequest } from "@cache/service/observe";
import { routerPath } from "@cache/service/hot";
import { leaseLost } from "./replicator.ts";

/** The routes that read or write keys as their owner; `/replicate` and `/replica` are not. */
const KEY_ROUTES = /^\/(keys(\/|$)|(mget|mset|stamped)$)/;

/**
 * Returns a handler that answers a key route with 503 (and `headers()`) while `leaseLeftMs()` is
 * 0, and undefined for everything else: a node the leading master has not heard from within the
 * lease may have been marked down and its keys given to others, so it neither reads nor writes
 * them until a heartbeat is answered again. Costs one call per request while the lease holds.
 *
 * @example
 * ```ts
 * import { fenced } from "./fence.ts";
 * const fence = fenced(() => 0, "http://127.0.0.1:8081");
 * fence(new Request("http://127.0.0.1:8081/keys/a"))?.status; // 503
 * // With `requestRecorder(metrics)` and the hot path's `routeOf`, each such 503 is counted too.
 * ```
 */
export function fenced(
  leaseLeftMs: () => number,
  self: string,
  record?: RecordRequest,
  routeOf: (method: string, path: string) => string = () => "unmatched",
  headers: () => Record<string, string> | undefined = () => undefined,
): (request: Pick<Request, "url" | "method">) => Response | undefined {
  return (request) => {
    if (leaseLeftMs() > 0) return undefined;
    const started = performance.now();
    // As the router reads it: `/%6Beys/k?x` is `/keys/k`.
    const path = routerPath(request.url);
    if (!KEY_ROUTES.test(path)) return undefined;
    const error = leaseLost(self);
    // Counted as the app counts what it answers: an outage must show in the request metrics.
    record?.(request.method, routeOf(request.method, path), 503, started);
    // With the headers every answer carries: the ring this node knows, and its clock.
    return Response.json({ error: error.message }, { status: 503, headers: headers() });
  };
}
