// A write that reaches the master past the deadline its sender gave is not forwarded: the sender
// gave up on it, and a write applied then would land after the sender's later ones.

import { DEADLINE_HEADER } from "@cache/protocol/wire";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import type { RecordRequest } from "@cache/service/observe";
import { routerPath } from "@cache/service/hot";

/** What a request needs for {@link lateWrites}: its method, URL and headers. */
interface Sent {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
}

/**
 * Returns a gate that answers 504 to a request other than a read whose `x-deadline` (this master's
 * clock, as its answers tell it in `x-node-time`; see {@link clockHeaders}) has passed by `now()`,
 * and undefined for every other: a master paused with the request unread in its socket, woken,
 * would otherwise forward it with a version of that moment, above writes acknowledged meanwhile.
 * `routeOf` names its route for the request metrics; `headers` (default: this clock) go on the 504.
 *
 * @example
 * ```ts
 * import { lateWrites } from "./late_writes.ts";
 * const gate = lateWrites(() => 2_000);
 * gate(new Request("http://m/keys", { method: "POST", headers: { "x-deadline": "1000" } }))?.status; // 504
 * ```
 */
export function lateWrites(
  now: () => number,
  record?: RecordRequest,
  routeOf: (method: string, path: string) => string = () => "unmatched",
  headers: () => Record<string, string> = clockHeaders(now),
): (request: Sent) => Response | undefined {
  return (request) => {
    if (request.method === "GET" || request.method === "HEAD") return undefined;
    const left = timeLeft(request.headers, now);
    if (left === undefined || left >= 0) return undefined;
    const started = performance.now();
    record?.(request.method, routeOf(request.method, routerPath(request.url)), 504, started);
    // With this clock, as every answer: a sender whose idea of it was off (the clock stepped) is
    // told, and its next deadline is right.
    return Response.json(
      { error: "The request reached the master past its sender's deadline: not applied" },
      { status: 504, headers: headers() },
    );
  };
}

/**
 * Milliseconds until the deadline a request's sender gave in `x-deadline` (this master's clock,
 * `now()`), below 0 once past; undefined for none, or one that is not a number. A write takes it
 * on to the nodes, so that one waiting here behind a slow node is not applied past it either.
 */
export function timeLeft(
  headers: { get(name: string): string | null },
  now: () => number,
): number | undefined {
  const sent = headers.get(DEADLINE_HEADER);
  if (sent === null) return undefined;
  const deadline = Number(sent);
  return Number.isFinite(deadline) ? deadline - now() : undefined;
}

/**
 * Headers naming this master's clock on every answer, as nodes name theirs: a client gives a
 * write's deadline in it. One object a millisecond, shared.
 */
export function clockHeaders(now: () => number): () => Record<string, string> {
  let shared: { time: number; headers: Record<string, string> } | undefined;
  return () => {
    const time = now();
    if (shared?.time !== time) {
      shared = { time, headers: Object.freeze({ [NODE_TIME_HEADER]: String(time) }) };
    }
    return shared.headers;
  };
}
