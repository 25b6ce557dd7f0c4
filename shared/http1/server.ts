// An HTTP/1.1 server over Deno.listen: open connections capped below the descriptor limit, and
// timeouts for a request's head, an idle connection and a body that trickles.

import { BodyBuffers } from "./body_buffers.ts";
import { context, ROOT_CONTEXT, type Span, SpanKind, trace } from "@opentelemetry/api";
import { BadHead, parseHead, type RequestHead } from "./server_head.ts";
import { ConnectionClosed, ConnReader } from "./server_conn.ts";
import { type Answer, partsOf, type WireAnswer } from "./answer.ts";
import { HttpError } from "@cache/protocol/errors";
import type { Logger } from "@cache/log/log";
import { Throttle } from "@cache/log/throttle";

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
  /** A body that arrives slower than this (after a head timeout's grace) is cut off. */
  minBodyBytesPerSecond: number;
  log: Logger;
  /**
   * Tried first for a request without a body or with one read whole, before any `Request` is
   * built: the hottest reads answer from the method and URL alone, the hottest writes from the
   * body's bytes, with no copy into a Request. Undefined (at once, not later) hands the request
   * to the handler. Skipped while tracing, so that every answer runs inside its request's span.
   */
  early?: (request: LiteRequest) => Answer | Promise<Answer> | undefined;
}

/** A request as an early answer reads it: its method, URL, headers and whole body. */
export interface LiteRequest {
  method: string;
  url: string;
  /** The request's headers: `get()` takes a lower-case name. */
  headers: { get(name: string): string | null };
  /** The body, read whole; absent when the request has none. */
  wholeBody?: Uint8Array<ArrayBuffer>;
}

/** A request's head and whole body, as an early answer reads them: no Request or Headers built. */
class Lite implements LiteRequest {
  readonly headers: SentHeaders;

  constructor(
    readonly method: string,
    readonly url: string,
    sent: [string, string][],
    readonly wholeBody: Uint8Array<ArrayBuffer> | undefined,
  ) {
    this.headers = new SentHeaders(sent);
  }
}

/** Header lines as sent, names in lower case, read like `Headers`. */
class SentHeaders {
  constructor(readonly lines: [string, string][]) {}

  get(name: string): string | null {
    for (const [sent, value] of this.lines) if (sent === name) return value;
    return null;
  }
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
  /** Stops accepting, closes idle connections, and resolves once the busy ones have answered. */
  shutdown(): Promise<void>;
}

/** The longest request head taken; a longer one is answered 431. */
export const MAX_HEAD_BYTES = 64 * 1024;
/**
 * A body with a Content-Length up to this size is read whole before the handler runs: above the
 * largest a node takes at the default value limit (6.1 MiB: 1 MB fully escaped); longer ones stream.
 */
const WHOLE_BODY_BYTES = 8 * 1024 * 1024;
/** Bytes of body buffers a server keeps for reuse: 16 bodies of up to 128 KiB. */
const BODY_BUFFERS_KEPT = 2 * 1024 * 1024;
/** An unread body up to this size is read and dropped to keep the connection; past it, closed. */
const DRAIN_BYTES = 64 * 1024;
/** The same trouble is logged at most once per this many milliseconds. */
const LOG_EVERY_MS = 10_000;

