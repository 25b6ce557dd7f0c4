// An HTTP/1.1 server over Deno.listen: open connections capped below the descriptor limit, and
// timeouts for a request's head, an idle connection and a body that trickles.

import { BodyBuffers, KEPT_BODY_BYTES } from "./body_buffers.ts";
import { closeConn, Connection, type ServerContext } from "./server_connection.ts";
import type { Answer } from "./answer.ts";
import type { LiteRequest } from "./server_lite.ts";
import { tracing } from "./server_tracing.ts";
import { UNREAD_STALL_MS, UnreadBudget } from "./unread_budget.ts";
import type { Logger } from "@cache/log/log";
import { Throttle } from "@cache/log/throttle";

export type { LiteRequest } from "./server_lite.ts";
export { MAX_HEAD_BYTES } from "./server_head.ts";

/** Where to listen and how much any one client may hold. */
export interface ServerOptions {
  hostname: string;
  port: number;
  /** PEM certificate and key: serve HTTPS. */
  cert?: string;
  key?: string;
  /**
   * Open connections at most (0: no set cap); one more is answered 503 and closed at once. When
   * the descriptor limit is reached first, the cap drops below it by itself.
   */
  maxConnections: number;
  /** A request's head (and a TLS handshake) must arrive within this, once it has begun. */
  headerTimeoutMs: number;
  /** A kept-alive connection with no request for this long is closed. */
  idleTimeoutMs: number;
  /**
   * A body that arrives slower than this (after a head timeout's grace), or stops for a head
   * timeout however much came before, is cut off.
   */
  minBodyBytesPerSecond: number;
  /**
   * Bytes of answers being written that their clients have not taken yet, over every connection,
   * past half of which a read (GET, HEAD, `/mget`; not `/live`, `/ready` or `/ring`) is refused
   * 503, its connection closed, on arrival or right before its answer is made (`UnreadBudget`),
   * as is a read whose answer would pass the whole: 40 clients that sent an `/mget` each and read
   * nothing held a node at 1.2 GB for a minute. Default 64 MiB.
   */
  maxUnsentBytes?: number;
  log: Logger;
  /**
   * Tried first for a request without a body or with one read whole, before any `Request` is
   * built: the hottest reads answer from the method and URL alone, the hottest writes from the
   * body's bytes, with no copy into a Request. Undefined (at once, not later) hands the request
   * to the handler. Skipped while tracing, so that every answer runs inside its request's span.
   */
  early?: (request: LiteRequest) => Answer | Promise<Answer> | undefined;
  /**
   * Asked with the head of a request whose body is chunked or longer than 64 KiB, before any of
   * it is read: an answer refuses the request (written, then the connection closed with the body
   * unread), so one the service would refuse anyway (a token it does not take) holds no body in
   * its memory. Undefined lets it on.
   */
  admit?: (request: LiteRequest) => Response | undefined;
  /**
   * Told of each request the server refuses itself, which no handler sees (a head too large or
   * malformed, a body cut short, a read refused while answers wait unread), with its status and,
   * once its head was read, its method: for the service's request counters.
   */
  refused?: (status: number, method: string | undefined) => void;
}

/** What a handler learns of the connection, as `Deno.serve` passes it. */
export interface ServeInfo {
  remoteAddr: Deno.NetAddr;
}

