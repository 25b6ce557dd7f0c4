// A small HTTP/1.1 client with keep-alive connections over Deno.connect, for the calls services
// make to each other: through exchange(), which builds no Fetch API objects, it spends 0.42-0.60x
// the CPU per call of the global fetch and moves 1.7-2.4x the calls (bench/hop.ts,
// docs/performance.md); a proxying master is bound by that.

import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { checkTarget, exchangeFetch } from "./exchange_fetch.ts";
import type { Fetch, PeerRequest, RawAnswer } from "./messages.ts";
import { Pool } from "./pool.ts";
import { utf8Bytes } from "@cache/protocol/wire";

export { bodiless } from "./reader.ts";

/** Pool size, and the CA to trust for https:// peers. */
export interface Http1Options {
  /** Most connections open to one peer; further calls wait for one. Default 256. */
  maxConnections?: number;
  /** PEM certificate authority that https:// peers' certificates are signed by. */
  caPem?: string;
}

const encoder = new TextEncoder();
const tracer = trace.getTracer("cache-http1");

/**
 * Returns a {@link Fetch} that speaks HTTP/1.1 over pooled keep-alive connections. It takes string
 * or byte bodies, reads the whole answer before resolving, and settles at once when `init.signal`
 * aborts (the connection is closed and the call rejects with the signal's reason, a `TimeoutError`
 * for `AbortSignal.timeout`), even when the peer is stopped and never answers. A connection the
 * peer closed while idle is replaced once, transparently. With tracing on, each call is a client
 * span whose context travels in a `traceparent` header.
 *
 * @example
 * ```ts
 * import { http1Fetch } from "./client.ts";
 * const call = http1Fetch();
 * const answer = await call("http://127.0.0.1:8081/live", { signal: AbortSignal.timeout(1000) });
 * ```
 */
export function http1Fetch(options: Http1Options = {}): Fetch {
  return http1Client(options).fetch;
}

/** A {@link http1Fetch}, the same call without its objects, and a way to close every connection. */
export interface Http1Client {
  fetch: Fetch;
  /**
   * Calls `origin` (scheme, host and port, as "http://127.0.0.1:8081") like `fetch`, with no URL,
   * Headers or Response made per call: the hop a proxying master makes for every request.
   */
  exchange(origin: string, request: PeerRequest): Promise<RawAnswer>;
  /** Closes every connection, idle or busy; calls in flight reject. */
  close(): void;
}

/**
 * Like {@link http1Fetch}, with `exchange()` for hot paths and `close()` for callers that must not
 * leave connections open, such as a client library whose user closes it.
 *
 * @example
 * ```ts
 * import { http1Client } from "./client.ts";
 * const client = http1Client();
 * await client.fetch("http://127.0.0.1:8081/live");
 * const answer = await client.exchange("http://127.0.0.1:8081", { path: "/keys/k" });
 * console.log(answer.status);
 * client.close();
 * ```
 */
export function http1Client(options: Http1Options = {}): Http1Client {
  const pools = new Map<string, Pool>();
  let closed = false;
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (!pool) {
      if (closed) throw new Error("The client is closed");
      const url = new URL(origin);
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new TypeError(`Cannot call ${url.protocol} URLs`);
      }
      pool = new Pool(url, options.maxConnections ?? 256, options.caPem);
      pools.set(origin, pool);
    }
    return pool;
  };
  const exchange = async (origin: string, request: PeerRequest): Promise<RawAnswer> => {
    const pool = poolFor(origin);
    const method = request.method ?? "GET";
    const parent = trace.getActiveSpan();
    const span = parent
      ? tracer.startSpan(method, {
        kind: SpanKind.CLIENT,
        attributes: { "http.request.method": method, "url.full": origin + request.path },
      })
      : undefined;
    try {
      const head = encodeHead(method, request.path, pool.host, request.headers, span);
      const answer = await pool.call(encodeRequest(head, request.body), request.signal);
      span?.setAttribute("http.response.status_code", answer.status);
      if (answer.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
      return answer;
    } catch (error) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span?.end();
    }
  };
  const fetch = exchangeFetch(exchange);
  return {
    fetch,
    exchange,
    close() {
      closed = true;
      for (const pool of pools.values()) pool.close();
    },
  };
}

function encodeHead(
  method: string,
  target: string,
  host: string,
  headers: Record<string, string> | undefined,
  span?: Span,
): string {
  checkTarget(target);
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in headers) head += header(name, headers[name]);
  if (span) {
    const { traceId, spanId, traceFlags } = span.spanContext();
    head += header("traceparent", `00-${traceId}-${spanId}-0${traceFlags & 1}`);
  }
  return head;
}

function header(name: string, value: string): string {
  if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
    throw new TypeError(`Header ${JSON.stringify(name)} has a line break`);
  }
  return `${name}: ${value}\r\n`;
}

// A character past 7 bits: without one, a string has as many UTF-8 bytes as UTF-16 units.
const NON_ASCII = /[\u0080-\uffff]/;
/** String bodies up to this many characters are joined to their head and encoded in one go. */
const SHORT_BODY = 4096;

/** A request's bytes: one buffer, or the head then a long body of bytes as given (no copy). */
function encodeRequest(
  head: string,
  body: string | Uint8Array | undefined,
): Uint8Array | Uint8Array[] {
  if (body === undefined) return encoder.encode(head + "\r\n");
  if (typeof body === "string" && body.length <= SHORT_BODY && !NON_ASCII.test(body)) {
    return encoder.encode(`${head}content-length: ${body.length}\r\n\r\n${body}`); // 1.5 us
  }
  if (typeof body === "string") {
    // Measured, then encoded once into the request's own buffer: no joined string to flatten and
    // no copy of the body's bytes, each garbage of its size; 27-41 us for 100 KB against 66-69.
    const length = utf8Bytes(body);
    const start = encoder.encode(`${head}content-length: ${length}\r\n\r\n`);
    const all = new Uint8Array(start.length + length);
    all.set(start);
    encoder.encodeInto(body, all.subarray(start.length));
    return all;
  }
  const start = encoder.encode(`${head}content-length: ${body.length}\r\n\r\n`);
  if (body.length > SHORT_BODY) return [start, body]; // two writes, and no copy of a long body
  const all = new Uint8Array(start.length + body.length);
  all.set(start);
  all.set(body, start.length);
  return all;
}
