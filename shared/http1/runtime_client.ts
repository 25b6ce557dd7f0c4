// Picks the HTTP/1.1 client for the runtime at hand: Deno's own sockets under Deno, node:http
// elsewhere, each the faster on its runtime (bench/transport.ts).

import { type Http1Client, http1Client, type Http1Options } from "./client.ts";

/** Makes an {@link Http1Client}: {@link http1Client}, or `nodeHttp1Client` from node_client.ts. */
export type Http1ClientFactory = (options?: Http1Options) => Http1Client;

/**
 * The HTTP/1.1 client factory for this runtime: {@link http1Client} where `Deno` is, at once and
 * without loading node:http; elsewhere node_client.ts's, imported on the first call only.
 *
 * @example
 * ```ts
 * import { runtimeHttp1Client } from "./runtime_client.ts";
 * const client = (await runtimeHttp1Client())();
 * const answer = await client.exchange("http://127.0.0.1:8081", { path: "/live" });
 * client.close();
 * ```
 */
export async function runtimeHttp1Client(): Promise<Http1ClientFactory> {
  if ("Deno" in globalThis) return http1Client;
  const { nodeHttp1Client } = await import("./node_client.ts");
  return nodeHttp1Client;
}
