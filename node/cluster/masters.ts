// The masters a node heartbeats to: the URLs it was given, with a DNS name that resolves to
// several addresses (a headless Service) expanded to one URL per address.

/** Resolves a host name to its IPv4 addresses, as `Deno.resolveDns(name, "A")` does. */
export type Resolve = (hostname: string) => Promise<string[]>;

/** The URLs, how to resolve names, and how long an answer is kept. */
export interface MastersOptions {
  urls: string[];
  resolve: Resolve;
  /** Milliseconds a resolved list is reused. Default 5 s. */
  cacheMs?: number;
  now?: () => number;
}

/**
 * Returns a function giving the masters' URLs. A plain-HTTP URL whose host is a name (not an IP
 * address, not `localhost`) is resolved, so every master behind a headless Service is reached;
 * a name that does not resolve is kept as it is. HTTPS URLs are kept too: a certificate names the
 * host, not its addresses.
 *
 * @example
 * ```ts
 * const masters = masterList({ urls: ["http://cache-masters:8080"], resolve: (name) =>
 *   Deno.resolveDns(name, "A") });
 * await masters(); // ["http://10.0.0.7:8080", "http://10.0.0.8:8080"]
 * ```
 */
export function masterList(options: MastersOptions): () => Promise<string[]> {
  const { urls, resolve, cacheMs = 5000, now = Date.now } = options;
  const names = urls.filter(resolvable);
  if (names.length === 0) return () => Promise.resolve(urls);
  let cached: { at: number; list: Promise<string[]> } | undefined;
  return () => {
    if (!cached || now() - cached.at >= cacheMs) {
      cached = { at: now(), list: expand(urls, resolve) };
    }
    return cached.list;
  };
}

async function expand(urls: string[], resolve: Resolve): Promise<string[]> {
  const lists = await Promise.all(urls.map(async (text) => {
    if (!resolvable(text)) return [text];
    const url = new URL(text);
    try {
      const addresses = await resolve(url.hostname);
      if (addresses.length === 0) return [text];
      return addresses.sort().map((address) => `${url.protocol}//${address}:${url.port || 80}`);
    } catch {
      return [text];
    }
  }));
  return [...new Set(lists.flat())];
}

function resolvable(text: string): boolean {
  const url = new URL(text);
  const host = url.hostname;
  const literal = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith("[");
  return url.protocol === "http:" && !literal && host !== "localhost";
}
