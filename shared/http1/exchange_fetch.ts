// A fetch built on an exchange(): what both HTTP/1.1 clients (Deno's sockets, node:http) answer
// `fetch` with, so a call is the same whichever runtime sends it.

import type { Fetch, PeerRequest, RawAnswer } from "./messages.ts";
import { bodiless } from "./reader.ts";

/** Calls `origin` with a request made of no Fetch API objects; what an HTTP/1.1 client offers. */
export type Exchange = (origin: string, request: PeerRequest) => Promise<RawAnswer>;

/**
 * A {@link Fetch} that sends each call through `exchange` and answers a `Response` of the whole
 * body. It takes string or byte bodies only: a stream would have to be read first anyway.
 *
 * @example
 * ```ts
 * import { exchangeFetch } from "./exchange_fetch.ts";
 * import { http1Client } from "./client.ts";
 * const call = exchangeFetch(http1Client().exchange);
 * const answer = await call("http://127.0.0.1:8081/live");
 * ```
 */
export function exchangeFetch(exchange: Exchange): Fetch {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const body = init.body;
    if (body != null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("http1Fetch sends string or Uint8Array bodies only");
    }
    const answer = await exchange(url.origin, {
      method: init.method,
      path: url.pathname + url.search,
      headers: headerRecord(init.headers),
      body: (body ?? undefined) as string | Uint8Array<ArrayBuffer> | undefined,
      signal: init.signal,
    });
    return new Response(bodiless(answer.status) ? null : answer.body, {
      status: answer.status,
      headers: answer.headers,
    });
  };
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers || Symbol.iterator in headers) {
    return Object.fromEntries(new Headers(headers));
  }
  return headers as Record<string, string>;
}

// A request target as a URL gives it: "/" then printable ASCII, no space (the rest is escaped).
const TARGET = /^\/[!-~]*$/;

/**
 * Throws a TypeError unless `path` is a request target as a URL gives it: "/" then printable ASCII,
 * so nothing can be smuggled into the request line.
 *
 * @example
 * ```ts
 * import { checkTarget } from "./exchange_fetch.ts";
 * checkTarget("/keys/user:42"); // fine
 * checkTarget("/a b"); // throws TypeError
 * ```
 */
export function checkTarget(path: string): void {
  if (!TARGET.test(path)) throw new TypeError(`Not a path to send: ${JSON.stringify(path)}`);
}