/** Answers one request. */
export type Handler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** A running server. */
export interface HttpServer {
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes idle connections, and resolves once the busy ones have answered, or
   * after `timeoutMs`, closing those left: a client trickling a body could hold a stop for as long
   * as its bytes keep above the minimum rate. Calls after the first share it.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The same trouble is logged at most once per this many milliseconds. */
const LOG_EVERY_MS = 10_000;

/**
 * Serves `handler` on `options.hostname:port`. Past `maxConnections` a new connection gets a 503
 * and is closed; an accept that fails (no descriptor left) is logged and retried, never fatal. A
 * request's head must come within `headerTimeoutMs` of its first byte (of the connection, for the
 * first), a kept-alive connection may idle `idleTimeoutMs`, and a body must keep up
 * `minBodyBytesPerSecond` and never stop for `headerTimeoutMs`: past any of these the connection
 * is closed. With tracing on
 * (`OTEL_DENO=true`) each request is a server span, child of the caller's `traceparent`.
 *
 * @example
 * ```ts
 * import { serveHttp } from "./server.ts";
 * const server = serveHttp({ hostname: "127.0.0.1", port: 0, maxConnections: 1000,
 *   headerTimeoutMs: 10_000, idleTimeoutMs: 60_000, minBodyBytesPerSecond: 1024, log },
 *   () => new Response("ok"));
 * await server.shutdown();
 * ```
 */
export function serveHttp(options: ServerOptions, handler: Handler): HttpServer {
  const listener: Deno.Listener = options.cert && options.key
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const secure = options.cert !== undefined;
  const origin = `${secure ? "https" : "http"}://${
    addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
  }:${addr.port}`;
  const open = new Set<Connection>();
  const server: ServerContext = {
    options,
    handler,
    secure,
    origin,
    note: rateLimited(options.log),
    traced: tracing(),
    bodies: new BodyBuffers(KEPT_BODY_BYTES),
    unread: new UnreadBudget(options.maxUnsentBytes),
    closing: false,
  };
  let refusing = 0; // connections past the cap being answered 503
  let cap = options.maxConnections || Infinity; // lowered if the descriptor limit is hit first

  // One sweep closes the connections past their deadline: cheaper than a timer per request.
  const tick = Math.min(
    250,
    Math.max(10, Math.min(options.headerTimeoutMs, options.idleTimeoutMs) / 10),
  );
  const sweeper = setInterval(() => {
    const now = performance.now();
    // Past half the unread answers' budget, reads are refused: a client that takes none of its
    // answer goes, not at the idle timeout but once it has taken nothing for a while.
    const stalled = server.unread.pastHalf() ? now - UNREAD_STALL_MS : -Infinity;
    for (const connection of open) {
      if (connection.deadline <= now) connection.close();
      else if (connection.takenAt <= stalled) {
        server.note.warn("closed a connection that reads none of its answer", {
          stalledMs: Math.round(now - connection.takenAt),
        });
        connection.close();
      }
    }
  }, tick);

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (server.closing) return;
        if (error instanceof Error && /too many open files/i.test(error.message)) {
          // The descriptor limit, found the hard way: cap below it, keeping room for the calls
          // this service makes, and shed idle connections (opened, nothing sent) to get there.
          cap = Math.max(16, Math.min(cap, open.size - DESCRIPTOR_RESERVE));
          for (const connection of [...open].reverse()) {
            if (open.size <= cap) break;
            if (connection.fresh) connection.close();
          }
          server.note.warn("descriptor limit reached", { cap, open: open.size });
        } else server.note.warn("accept failed", { error: String(error) });
        if (!peerGone(error)) await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (open.size >= cap) {
        server.note.warn("connection refused: too many open", { max: cap });
        // Answering takes a descriptor a while too: past a few at once, just close.
        if (refusing >= MAX_REFUSING || secure) closeConn(conn);
        else {
          refusing++;
          refuse(conn).finally(() => refusing--);
        }
        continue;
      }
      // Answers go out whole, in one write each: nothing to gain from Nagle's wait.
      if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
      const connection = new Connection(conn, server);
      open.add(connection);
      connection.run().finally(() => open.delete(connection));
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    addr,
    get connections() {
      return open.size;
    },
    shutdown(timeoutMs = Infinity) {
      stopped ??= (async () => {
        server.closing = true;
        listener.close();
        await accepting;
        for (const connection of open) if (connection.idle) connection.close();
        const gone = async (until: number) => {
          while (open.size > 0 && performance.now() < until) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        const end = performance.now() + timeoutMs;
        await gone(end);
        for (const connection of open) connection.close();
        await gone(performance.now() + 1000); // each ends its read as it closes
        clearInterval(sweeper);
      })();
      return stopped;
    },
  };
}

/** Descriptors kept free for outgoing calls, files and the runtime once the limit is known. */
const DESCRIPTOR_RESERVE = 64;

/** Connections past the cap answered 503 at once at most; more are closed unanswered. */
const MAX_REFUSING = 16;

const REFUSAL = (() => {
  const body = '{"error":"Too many open connections: try again shortly"}';
  return new TextEncoder().encode(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n" +
      `content-length: ${body.length}\r\nconnection: close\r\nretry-after: 1\r\n\r\n${body}`,
  );
})();

/** Answers a plain connection past the cap with a 503, within a second, and closes it. */
async function refuse(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => closeConn(conn), 1000);
  try {
    await conn.write(REFUSAL);
  } catch {
    // the client went already
  } finally {
    clearTimeout(timer);
    closeConn(conn);
  }
}

/**
 * Logs a warning at most once per {@link LOG_EVERY_MS} per message, with how many were held back.
 */
function rateLimited(log: Logger) {
  const throttle = new Throttle(LOG_EVERY_MS);
  return {
    warn(message: string, fields: Record<string, unknown>) {
      const held = throttle.take(message);
      if (held !== undefined) {
        log.warn(message, { ...fields, ...(held ? { alsoSince: held } : {}) });
      }
    },
  };
}

/**
 * Whether an accept failed for its one connection alone: its peer reset or went away before it
 * was taken. The next connection is taken at once; waiting after each let a client resetting its
 * connections keep every other out.
 */
export function peerGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}
