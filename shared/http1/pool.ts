// Keep-alive HTTP/1.1 connections to one peer: a bounded pool, each connection one exchange at a
// time, an idle connection the peer closed replaced once, a new one it refused traded for ours.

import { untilAborted } from "./deadline.ts";
import { type RawAnswer, SentThenRefused } from "./messages.ts";
import { parseResponseHead, readBody, Reader } from "./reader.ts";
import { Turns } from "./turns.ts";

/** The keep-alive connections to one peer. */
export class Pool {
  readonly #url: URL;
  /** The value of the host header. */
  readonly host: string;
  readonly #max: number;
  readonly #caPem: string | undefined;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #turns = new Turns();
  #open = 0;
  #closed = false;

  constructor(url: URL, max: number, caPem?: string) {
    this.#url = url;
    this.host = url.host;
    this.#max = max;
    this.#caPem = caPem;
  }

  /** Sends `request` (its bytes, or its parts in order) and reads the whole answer. */
  async call(request: Uint8Array | Uint8Array[], signal?: AbortSignal | null): Promise<RawAnswer> {
    signal?.throwIfAborted();
    let retried = false;
    let connection = await this.#acquire(signal);
    try {
      for (;;) {
        // One that served a call before, idle or handed on by a call that ended: the peer may
        // have closed it meanwhile. (Whether one was idle when the call began missed a call that
        // waited for a connection.)
        const reused = connection.served > 0;
        try {
          const answer = await connection.exchange(request, signal);
          if (connection.keepAlive) this.#release(connection);
          else this.#discard(connection);
          return answer;
        } catch (error) {
          this.#discard(connection);
          if (signal?.aborted) throw signal.reason;
          // Nothing was answered, so send again once: the peer closed a connection that sat
          // idle, or closed a new one while it still serves another of ours (a peer at its
          // connection cap), which the call then waits for.
          const refused = !reused && this.#open > 0;
          if (!(error instanceof ClosedEarly) || !(reused || refused) || retried) throw error;
          retried = true;
          // The others idle here sat as long as the one the peer closed: a new connection.
          if (!refused) { for (const idle of this.#idle.splice(0)) this.#discard(idle); }
          try {
            connection = refused ? await this.#acquireOpen(signal) : await this.#acquire(signal);
          } catch (again) {
            // The peer may have taken the call, then died: refused now, the call was not surely
            // never sent.
            if (signal?.aborted) throw again;
            if ((again as { code?: unknown }).code === "ECONNREFUSED") {
              throw new SentThenRefused(again);
            }
            throw error;
          }
        }
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  }

  async #acquire(signal?: AbortSignal | null): Promise<Connection> {
    for (;;) {
      // Closed while it waited, too: no connection is opened past close().
      if (this.#closed) throw new Error("The client is closed");
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#open < this.#max) break;
      await this.#wait(signal);
    }
    this.#open++;
    try {
      return await this.#connect(signal);
    } catch (error) {
      this.#open--;
      this.#turns.next();
      throw error;
    }
  }

  /**
   * A connection already open, once one is idle: for a peer that closes new ones. With none open
   * any more, a new one.
   */
  async #acquireOpen(signal?: AbortSignal | null): Promise<Connection> {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#open === 0) return await this.#acquire(signal);
      await this.#wait(signal);
    }
  }

  /** Waits for a connection to be released or closed; a call that gives up stops waiting. */
  #wait(signal?: AbortSignal | null): Promise<void> {
    return this.#turns.wait(signal);
  }

  async #connect(signal?: AbortSignal | null): Promise<Connection> {
    const hostname = this.#url.hostname.replace(/^\[(.*)\]$/, "$1");
    const secure = this.#url.protocol === "https:";
    const port = Number(this.#url.port || (secure ? 443 : 80));
    const connecting: Promise<Deno.Conn> = secure
      ? handshaken(
        Deno.connectTls({ hostname, port, caCerts: this.#caPem ? [this.#caPem] : undefined }),
        signal,
      )
      : Deno.connect({ hostname, port });
    if (!signal) return this.#track(new Connection(await connecting));
    let conn: Deno.Conn;
    try {
      conn = await untilAborted(connecting, signal);
    } catch (error) {
      connecting.then((conn) => conn.close(), () => {}); // a late connection is not kept
      throw error;
    }
    return this.#track(new Connection(conn)); // closes it itself if the pool closed meanwhile
  }

  /** Closes every connection to this peer: calls in flight fail, later ones too. */
  close(): void {
    this.#closed = true;
    this.#turns.all(); // each finds the pool closed
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#idle.length = 0;
  }

  #track(connection: Connection): Connection {
    if (this.#closed) {
      connection.close(); // connected as the pool closed
      throw new Error("The client is closed");
    }
    this.#all.add(connection);
    return connection;
  }

  #release(connection: Connection): void {
    this.#idle.push(connection);
    this.#turns.next();
    // Bytes or an end while it sits idle: the peer closed it, or sent what no call asked for.
    const idleEnded = () => {
      const at = this.#idle.indexOf(connection);
      if (at < 0) return; // taken by a call, which reads what came
      this.#idle.splice(at, 1);
      this.#discard(connection);
    };
    connection.watch().then(idleEnded, idleEnded);
  }

  #discard(connection: Connection): void {
    connection.close();
    this.#all.delete(connection);
    this.#open--;
    this.#turns.next();
  }
}