const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * Serves `handler` on `options.hostname:port`. Past `maxConnections` a new connection gets a 503
 * and is closed; an accept that fails (no descriptor left) is logged and retried, never fatal. A
 * request's head must come within `headerTimeoutMs` of its first byte (of the connection, for the
 * first), a kept-alive connection may idle `idleTimeoutMs`, and a body must keep up
 * `minBodyBytesPerSecond`: past any of these the connection is closed. With tracing on
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
  const note = rateLimited(options.log);
  const traced = tracing();
  let closing = false;
  let refusing = 0; // connections past the cap being answered 503
  let cap = options.maxConnections || Infinity; // lowered if the descriptor limit is hit first
  const bodies = new BodyBuffers(BODY_BUFFERS_KEPT);

  class Connection {
    readonly #conn: Deno.Conn;
    readonly #reader: ConnReader;
    idle = true;
    /** Nothing received yet: the first to go when descriptors run out. */
    fresh = true;
    /** When what is awaited must have come (`performance.now()`), or the connection closes. */
    deadline = Infinity;
    #closed = false;

    constructor(conn: Deno.Conn) {
      this.#conn = conn;
      this.#reader = new ConnReader(conn);
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      close(this.#conn);
    }

    async run(): Promise<void> {
      try {
        if (secure) {
          try {
            await this.timed((this.#conn as Deno.TlsConn).handshake(), options.headerTimeoutMs);
          } catch (error) {
            const remote = (this.#conn.remoteAddr as Deno.NetAddr).hostname;
            note.warn("TLS handshake failed", { remote, error: String(error) });
            return;
          }
        }
        for (let first = true; !closing; first = false) {
          if (!await this.#serveOne(first)) return;
        }
      } catch (error) {
        // A client that went away, or was timed out: routine, not worth a line at info.
        if (!(error instanceof ConnectionClosed)) {
          options.log.debug("connection ended", { error: String(error) });
        }
      } finally {
        this.close();
      }
    }

    /** Serves one request; resolves whether the connection stays open for another. */
    async #serveOne(first: boolean): Promise<boolean> {
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
      if (bytes === undefined) {
        await this.#refuse(431, `The request head is larger than ${MAX_HEAD_BYTES} bytes`);
        return false;
      }
      let head: RequestHead;
      try {
        head = parseHead(bytes);
      } catch (error) {
        if (!(error instanceof BadHead)) throw error;
        await this.#refuse(error.status, error.message);
        return false;
      }
      const hostHeader = head.headers.find(([name]) => name === "host")?.[1];
      const url = hostHeader ? `${secure ? "https" : "http"}://${hostHeader}` : origin;
      if (head.body.kind !== "none" && (head.method === "GET" || head.method === "HEAD")) {
        await this.#refuse(400, `A ${head.method} request cannot have a body`);
        return false;
      }
      // A body of a known length is read whole before the handler runs, straight into one buffer
      // at the minimum rate: bytes are far cheaper to hand over than a stream, which made a
      // 100 KB value 25 slices and two copies. Chunked and very long bodies stream as they come.
      const framing = head.body;
      let whole: Uint8Array<ArrayBuffer> | undefined;
      if (
        framing.kind === "length" && framing.length <= WHOLE_BODY_BYTES && !head.expectsContinue
      ) {
        const grace = performance.now() + options.headerTimeoutMs;
        try {
          whole = await this.#reader.body(framing.length, bodies, (read) => {
            this.deadline = grace + read * 1000 / options.minBodyBytesPerSecond;
          });
        } finally {
          this.deadline = Infinity;
        }
      }
      // Not while tracing: the early answer would run outside the request's span.
      if (options.early && !traced && (framing.kind === "none" || whole)) {
        const early = options.early(new Lite(head.method, url + head.target, head.headers, whole));
        if (early !== undefined) {
          let answer: Answer;
          try {
            answer = await early;
          } finally {
            if (whole) bodies.give(whole); // read by now: the answer is made of other bytes
          }
          const keepAlive = head.keepAlive && !closing;
          const headOnly = head.method === "HEAD";
          const wire = answer instanceof Response ? partsOf(answer) : answer;
          await this.#write(
            wire
              ? encodeWire(wire, headOnly, keepAlive)
              : await encodeResponse(answer as Response, headOnly, keepAlive),
          );
          return keepAlive;
        }
      }
      const body = whole ? undefined : new Body(this, this.#reader, head);
      let request: Request;
      try {
        request = new Request(url + head.target, {
          method: head.method,
          headers: head.headers,
          body: whole ?? body?.stream,
        });
      } catch {
        await this.#refuse(400, "The Host header or the request target is not a URL");
        return false;
      } finally {
        if (whole) bodies.give(whole); // a Request copies the bytes it is built with
      }
      const info = { remoteAddr: this.#conn.remoteAddr as Deno.NetAddr };
      const response = traced
        ? await traced(request, head, () => handler(request, info))
        : await answered(() => handler(request, info));
      const keepAlive = head.keepAlive && !closing && (body === undefined || await body.finish());
      await this.#write(await encodeResponse(response, head.method === "HEAD", keepAlive));
      return keepAlive;
    }

    /**
     * Answers `status` with an `{"error"}` body, and the connection closes: after what the client
     * is still sending is read a moment, so that closing does not reset the answer away.
     */
    async #refuse(status: number, error: string): Promise<void> {
      const answer = Response.json({ error }, { status });
      await this.#write(await encodeResponse(answer, false, false));
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

    async #write(bytes: Uint8Array): Promise<void> {
      this.deadline = performance.now() + options.idleTimeoutMs; // a client that reads nothing goes
      try {
        let written = await this.#conn.write(bytes);
        while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
      } finally {
        this.deadline = Infinity;
      }
    }

    /** Writes `100 Continue`, once, for a client that waits for it before its body. */
    async sendContinue(): Promise<void> {
      await this.#write(CONTINUE);
    }

    /** The next request's first byte came: its head must be whole within the head timeout. */
    readonly #started = () => {
      this.idle = false;
      this.fresh = false;
      this.deadline = performance.now() + options.headerTimeoutMs;
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

  /** A request's body, read as the handler asks for it, at no less than the minimum rate. */
  class Body {
    readonly stream: ReadableStream<Uint8Array> | undefined;
    #left: number; // bytes of the body (length) or of the chunk (chunked) still to read
    #done: boolean;
    #read = 0;

    constructor(
      readonly connection: Connection,
      readonly reader: ConnReader,
      readonly head: RequestHead,
    ) {
      const framing = head.body;
      this.#left = framing.kind === "length" ? framing.length : 0;
      this.#done = framing.kind === "none";
      if (this.#done) return;
      const started = performance.now();
      let continued = !head.expectsContinue;
      this.stream = new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          if (!continued) {
            continued = true;
            await connection.sendContinue();
          }
          // By now the body must have come at the minimum rate, after a head timeout's grace.
          const dueMs = options.headerTimeoutMs +
            this.#read * 1000 / options.minBodyBytesPerSecond - (performance.now() - started);
          let chunk: Uint8Array;
          try {
            chunk = await connection.timed(this.#next(), dueMs);
          } catch {
            // The client's fault: a 4xx for the handler to answer (to a closed connection).
            throw new HttpError(408, "The request body did not arrive in time, or was cut short");
          }
          if (chunk.length > 0) controller.enqueue(chunk);
          if (this.#done) controller.close();
        },
      });
    }

    /** The next bytes of the body; empty once it ended. */
    async #next(): Promise<Uint8Array> {
      if (this.head.body.kind === "length") {
        const bytes = await this.reader.some(Math.min(this.#left, DRAIN_BYTES));
        this.#left -= bytes.length;
        this.#read += bytes.length;
        if (this.#left === 0) this.#done = true;
        return bytes;
      }
      if (this.#left === 0) {
        const line = await this.reader.line(1024);
        const size = parseInt(line.split(";")[0].trim(), 16);
        if (!/^[0-9a-fA-F]+$/.test(line.split(";")[0].trim()) || !Number.isSafeInteger(size)) {
          throw new Error("Malformed chunk size");
        }
        if (size === 0) {
          while ((await this.reader.line(MAX_HEAD_BYTES)) !== "") {
            // trailers are read and dropped
          }
          this.#done = true;
          return new Uint8Array(0);
        }
        this.#left = size;
      }
      const bytes = await this.reader.some(Math.min(this.#left, DRAIN_BYTES));
      this.#left -= bytes.length;
      this.#read += bytes.length;
      if (this.#left === 0 && (await this.reader.line(2)) !== "") {
        throw new Error("A chunk does not end with CRLF");
      }
      return bytes;
    }

    /**
     * After the answer: whether the connection can take another request. A body the handler did
     * not read is read and dropped when short; a long one, or a chunked one, closes it.
     */
    async finish(): Promise<boolean> {
      if (this.#done) return true;
      if (this.head.body.kind !== "length" || this.#left > DRAIN_BYTES) return false;
      try {
        while (!this.#done) await this.connection.timed(this.#next(), options.headerTimeoutMs);
        return true;
      } catch {
        return false;
      }
    }
  }

  // One sweep closes the connections past their deadline: cheaper than a timer per request.
  const tick = Math.min(
    250,
    Math.max(10, Math.min(options.headerTimeoutMs, options.idleTimeoutMs) / 10),
  );
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const connection of open) if (connection.deadline <= now) connection.close();
  }, tick);

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing) return;
        if (error instanceof Error && /too many open files/i.test(error.message)) {
          // The descriptor limit, found the hard way: cap below it, keeping room for the calls
          // this service makes, and shed idle connections (opened, nothing sent) to get there.
          cap = Math.max(16, Math.min(cap, open.size - DESCRIPTOR_RESERVE));
          for (const connection of [...open].reverse()) {
            if (open.size <= cap) break;
            if (connection.fresh) connection.close();
          }
          note.warn("descriptor limit reached", { cap, open: open.size });
        } else note.warn("accept failed", { error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (open.size >= cap) {
        note.warn("connection refused: too many open", { max: cap });
        // Answering takes a descriptor a while too: past a few at once, just close.
        if (refusing >= MAX_REFUSING || secure) close(conn);
        else {
          refusing++;
          refuse(conn).finally(() => refusing--);
        }
        continue;
      }
      // Answers go out whole, in one write each: nothing to gain from Nagle's wait.
      if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
      const connection = new Connection(conn);
      open.add(connection);
      connection.run().finally(() => open.delete(connection));
    }
  })();

  return {
    addr,
    get connections() {
      return open.size;
    },
    async shutdown() {
      closing = true;
      listener.close();
      await accepting;
      for (const connection of open) if (connection.idle) connection.close();
      while (open.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      clearInterval(sweeper);
    },
  };
}

/** Descriptors kept free for outgoing calls, files and the runtime once the limit is known. */
const DESCRIPTOR_RESERVE = 64;

/** Connections past the cap answered 503 at once at most; more are closed unanswered. */
const MAX_REFUSING = 16;

const REFUSAL = (() => {
  const body = '{"error":"Too many open connections: try again shortly"}';
  return encoder.encode(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n" +
      `content-length: ${body.length}\r\nconnection: close\r\nretry-after: 1\r\n\r\n${body}`,
  );
})();

/** Answers a plain connection past the cap with a 503, within a second, and closes it. */
async function refuse(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => close(conn), 1000);
  try {
    await conn.write(REFUSAL);
  } catch {
    // the client went already
  } finally {
    clearTimeout(timer);
    close(conn);
  }
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** The bytes of `response` on the wire: status line, headers, and its body unless `headOnly`. */
async function encodeResponse(
  response: Response,
  headOnly: boolean,
  keepAlive: boolean,
): Promise<Uint8Array> {
  const status = response.status;
  const bodiless = status < 200 || status === 204 || status === 304;
  let head = `HTTP/1.1 ${status} ${response.statusText || REASONS[status] || ""}\r\n`;
  let textual = false;
  for (const [name, value] of response.headers) {
    if (name === "content-length" || name === "connection" || name === "transfer-encoding") {
      continue;
    }
    if (name === "content-type") textual = TEXTUAL.test(value);
    head += `${name}: ${value}\r\n`;
  }
  if (!keepAlive) head += "connection: close\r\n";
  if (response.body === null || bodiless) {
    return latin1(head + (bodiless ? "\r\n" : "content-length: 0\r\n\r\n"));
  }
  return framed(head, textual ? await response.text() : await response.bytes(), headOnly);
}

/** The bytes of an answer given as its parts: no Response built, nothing read back. */
function encodeWire(answer: WireAnswer, headOnly: boolean, keepAlive: boolean): Uint8Array {
  const { status, body } = answer;
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  if (answer.contentType) head += `content-type: ${answer.contentType}\r\n`;
  for (const name in answer.headers) head += `${name}: ${answer.headers[name]}\r\n`;
  if (!keepAlive) head += "connection: close\r\n";
  if (status < 200 || status === 204 || status === 304) return latin1(head + "\r\n");
  return framed(head, body, headOnly);
}

/**
 * `head` (status line and headers, without the length) and `body` as one buffer: text with an
 * ASCII head, the common JSON answer, is encoded in one go with no copy to join the two.
 */
function framed(head: string, body: string | Uint8Array, headOnly: boolean): Uint8Array {
  if (typeof body === "string" && ASCII.test(head)) {
    const length = ASCII.test(body) ? body.length : encoder.encode(body).length;
    const whole = `${head}content-length: ${length}\r\n\r\n`;
    return encoder.encode(headOnly ? whole : whole + body);
  }
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const headBytes = latin1(`${head}content-length: ${bytes.length}\r\n\r\n`);
  if (headOnly || bytes.length === 0) return headBytes;
  const whole = new Uint8Array(headBytes.length + bytes.length);
  whole.set(headBytes);
  whole.set(bytes, headBytes.length);
  return whole;
}

/** Content types whose bodies are UTF-8 text. */
const TEXTUAL = /^(application\/(json|x-ndjson|javascript)|text\/)/i;

// deno-lint-ignore no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** A head's bytes: header values are byte strings, one byte per character. */
function latin1(text: string): Uint8Array {
  if (ASCII.test(text)) return encoder.encode(text);
  return Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);
}

/**
 * A wrapper that runs each request in a server span, child of the caller's `traceparent`, when
 * tracing is on; undefined when it is off.
 */
function tracing() {
  const tracer = trace.getTracer("cache-http-server");
  const probe = tracer.startSpan("probe");
  const on = probe.isRecording();
  probe.end();
  if (!on) return undefined;
  return async (
    request: Pick<Request, "url">,
    head: RequestHead,
    run: () => Response | Promise<Response>,
  ): Promise<Response> => {
    const parent = parentContext(head);
    const span: Span = tracer.startSpan(head.method, {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": head.method,
        "url.path": new URL(request.url).pathname,
      },
    }, parent);
    try {
      const response = await context.with(trace.setSpan(parent, span), () => answered(run));
      span.setAttribute("http.response.status_code", response.status);
      return response;
    } finally {
      span.end();
    }
  };
}

/** The handler's answer; one that throws is a 500 `{"error"}`, as a server must still answer. */
async function answered(run: () => Response | Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch {
    return Response.json({ error: "Internal server error" }, { status: 500 });
  }
}

/** The caller's span from its `traceparent` (`00-<trace>-<span>-<flags>`), if it sent one. */
function parentContext(head: RequestHead) {
  const header = head.headers.find(([name]) => name === "traceparent")?.[1];
  const match = header && /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header);
  if (!match) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16),
    isRemote: true,
  });
}

/** Logs a warning at most once per {@link LOG_EVERY_MS} per message, with how many were held back. */
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

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
};
