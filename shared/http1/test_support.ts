// What the HTTP/1.1 tests share: a raw TCP peer that answers as a test tells it to, and server
// limits short enough for tests.

import { silentLogger } from "@cache/log/log";
import type { ServerOptions } from "./server.ts";

/** A free port on 127.0.0.1 and limits short enough for tests. */
export const LIMITS: ServerOptions = {
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 100,
  headerTimeoutMs: 1000,
  idleTimeoutMs: 1000,
  minBodyBytesPerSecond: 1000,
  log: silentLogger,
};

/** A raw TCP server on 127.0.0.1 that answers each connection with `answer(requestText)`. */
export function rawServer(answer: (request: string, conn: Deno.Conn) => Promise<void> | void) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const ended = { count: 0 }; // connections whose client closed them
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) {
              ended.count++;
              break;
            }
            await answer(new TextDecoder().decode(buffer.subarray(0, n)), conn);
          }
        } catch {
          // closed by the test
        }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    conns,
    ended,
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await serving.catch(() => {});
    },
  };
}
