// Serves one connection of the services' own server: its requests in turn, each head parsed, its
// body read whole or streamed, answered early or by the handler, and its answer written.

import type { BodyBuffers } from "./body_buffers.ts";
import { BadHead, MAX_HEAD_BYTES, parseHead, type RequestHead } from "./server_head.ts";
import { ConnectionClosed, ConnReader } from "./server_reader.ts";
import { type Answer, partsOf } from "./answer.ts";
import { answered, encodeResponse, encodeWire } from "./server_answer.ts";
import { Body } from "./server_body.ts";
import type { Traced } from "./server_tracing.ts";
import { Lite } from "./server_lite.ts";
import type { Handler, ServerOptions } from "./server.ts";
import { giveReadBudget, type ReadBudget, type UnreadBudget } from "./unread_budget.ts";

/** How a HEAD request's head starts. */
const HEAD_LINE = new TextEncoder().encode("HEAD ");

/**
 * What every connection of one server shares: made once, when the server starts, and read by its
 * connections as they serve.
 *
 * @example
 * ```ts
 * import type { ServerContext } from "./server_connection.ts";
 * const server: ServerContext = { options, handler, secure: false, origin: "http://127.0.0.1:8080",
 *   note, traced: tracing(), bodies: new BodyBuffers(2 * 1024 * 1024),
 *   unread: new UnreadBudget(), closing: false };
 * ```
 */
export interface ServerContext {
  readonly options: ServerOptions;
  readonly handler: Handler;
  /** HTTPS: each connection begins with a TLS handshake. */
  readonly secure: boolean;
  /** The bound address as a URL's origin: the base of a request's URL when it sends no Host. */
  readonly origin: string;
  /** Logs a warning, at most once a while per message. */
  readonly note: { warn(message: string, fields: Record<string, unknown>): void };
  /** Runs a request's handler in its span; undefined when tracing is off. */
  readonly traced: Traced | undefined;
  /** Buffers for the bodies read whole, reused from one request to the next. */
  readonly bodies: BodyBuffers;
  /** Answers being written, over every connection: held until their clients take them. */
  readonly unread: UnreadBudget;
  /** The server is shutting down: no connection takes another request. */
  closing: boolean;
}

/**
 * A body with a Content-Length up to this size is read whole before the handler runs: above the
 * largest a node takes at the default value limit (6.1 MiB: 1 MB fully escaped); longer ones
 * stream.
 */
const WHOLE_BODY_BYTES = 8 * 1024 * 1024;

/** A body over this size, or chunked, is not read before the request's head is admitted. */
const ADMITTED_BODY_BYTES = 64 * 1024;

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

/** The methods of reads, whose answers may be large: held to the unread answers' budget. */
const READS = /^(GET|HEAD)$/;

/**
 * The reads answered whatever else the server refuses: the health probes, and the ring, which
 * follower masters and clients follow (small answers).
 */
const UNBUDGETED = /^\/(live|ready|ring)$/;

/** Whether `head` is a read held to the unread answers' budget; asked only once it is reached. */
function budgeted(head: RequestHead): boolean {
  const path = pathOf(head.target);
  return (READS.test(head.method) || path.startsWith("/mget")) && !UNBUDGETED.test(path);
}

/**
 * The path of `target` as the routers see it: dot segments resolved, escapes decoded (`/./mget`
 * and `/%6Dget` are `/mget`, and were made past the budget); undecodable, as it is.
 */
function pathOf(target: string): string {
  try {
    return decodeURIComponent(new URL(target, "http://x").pathname);
  } catch {
    return target;
  }
}

/** Longest a connection serves pipelined requests before other connections get a turn. */
const TURN_MS = 5;

/**
 * One connection of the services' own server: serves its requests in turn until the client closes
 * it, a timeout or a refusal does, or the server shuts down. Its `deadline` is checked by the
 * server's sweep, which closes it once passed.
 *
 * @example
 * ```ts
 * import { Connection } from "./server_connection.ts";
 * const connection = new Connection(conn, server); // `server`: made once, by serveHttp()
 * open.add(connection);
 * connection.run().finally(() => open.delete(connection));
 * ```
 */
