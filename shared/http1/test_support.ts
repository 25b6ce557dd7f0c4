// What the HTTP/1.1 tests share: a raw TCP peer that answers as a test tells it to, and server
// limits short enough for tests.

import { silentLogger } from "@cache/log/log";
import type { HttpServer, ServerOptions } from "./server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** A raw connection: send bytes, read what comes until the server closes or `ms` pass. */
export async function raw(server: HttpServer) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  // One read in flight at a time, kept across calls: a read that outlived a timeout is not lost.
  let pending: Promise<Uint8Array | null> | undefined;
  const next = () => {
    pending ??= (async () => {
      const buffer = new Uint8Array(65536);
      const n = await conn.read(buffer).catch(() => null);
      return n === null ? null : buffer.subarray(0, n);
    })();
    return pending;
  };
  return {
    async send(text: string | Uint8Array) {
      const bytes = typeof text === "string" ? encoder.encode(text) : text;
      for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
    },
    /** Everything read until the server closes, or until `ms` pass (then `open`). */
    async readAll(ms = 3000): Promise<{ text: string; closed: boolean }> {
      let text = "";
      const end = Date.now() + ms;
      for (;;) {
        const left = end - Date.now();
        if (left <= 0) return { text, closed: false };
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), left);
        });
        const bytes = await Promise.race([next(), timeout]);
        clearTimeout(timer);
        if (bytes === "timeout") return { text, closed: false };
        pending = undefined;
        if (bytes === null) return { text, closed: true };
        text += decoder.decode(bytes);
      }
    },
    /** Sends no more: the server still answers. */
    closeWrite: () => conn.closeWrite(),
    close: () => {
      try {
        conn.close();
      } catch {
        // closed already
      }
    },
  };
}
