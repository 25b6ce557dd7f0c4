// A write that reaches the master past the deadline its sender gave is not forwarded: the sender
// gave up on it, and a write applied then would land after the sender's later ones.

import { DEADLINE_HEADER, headerNumber } from "@cache/protocol/wire";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import { HttpError } from "@cache/protocol/errors";

/**
 * Milliseconds until the deadline a write's sender gave in `x-deadline` (this master's clock,
 * `now()`, as its answers tell it in `x-node-time`; see {@link clockHeaders}); undefined for none,
 * HttpError 400 for one that is not a whole number.
 * Past it, throws HttpError 504, nothing applied: a master paused with the write unread in its
 * socket, woken, would otherwise forward it with a version of that moment, above writes
 * acknowledged meanwhile. A write route checks it once its token and body have been, and takes
 * what is left on to the nodes.
 *
 * @example
 * ```ts
 * import { onTime } from "./late_writes.ts";
 * onTime(new Headers({ "x-deadline": "2500" }), () => 2_000); // 500
 * onTime(new Headers({ "x-deadline": "1000" }), () => 2_000); // throws HttpError 504
 * ```
 */
export function onTime(
  headers: { get(name: string): string | null },
  now: () => number,
): number | undefined {
  // Read as a node reads it: a whole number of milliseconds, or a 400.
  const deadline = headerNumber(DEADLINE_HEADER, headers.get(DEADLINE_HEADER));
  if (deadline === undefined) return undefined;
  const left = deadline - now();
  if (left < 0) {
    throw new HttpError(
      504,
      "The request reached the master past its sender's deadline: not applied",
    );
  }
  return left;
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
