// What the client's tests share: a client whose calls go to a stand-in master and stand-in nodes.

import { CacheClient } from "./client.ts";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import { EPOCH_HEADER, type RingView } from "@cache/protocol/wire";

/** The stand-in master's URL. */
export const MASTER = "http://m:1";

/** The ring a stand-in master publishes: `nodes` in ring `epoch`, settled. */
export const view = (epoch: number, nodes: string[]): RingView => ({
  term: 0,
  epoch,
  replicas: 1,
  nodes,
  joined: {},
  settled: true,
});

/** Answers a call to a stand-in node, or to the master for anything but its ring. */
export type Handler = (
  node: string,
  method: string,
  path: string,
  body: string,
) => Response | Promise<Response>;

/**
 * A client in `mode` whose calls go to a stand-in master publishing `ring.current` and to `handle`
 * for everything else; `calls` lists every call but the master's ring reads (method, URL with its
 * query), which `ringReads()` counts, and its liveness probes. The master's answers name its clock,
 * as a master's do.
 */
export async function client(
  ring: { current: RingView },
  handle: Handler,
  mode: "direct" | "proxy" = "direct",
) {
  const calls: string[] = [];
  let ringReads = 0;
  const cache = await CacheClient.connect(MASTER, {
    mode,
    fetch: async (input, init) => {
      const url = new URL(input);
      const method = init.method ?? "GET";
      const clock: Record<string, string> = url.origin === MASTER
        ? { [NODE_TIME_HEADER]: String(Date.now()) }
        : {};
      if (url.origin === MASTER && url.pathname === "/ring") {
        ringReads++;
        return Response.json(ring.current, { headers: clock });
      }
      if (url.origin === MASTER && url.pathname === "/live") {
        return Response.json({ status: "live" }, { headers: clock });
      }
      calls.push(`${method} ${url.origin}${url.pathname}${url.search}`);
      const answer = await handle(url.origin, method, url.pathname, String(init.body ?? ""));
      answer.headers.set(EPOCH_HEADER, String(ring.current.epoch));
      for (const [name, value] of Object.entries(clock)) answer.headers.set(name, value);
      return answer;
    },
  });
  return { cache, calls, ringReads: () => ringReads };
}

/** A node answer that waits until `release()`. */
export function held() {
  const { promise, resolve } = Promise.withResolvers<void>();
  return { wait: promise, release: () => resolve() };
}

/** A node's answer to a read: the item, at version "0.1". */
export const value = (key: string, value: string) => Response.json({ key, value, version: "0.1" });

/** A node's answer for a key not stored. */
export const missing = (key: string) =>
  Response.json({ error: `Key "${key}" not found` }, { status: 404 });
