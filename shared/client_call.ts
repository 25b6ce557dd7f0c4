// One call from the client to a master or a node: deadline, token, and the server's refusal as a
// CacheError.

import { deadline } from "./deadline.ts";
import { http1Client } from "./http1.ts";
import { EPOCH_HEADER } from "./wire.ts";

/** A call the cluster refused or could not answer: `status` and the server's message. */
export class CacheError extends Error {
  /** The HTTP status, or 0 when no server answered. */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "CacheError";
    this.status = status;
  }
}

/** Nothing listened at the address: the request was never sent. */
export class Refused extends CacheError {
  constructor(message: string) {
    super(0, message);
  }
}

/** A node knows a newer ring than the one the request was routed by. */
export class StaleRing extends CacheError {
  constructor() {
    super(421, "The ring changed");
  }
}

/** A failure that a newer ring may route around: a redirect, or a node unreached or failing. */
export function retries(error: unknown): boolean {
  return error instanceof CacheError &&
    (error.status === 421 || error.status === 0 || error.status >= 502);
}

/** No server answered: refused, reset or timed out. */
export function unreached(error: unknown): boolean {
  return error instanceof CacheError && error.status === 0;
}

/** How the client calls: a stand-in fetch for tests, a bearer token, a deadline per call. */
export interface CallerOptions {
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  token?: string;
  timeoutMs: number;
}

/**
 * Makes the client's HTTP calls over pooled keep-alive connections (or `fetch`), each under its
 * deadline, and turns every failure into a {@link CacheError}.
 *
 * @example
 * ```ts
 * import { Caller } from "./client_call.ts";
 * const caller = new Caller({ timeoutMs: 2000 });
 * const ring = await caller.call("http://127.0.0.1:8080", "/ring", {});
 * caller.close();
 * ```
 */
export class Caller {
  readonly #options: CallerOptions;
  readonly #close: () => void;
  readonly #fetch: (input: string, init: RequestInit) => Promise<Response>;

  constructor(options: CallerOptions) {
    this.#options = options;
    if (options.fetch) {
      this.#fetch = options.fetch;
      this.#close = () => {};
    } else {
      const http = http1Client();
      this.#fetch = http.fetch;
      this.#close = () => http.close();
    }
  }

  /**
   * Calls `path` on `base`; resolves to the parsed body, or throws CacheError with the server's
   * message ({@link Refused} when nothing listened). With `ringEpoch`, the epoch of the ring the
   * client routes node calls by, an answer from a newer ring throws {@link StaleRing}.
   */
  async call(
    base: string,
    path: string,
    init: RequestInit,
    signal?: AbortSignal,
    ringEpoch?: () => number | undefined,
  ): Promise<unknown> {
    const headers = new Headers(init.headers);
    if (this.#options.token) headers.set("authorization", `Bearer ${this.#options.token}`);
    const { timeoutMs } = this.#options;
    const limit = deadline(timeoutMs, `no answer within ${timeoutMs} ms`);
    let answer: Response;
    let text: string;
    try {
      try {
        answer = await this.#fetch(base + path, {
          ...init,
          headers,
          signal: signal ? AbortSignal.any([signal, limit.signal]) : limit.signal,
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const reason = error instanceof Error ? error.message : String(error);
        const message = `${base} could not be reached: ${reason}`;
        if (error instanceof Deno.errors.ConnectionRefused) throw new Refused(message);
        throw new CacheError(0, message);
      }
      text = await answer.text(); // still under the deadline
    } finally {
      limit.clear();
    }
    let body: { error?: string } | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CacheError(
        answer.status,
        `${base} answered ${answer.status} with a body that is not JSON`,
      );
    }
    const known = ringEpoch?.();
    if (known !== undefined && Number(answer.headers.get(EPOCH_HEADER)) > known) {
      throw new StaleRing();
    }
    if (!answer.ok) {
      throw new CacheError(answer.status, body?.error ?? `${base} answered ${answer.status}`);
    }
    return body;
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#close();
  }
}