export class Connection implements ReadBudget {
  /** What this connection shares with the rest of its server. */
  readonly server: ServerContext;
  readonly #conn: Deno.Conn;
  readonly #reader: ConnReader;
  idle = true;
  /** Nothing received yet: the first to go when descriptors run out. */
  fresh = true;
  /** When what is awaited must have come (`performance.now()`), or the connection closes. */
  deadline = Infinity;
  /**
   * While an answer is being written, when its client last took some of it
   * (`performance.now()`); Infinity while none is.
   */
  takenAt = Infinity;
  #closed = false;
  /** The request being served. */
  #head: RequestHead | undefined;
  #headOnly = false; // the request read is a HEAD: a refusal of it has no body either
  #method: string | undefined; // of the request being served, once its head is read
  /** Bytes of its answer counted as made, not yet held to be written (see {@link made}). */
  #made = 0;

  constructor(conn: Deno.Conn, server: ServerContext) {
    this.server = server;
    this.#conn = conn;
    this.#reader = new ConnReader(conn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.server.unread.release(this.#made);
    this.#made = 0;
    closeConn(this.#conn);
  }

  async run(): Promise<void> {
    const server = this.server;
    try {
      if (server.secure) {
        try {
          const handshake = (this.#conn as Deno.TlsConn).handshake();
          await this.timed(handshake, server.options.headerTimeoutMs);
        } catch (error) {
          const remote = (this.#conn.remoteAddr as Deno.NetAddr).hostname;
          server.note.warn("TLS handshake failed", { remote, error: String(error) });
          return;
        }
      }
      let turn = performance.now();
      for (let first = true; !server.closing; first = false) {
        if (!await this.#serveOne(first)) return;
        // Requests pipelined into the buffer are served with no wait for the network: back to
        // back, they would keep the event loop from every other connection (and heartbeats).
        if (this.#reader.buffered === 0) turn = performance.now(); // the next comes by the network
        else if (performance.now() - turn >= TURN_MS) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          turn = performance.now();
        }
      }
    } catch (error) {
      // A client that went away, or was timed out: routine, not worth a line at info.
      if (!(error instanceof ConnectionClosed)) {
        server.options.log.debug("connection ended", { error: String(error) });
      }
    } finally {
      this.close();
    }
  }

  /** Serves one request; resolves whether the connection stays open for another. */
  async #serveOne(first: boolean): Promise<boolean> {
    const server = this.server;
    const options = server.options;
    // Until the next request's first byte: the idle timeout (the head timeout, for the first);
    // from it on, the head timeout.
    const now = performance.now();
    this.deadline = now + (first ? options.headerTimeoutMs : options.idleTimeoutMs);
    this.idle = this.#reader.buffered === 0;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.#reader.head(MAX_HEAD_BYTES, this.#started);
    } finally {
      this.deadline = Infinity;
      this.idle = false;
    }
    this.fresh = false;
    this.#method = undefined;
    this.#headOnly = bytes !== undefined && HEAD_LINE.every((byte, i) => bytes[i] === byte);
    if (bytes === undefined) {
      await this.#refuse(431, `The request head is larger than ${MAX_HEAD_BYTES} bytes`);
      return false;
    }
    let head: RequestHead;
    try {
      head = parseHead(bytes);
      this.#method = head.method;
    } catch (error) {
      if (!(error instanceof BadHead)) throw error;
      await this.#refuse(error.status, error.message);
      return false;
    }
    this.#head = head;
    const hostHeader = head.headers.find(([name]) => name === "host")?.[1];
    const url = hostHeader ? `${server.secure ? "https" : "http"}://${hostHeader}` : server.origin;
    if (head.body.kind !== "none" && (head.method === "GET" || head.method === "HEAD")) {
      await this.#refuse(400, `A ${head.method} request cannot have a body`);
      return false;
    }
    // A body of a known length is read whole before the handler runs, straight into one buffer
    // at the minimum rate: bytes are far cheaper to hand over than a stream, which made a
    // 100 KB value 25 slices and two copies. Chunked and very long bodies stream as they come.
    const framing = head.body;
    const long = framing.kind === "chunked" ||
      (framing.kind === "length" && framing.length > ADMITTED_BODY_BYTES);
    if (long && options.admit) {
      const refused = options.admit(
        new Lite(head.method, url + head.target, head.headers, undefined),
      );
      if (refused) {
        await this.#refuseWith(refused);
        return false;
      }
    }
    let whole: Uint8Array<ArrayBuffer> | undefined;
    if (
      framing.kind === "length" && framing.length <= WHOLE_BODY_BYTES && !head.expectsContinue
    ) {
      const grace = performance.now() + options.headerTimeoutMs;
      try {
        whole = await this.#reader.body(framing.length, server.bodies, (read) => {
          // At the minimum rate, and never more than a head timeout of silence however much came.
          this.deadline = Math.min(
            grace + read * 1000 / options.minBodyBytesPerSecond,
            performance.now() + options.headerTimeoutMs,
          );
        });
      } catch (error) {
        // Cut short by a client that half-closed: it may still read why. Not after a timeout,
        // which closed the connection.
        if (!(error instanceof ConnectionClosed) || this.#closed) throw error;
        const why = `The request body ended before its Content-Length, ${framing.length} bytes`;
        await this.#refuse(400, why).catch(() => {});
        return false;
      } finally {
        this.deadline = Infinity;
      }
    }
    // Clients that do not read their answers hold them in memory: past half the budget, reads
    // are refused (writes, probes and heartbeats answer little, and go on). Half is kept for the
    // answers being made: a read let in past it would be made in full, its CPU spent, and then
    // refused (four held answers of 15 MB never passed 64 MiB, and every mget after them was made
    // and thrown away, stalling the node for seconds). Reads do not wait for room: a turn held
    // across a slow body or a call to a node held every other read up (one trickled chunked
    // `/mget` made all reads fail; one spike left the master serving one read at a time), and
    // the master's calls held past its timeout opened its breaker for the node.
    if (server.unread.pastHalf() && budgeted(head)) {
      if (whole) server.bodies.give(whole);
      await this.#refuseUnread();
      return false;
    }
    // A HEAD is answered as its GET, written without the body: its length is the GET's (a
    // handler that answers HEAD itself, as Hono does, drops the body and says no length).
    const method = head.method === "HEAD" ? "GET" : head.method;
    // Not while tracing: the early answer would run outside the request's span.
    const traced = server.traced;
    if (options.early && !traced && (framing.kind === "none" || whole)) {
      const lite = new Lite(method, url + head.target, head.headers, whole);
      giveReadBudget(lite, this);
      const early = options.early(lite);
      if (early !== undefined) {
        let answer: Answer;
        if (early instanceof Promise) {
          try {
            answer = await early;
          } finally {
            if (whole) server.bodies.give(whole); // read by now: the answer is made of other bytes
          }
        } else {
          answer = early;
          if (whole) server.bodies.give(whole);
        }
        const keepAlive = head.keepAlive && !server.closing;
        const headOnly = head.method === "HEAD";
        const wire = answer instanceof Response ? partsOf(answer) : answer;
        // An answer given at once is counted at once: a read that comes next sees it.
        const http10 = head.minor === 0;
        const encoded = wire
          ? encodeWire(wire, headOnly, keepAlive, http10)
          : await encodeResponse(answer as Response, headOnly, keepAlive, http10);
        if (this.#pastBudget(encoded, head)) {
          await this.#refuseUnread(false); // counted by the early answer that made it
          return false;
        }
        await this.#write(encoded);
        return keepAlive;
      }
    }
    const body = whole ? undefined : new Body(this, this.#reader, head);
    let request: Request;
    try {
      request = new Request(url + head.target, {
        method,
        headers: head.headers,
        body: whole ?? body?.stream,
      });
      giveReadBudget(request, this);
    } catch {
      await this.#refuse(400, "The Host header or the request target is not a URL");
      return false;
    } finally {
      if (whole) server.bodies.give(whole); // a Request copies the bytes it is built with
    }
    const handler = server.handler;
    const info = { remoteAddr: this.#conn.remoteAddr as Deno.NetAddr };
    const response = traced
      ? await traced(request, head, () => handler(request, info))
      : await answered(() => handler(request, info));
    const keepAlive = head.keepAlive && !server.closing &&
      (body === undefined || await body.finish());
    const headOnly = head.method === "HEAD";
    const encoded = await encodeResponse(response, headOnly, keepAlive, head.minor === 0);
    if (this.#pastBudget(encoded, head)) {
      await this.#refuseUnread(false); // counted by the handler that made it
      return false;
    }
    await this.#write(encoded);
    return keepAlive;
  }

  full(): string | undefined {
    if (!this.server.unread.pastHalf() || !budgeted(this.#head!)) return undefined;
    return this.#unreadError();
  }

  made(bytes: number): void {
    this.server.unread.hold(bytes);
    this.#made += bytes;
  }

  /** Whether `encoded`, the answer to `head`, is a read's that holding would pass the budget. */
  #pastBudget(encoded: Uint8Array, head: RequestHead): boolean {
    return this.server.unread.wouldPass(encoded.length, this.#made) && budgeted(head);
  }

  /** Refuses a read while answers wait for clients to read them. */
  /** Refuses a read while answers wait unread; `told`: the request reached no handler. */
  async #refuseUnread(told = true): Promise<void> {
    await this.#refuse(503, this.#unreadError(), told);
  }

  #unreadError(): string {
    const mb = Math.round(this.server.unread.unsent / 1024 / 1024);
    this.server.note.warn("answers not read: refusing reads", { unsentMb: mb });
    return `${mb} MB of answers wait for clients to read them: try again`;
  }

  /**
   * Answers `status` with an `{"error"}` body, and the connection closes: after what the client
   * is still sending is read a moment, so that closing does not reset the answer away. `told`:
   * the service is told of it (see `ServerOptions.refused`), as no handler counted it.
   */
  async #refuse(status: number, error: string, told = true): Promise<void> {
    if (told) this.server.options.refused?.(status, this.#method);
    await this.#refuseWith(Response.json({ error }, { status }));
  }

  /** Writes `answer` to a request not read whole, then closes (see {@link #refuse}). */
  async #refuseWith(answer: Response): Promise<void> {
    await this.#write(await encodeResponse(answer, this.#headOnly, false));
    try {
      await this.#conn.closeWrite();
      const sink = new Uint8Array(16 * 1024);
      const until = Date.now() + 500;
      const draining = (async () => {
        while (Date.now() < until && await this.#conn.read(sink) !== null) {
          // dropped
        }
      })();
      await this.timed(draining, 500);
    } catch {
      // the client went already
    }
  }

  /** Writes `bytes`: the request's answer, unless an interim one (`100 Continue`). */
  async #write(bytes: Uint8Array, interim = false): Promise<void> {
    // A client that reads nothing goes.
    this.deadline = performance.now() + this.server.options.idleTimeoutMs;
    const unread = this.server.unread;
    unread.hold(bytes.length);
    if (!interim) {
      unread.release(this.#made); // counted as made until now
      this.#made = 0;
    }
    try {
      this.takenAt = performance.now();
      let written = await this.#conn.write(bytes);
      while (written < bytes.length) {
        this.takenAt = performance.now();
        written += await this.#conn.write(bytes.subarray(written));
      }
    } finally {
      unread.release(bytes.length);
      this.deadline = Infinity;
      this.takenAt = Infinity;
    }
  }

  /** Writes `100 Continue`, once, for a client that waits for it before its body. */
  async sendContinue(): Promise<void> {
    await this.#write(CONTINUE, true);
  }

  /** The next request's first byte came: its head must be whole within the head timeout. */
  readonly #started = () => {
    this.idle = false;
    this.fresh = false;
    this.deadline = performance.now() + this.server.options.headerTimeoutMs;
  };

  /**
   * `promise`, or the connection closed about `ms` later, which ends whatever was reading: the
   * server's sweep closes connections past their deadline, so no timer is made per request.
   */
  async timed<T>(promise: Promise<T>, ms: number): Promise<T> {
    this.deadline = performance.now() + ms;
    try {
      return await promise;
    } finally {
      this.deadline = Infinity;
    }
  }
}

/**
 * Closes `conn`, unless it is closed already.
 *
 * @example
 * ```ts
 * import { closeConn } from "./server_connection.ts";
 * closeConn(conn);
 * closeConn(conn); // no error
 * ```
 */
export function closeConn(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
