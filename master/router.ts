// Forwards a key request to the node that owns the key, mapping peer failures to 502/503/504.

import { HttpError } from "../shared/errors.ts";
import type { Fetch } from "../shared/fetch.ts";
import type { Ring } from "../shared/ring.ts";

/** Where the router finds owners and how it calls them. */
export interface RouterOptions {
  /** The current ring; read on every request, so ring changes apply at once. */
  ring: () => Ring;
  fetch: Fetch;
  timeoutMs: number;
}

/** Sends key requests to their owner on the ring. */
export class Router {
  readonly #options: RouterOptions;

  constructor(options: RouterOptions) {
    this.#options = options;
  }

  /**
   * Sends `init` to `path` on the owner of `key` and returns the owner's answer, whatever its
   * status. Throws HttpError 503 with no node up, 502 when the owner cannot be reached, 504 when it
   * does not answer within the timeout.
   */
  async forward(key: string, path: string, init: RequestInit = {}): Promise<Response> {
    const owner = this.#options.ring().owner(key);
    if (owner === undefined) throw new HttpError(503, "No node is up to own the key");
    const { timeoutMs } = this.#options;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const answer = await this.#options.fetch(owner + path, { ...init, signal });
      // Read the whole body under the same deadline, so a stalled node is a 504, not a cut stream.
      const body = await answer.arrayBuffer();
      const headers = new Headers();
      const type = answer.headers.get("content-type");
      if (type) headers.set("content-type", type);
      return new Response(answer.status === 204 ? null : body, { status: answer.status, headers });
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        throw new HttpError(504, `Node ${owner} did not answer within ${timeoutMs} ms`);
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new HttpError(502, `Node ${owner} is unreachable: ${reason}`);
    }
  }
}
