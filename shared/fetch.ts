// The fetch signature services take as a dependency, so tests can route calls to an in-process app.

import { http1Fetch } from "./http1.ts";

/** A `fetch`: the global one, or a stand-in that calls an app directly. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * The fetch services call each other with: HTTP/1.1 over pooled keep-alive connections
 * ({@link http1Fetch}), sending `token` as a bearer token and, with `caPem`, trusting that
 * certificate authority for HTTPS (an http:// URL stays plain, an https:// one never falls back to
 * plain).
 *
 * @example
 * ```ts
 * import { serviceFetch } from "./fetch.ts";
 * const call = serviceFetch({ token: "node-token" });
 * ```
 */
export function serviceFetch(options: { token?: string; caPem?: string } = {}): Fetch {
  const call = http1Fetch({ caPem: options.caPem });
  const { token } = options;
  if (!token) return call;
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    return call(input, { ...init, headers });
  };
}
