// Whether the master can call its nodes: before a node joins the ring, and all along after.

import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import type { Logger } from "@cache/log/log";
import { callPeer } from "@cache/http1/peer";
import { connectionRefused } from "@cache/http1/messages";
import { Throttle } from "@cache/log/throttle";

/** How the master calls a node, and how often it may log that it cannot. */
export interface ReachOptions {
  fetch: Fetch;
  timeoutMs: number;
  log: Logger;
  /** Milliseconds; the same failure of one node is logged at most once per {@link LOG_EVERY_MS}. */
  now: () => number;
  /** Told when a call found nothing listening at the address: its process is gone, not busy. */
  refused?: (address: string) => void;
}

/** Why a check failed when a master answered. */
const MASTER = "a master answered";

/** The least time between two log lines about the same node's failing calls. */
export const LOG_EVERY_MS = 10_000;

/**
 * Calls a node's `/live` the way the master calls it for keys (its client, its CA, its token): a
 * node whose certificate the master does not trust, or that it cannot reach, fails here with the
 * real reason, logged at a bounded rate while it lasts.
 *
 * @example
 * ```ts
 * import { Reach } from "./reach.ts";
 * const reach = new Reach({ fetch, timeoutMs: 1000, log, now: Date.now });
 * await reach.check("https://node-0.cache:8081"); // throws HttpError 502 with the reason
 * ```
 */
export class Reach {
  readonly #options: ReachOptions;
  readonly #throttle: Throttle;

  constructor(options: ReachOptions) {
    this.#options = options;
    this.#throttle = new Throttle(LOG_EVERY_MS, options.now);
  }

  /**
   * Resolves once `address` answered `/live` as a node; throws HttpError 502 saying why it did
   * not, 400 when a master answered (this one, or another cluster's).
   */
  async check(address: string): Promise<void> {
    const { fetch, timeoutMs, log } = this.#options;
    let reason: string | undefined;
    try {
      const answer = await callPeer(fetch, address, "/live", {}, timeoutMs);
      if (answer.status !== 200) reason = `/live answered ${answer.status}`;
      else if (serviceOf(answer.body) === "master") reason = MASTER;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
      // Refused, on a new connection or on the resend of a kept-alive one's call.
      if (connectionRefused((error as Error).cause)) this.#options.refused?.(address);
    }
    if (reason === MASTER) {
      throw new HttpError(400, `${address} is a master, not a node: it cannot join the ring`);
    }
    if (reason === undefined) {
      if (this.#throttle.end(address)) log.info("node callable again", { node: address });
      return;
    }
    if (this.#throttle.take(address) !== undefined) {
      log.warn("cannot call node", { node: address, reason });
    }
    throw new HttpError(502, `The master cannot call node ${address}: ${reason}`);
  }
}

/** The service a `/live` answer names; none from a node older than the field. */
function serviceOf(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body))?.service;
  } catch {
    return undefined;
  }
}
