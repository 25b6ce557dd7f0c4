// A node whose lease ran out answers its key routes with 503: it may no longer own its keys.

import type { RecordRequest } from "@cache/service/observe";
import { leaseLost } from "./replicator.ts";

/** The routes that read or write keys as their owner; `/replicate` and `/replica` are not. */
const KEY_ROUTES = /^\/(keys(\/|$|\?|#)|(mget|mset|stamped)($|\?|#))/;

/**
 * `target`'s path with its escapes decoded as the app's router reads it: without the query or a
 * fragment, and
 * where a malformed escape fails the whole, each valid run of escapes on its own.
 */
function decodedPath(target: string): string {
  const path = target.split(/[?#]/)[0];
  try {
    return decodeURI(path);
  } catch {
    return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURI(run);
      } catch {
        return run;
      }
    });
  }
}

/** The route template of a key route's `path`, as the request metrics name it. */
function routeOf(path: string): string {
  const bare = path.split("?")[0];
  if (!bare.startsWith("/keys/")) return bare;
  const action = /\/(incr|touch)$/.exec(bare)?.[1];
  return action ? `/keys/{key}/${action}` : "/keys/{key}";
}

/**
 * Returns a handler that answers a key route with 503 while `leaseLeftMs()` is 0, and undefined
 * for everything else: a node the leading master has not heard from within the lease may have
 * been marked down and its keys given to others, so it neither reads nor writes them until a
 * heartbeat is answered again. Costs one call per request while the lease holds.
 *
 * @example
 * ```ts
 * import { fenced } from "./fence.ts";
 * const fence = fenced(() => 0, "http://127.0.0.1:8081");
 * fence(new Request("http://127.0.0.1:8081/keys/a"))?.status; // 503
 * // With `requestRecorder(metrics)` as a third argument, each such 503 is counted too.
 * ```
 */
export function fenced(
  leaseLeftMs: () => number,
  self: string,
  record?: RecordRequest,
): (request: Pick<Request, "url" | "method">) => Response | undefined {
  return (request) => {
    if (leaseLeftMs() > 0) return undefined;
    const started = performance.now();
    const raw = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
    // As the router reads it: `/%6Beys/k` is `/keys/k`.
    const path = raw.includes("%") ? decodedPath(raw) : raw;
    if (!KEY_ROUTES.test(path)) return undefined;
    const error = leaseLost(self);
    // Counted as the app counts what it answers: an outage must show in the request metrics.
    record?.(request.method, routeOf(path), 503, started);
    return Response.json({ error: error.message }, { status: 503 });
  };
}