/**
 * A TLS connection once its handshake is done: a certificate the caller does not trust fails
 * here with the handshake's own error ("invalid peer certificate: UnknownIssuer"), not later as a
 * connection closed before an answer. Given up on (`signal`), the handshake ends with its
 * connection: one a peer never answers no longer keeps the process running (Deno still keeps
 * its socket open until the peer closes it).
 *
 * @example
 * ```ts
 * const conn = await handshaken(
 *   Deno.connectTls({ hostname: "127.0.0.1", port: 8443 }),
 *   AbortSignal.timeout(1000),
 * );
 * ```
 */
export async function handshaken(
  connecting: Promise<Deno.TlsConn>,
  signal?: AbortSignal | null,
): Promise<Deno.TlsConn> {
  const conn = await connecting;
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  signal?.addEventListener("abort", close, { once: true });
  try {
    signal?.throwIfAborted();
    await conn.handshake();
    if (closed) signal?.throwIfAborted(); // done as the call gave up: closed by then
  } catch (error) {
    close();
    if (signal?.aborted) throw signal.reason;
    throw new Error(`TLS handshake with the peer failed: ${errorText(error)}`, { cause: error });
  } finally {
    signal?.removeEventListener("abort", close);
  }
  return conn;
}

const errorText = (error: unknown) => error instanceof Error ? error.message : String(error);

/** The peer closed the connection before answering. */
class ClosedEarly extends Error {
  constructor() {
    super("The connection closed before an answer");
    this.name = "ClosedEarly";
  }
}

/** One keep-alive connection: one exchange at a time. */
class Connection {
  readonly #conn: Deno.Conn;
  readonly #reader: Reader;
  #closed = false;
  /** Whether the last answer left the connection open for another request. */
  keepAlive = false;
  /** Calls answered on this connection. */
  served = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#reader = new Reader(conn);
  }

  /**
   * Resolves (or rejects) when bytes come, or the connection ends, before another exchange asks:
   * a read for an idle connection, which the next exchange shares.
   */
  watch(): Promise<unknown> {
    // Unref'd while idle: a pooled connection's read does not keep a finished script running.
    this.#conn.unref();
    return this.#reader.fill();
  }

  async exchange(
    request: Uint8Array | Uint8Array[],
    signal?: AbortSignal | null,
  ): Promise<RawAnswer> {
    // Bytes that came while idle answer nothing asked: not sent, so the pool may send elsewhere.
    if (this.#reader.unread > 0) throw new ClosedEarly();
    this.#conn.ref(); // a call waits for its answer, as fetch does
    const onAbort = () => this.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted(); // aborted while the connection was being found: no event comes
      try {
        for (const part of Array.isArray(request) ? request : [request]) {
          let written = 0;
          while (written < part.length) written += await this.#conn.write(part.subarray(written));
        }
      } catch {
        throw new ClosedEarly(); // nothing was answered: a closed idle connection
      }
      const head = await parseResponseHead(this.#reader, () => new ClosedEarly());
      const body = await readBody(this.#reader, head);
      this.keepAlive = head.keepAlive;
      if (this.#reader.unread > 0) {
        // A second answer, or a body a bodiless status should not have: read as the next call's
        // answer, every answer after would be one call late.
        this.keepAlive = false;
        throw new Error("The peer sent bytes past its answer");
      }
      this.#reader.shrink();
      this.served++;
      return { status: head.status, headers: head.headers, body };
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
