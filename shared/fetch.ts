// The fetch signature services take as a dependency, so tests can route calls to an in-process app.

/** A `fetch`: the global one, or a stand-in that calls an app directly. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A fetch that sends `token` as a bearer token and, with `caPem`, trusts that certificate
 * authority for HTTPS (and nothing else changes: an http:// URL stays plain, an https:// one never
 * falls back to plain).
 *
 * @example
 * ```ts
 * import { serviceFetch } from "./fetch.ts";
 * const call = serviceFetch({ token: "node-token" });
 * ```
 */
export function serviceFetch(options: { token?: string; caPem?: string } = {}): Fetch {
  const client = options.caPem ? Deno.createHttpClient({ caCerts: [options.caPem] }) : undefined;
  const { token } = options;
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (token && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers, ...(client ? { client } : {}) });
  };
}
