// The fetch signature services take as a dependency, so tests can route calls to an in-process app.

import { http1Client } from "./client.ts";
import type { Fetch, PeerRequest, RawAnswer } from "./messages.ts";

export type { Fetch } from "./messages.ts";

/**
 * A {@link Fetch} that can also call a peer without the Fetch API's objects (no URL, Headers or
 * Response per call); {@link callPeer} uses `exchange` when it is there.
 */
export type PeerFetch = Fetch & {
  exchange(origin: string, request: PeerRequest): Promise<RawAnswer>;
};

/**
 * The fetch services call each other with: HTTP/1.1 over pooled keep-alive connections
 * ({@link http1Client}), sending `token` as a bearer token and, with `caPem`, trusting that
 * certificate authority for HTTPS (an http:// URL stays plain, an https:// one never falls back to
 * plain).
 *
 * @example
 * ```ts
 * import { serviceFetch } from "./fetch.ts";
 * const call = serviceFetch({ token: "node-token" });
 * const answer = await call.exchange("http://127.0.0.1:8081", { path: "/ready" });
 * ```
 */
export function serviceFetch(options: { token?: string; caPem?: string } = {}): PeerFetch {
  const client = http1Client({ caPem: options.caPem });
  const { token } = options;
  if (!token) return Object.assign(client.fetch, { exchange: client.exchange });
  const authorization = `Bearer ${token}`;
  const fetch: Fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", authorization);
    return client.fetch(input, { ...init, headers });
  };
  const exchange = (origin: string, request: PeerRequest) =>
    client.exchange(origin, { ...request, headers: { authorization, ...request.headers } });
  return Object.assign(fetch, { exchange });
}
