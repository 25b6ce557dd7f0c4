// One call from a service to a peer under a deadline, with the peer's failures as HTTP errors.

import { madeOf } from "./answer.ts";
import { deadline, untilAborted } from "./deadline.ts";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch, PeerFetch } from "./fetch.ts";
import { bodiless } from "./reader.ts";
import {
  connectionRefused,
  headerOf,
  type PeerRequest,
  type RawAnswer,
  SentThenRefused,
} from "./messages.ts";

/**
 * A call its peer did not answer within its timeout: HttpError 504, as a peer's own 504 answer
 * made into an error is, but not one: a peer that answers, even 504, is there.
 */
export class PeerTimeout extends HttpError {
  constructor(message: string) {
    super(504, message);
    this.name = "PeerTimeout";
  }
}

/** What {@link callPeer} sends: a method, headers and a body. */
export type PeerInit = Omit<PeerRequest, "path" | "signal">;

/**
 * Sends `init` to `path` on `node` and reads the whole answer, whatever its status, within
 * `timeoutMs`: a stalled body is a timeout too, not a cut stream. Throws HttpError 502 when the
 * node cannot be reached and {@link PeerTimeout} (504) when it does not answer in time.
 *
 * @example
 * ```ts
 * import { callPeer } from "./peer.ts";
 * const answer = await callPeer(fetch, "http://127.0.0.1:8081", "/ready", {}, 2000);
 * console.log(answer.status);
 * ```
 */
export async function callPeer(
  fetch: Fetch,
  node: string,
  path: string,
  init: PeerInit,
  timeoutMs: number,
): Promise<RawAnswer> {
  const limit = deadline(timeoutMs, "The node did not answer in time");
  const { exchange } = fetch as Partial<PeerFetch>;
  try {
    if (exchange) return await exchange(node, { ...init, path, signal: limit.signal });
    return await untilAborted(
      readAll(fetch(node + path, { ...init, signal: limit.signal })),
      limit.signal,
    );
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new PeerTimeout(`Node ${node} did not answer within ${timeoutMs} ms`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    // Refused before anything was sent: a caller may send a write again as never made.
    const unsent = connectionRefused(error) && !(error instanceof SentThenRefused);
    throw new HttpError(
      502,
      `Node ${node} is unreachable: ${reason}`,
      unsent ? { sent: false } : {},
      { cause: error },
    );
  } finally {
    limit.clear();
  }
}

/** The whole of a Fetch API answer, as {@link callPeer} returns it. */
async function readAll(call: Promise<Response>): Promise<RawAnswer> {
  const answer = await call;
  return {
    status: answer.status,
    headers: [...answer.headers],
    body: new Uint8Array(await answer.arrayBuffer()),
  };
}

// JSON, with parameters of printable ASCII only (`Headers` refuses some other bytes).
const JSON_TYPE = /^application\/json(\s*;[\t\x20-\x7e]*)?$/i;

/**
 * A peer's answer passed on to a client: its status, body and content type, and none of the
 * peer's other headers (connection, epoch, ...). Peers answer JSON: anything else is labelled
 * JSON, so that a host registered as a node that is not one cannot serve a page from this
 * service's origin, where the dashboard keeps its token.
 *
 * @example
 * ```ts
 * import { callPeer, peerResponse } from "./peer.ts";
 * const called = await callPeer(fetch, "http://127.0.0.1:8081", "/keys/k", {}, 2000);
 * const response = peerResponse(called);
 * ```
 */
export function peerResponse(answer: RawAnswer): Response {
  const given = headerOf(answer, "content-type");
  const body = bodiless(answer.status) ? null : answer.body;
  const type = body === null
    ? undefined
    : given !== null && JSON_TYPE.test(given)
    ? given
    : "application/json";
  const response = new Response(body, {
    status: answer.status,
    headers: type ? { "content-type": type } : {},
  });
  // Passed on as it came: the services' server writes these bytes without reading them back.
  return madeOf(response, {
    status: answer.status,
    ...(type ? { contentType: type } : {}),
    body: body ?? new Uint8Array(0),
  });
}
