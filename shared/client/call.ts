// One call from the client to a master or a node: deadline, token, and the server's refusal as a
// CacheError.

import { deadline, untilAborted } from "@cache/http1/deadline";
import { type Http1Client, http1Client } from "@cache/http1/client";
import { connectionRefused, headerOf, SentThenRefused } from "@cache/http1/messages";
import { NODE_TIME_HEADER, type NodeClocks } from "@cache/protocol/node_clocks";
import { EPOCH_HEADER, Key, MAX_KEY_BYTES, utf8Bytes } from "@cache/protocol/wire";
import { keySegment } from "@cache/protocol/key_path";
import { describeIssues } from "@cache/protocol/errors";
import type { ZodType } from "zod";

/**
 * The path of `key`'s resource, `/keys/{key}` then `rest`. A key no URL can carry (a lone
 * surrogate; empty, "." or "..", which a URL takes for path steps, so that the call would reach
 * another route) is refused with the servers' 400 and message, before any call.
 *
 * @example
 * ```ts
 * import { keyPath } from "./call.ts";
 * keyPath("user:42", "/incr"); // "/keys/user:42/incr"
 * keyPath("\ud800"); // throws CacheError 400
 * keyPath(".."); // throws CacheError 400
 * ```
 */
export function keyPath(key: string, rest = ""): string {
  checkKey(key);
  return `/keys/${keySegment(key)}${rest}`;
}

/**
 * Throws the servers' CacheError 400 for a key no node takes: not a string, empty, "." or "..",
 * over {@link MAX_KEY_BYTES} UTF-8 bytes, or holding a lone surrogate; named as the body `field`
 * it travels in, when it does, as a node names it. Cheap for the keys nodes take: the schema is
 * read only for one that fails a quick check.
 *
 * @example
 * ```ts
 * import { checkKey } from "./call.ts";
 * checkKey("user:42"); // fine
 * checkKey("k".repeat(1025)); // throws CacheError 400: Key is longer than 1024 UTF-8 bytes
 * checkKey("", "key"); // throws CacheError 400: key: Key must not be empty
 * ```
 */
export function checkKey(key: string, field?: string): void {
  if (typeof key !== "string") {
    throw new CacheError(400, `${field ? `${field}: ` : ""}Key must be a string`);
  }
  const suspect = key === "" || key === "." || key === ".." || !key.isWellFormed() ||
    (key.length * 3 > MAX_KEY_BYTES && utf8Bytes(key) > MAX_KEY_BYTES);
  if (!suspect) return;
  const checked = Key.safeParse(key);
  if (checked.success) return;
  // As a node words it: a body's field with every issue, a path's key with its first.
  const message = field ? describeIssues(checked.error, [field]) : checked.error.issues[0].message;
  throw new CacheError(400, message);
}

/** A call the cluster refused or could not answer: `status` and the server's message. */
export class CacheError extends Error {
  /** The HTTP status, or 0 when no server answered. */
  readonly status: number;
  /**
   * The fields of the server's error body besides `error`: for a write a primary stored but some
   * backup did not take, `unreplicated`, the keys that backup missed.
   */
  readonly details: Record<string, unknown>;

  constructor(status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "CacheError";
    this.status = status;
    this.details = details;
  }
}

/**
 * A 502 this client made of an answer it cannot read (not JSON, not the document it asked for):
 * the cluster, or something in its place, answered, but with no status of this error's own.
 *
 * @example
 * ```ts
 * import { CacheError, UnreadableAnswer } from "./call.ts";
 * const error = new UnreadableAnswer("http://m:1 answered 200 with a body that is not JSON");
 * error instanceof CacheError && error.status === 502; // true
 * ```
 */
export class UnreadableAnswer extends CacheError {
  constructor(message: string) {
    super(502, message);
  }
}

/**
 * `body`, the answer of `what`, read by `schema`; throws CacheError 502 when it is not that
 * document (a server of another kind, or a proxy's page), as for a server's own failure.
 *
 * @example
 * ```ts
 * import { expected } from "./call.ts";
 * import { Counter } from "@cache/protocol/wire";
 * expected(Counter, { key: "k", value: 1, version: "7.1" }, "POST /keys/k/incr"); // the counter
 * ```
 */
export function expected<T>(schema: ZodType<T>, body: unknown, what: string): T {
  const read = schema.safeParse(body);
  if (read.success) return read.data;
  const issue = read.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
  throw new UnreadableAnswer(
    `${what} answered an unexpected document${where}: ${issue?.message ?? "not the schema"}`,
  );
}

/**
 * Whether a call to `path` with `init` only reads: a GET, or a batch read (a POST to `/mget`). A
 * read applies nothing, so it needs no deadline and may go to another server after any failure.
 */
export function isRead(path: string, init: CallInit): boolean {
  return (init.method ?? "GET") === "GET" || path === "/mget";
}

/**
 * Nothing listened at the address, or a call before it failed: the request was never sent.
 * `cause` is that call's error, if one failed.
 */
export class Refused extends CacheError {
  constructor(message: string, cause?: unknown) {
    super(0, message);
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * No answer from `url` within the client's timeout (status 0): the request may have reached it,
 * and a write may have been applied.
 */
export class TimedOut extends CacheError {
  /** The server that did not answer. */
  readonly url: string;
  /** How long the call waited. */
  readonly timeoutMs: number;
  /** Whether the call was a write, which may or may not have been applied. */
  readonly write: boolean;
  /** The message past the URL: "did not answer within N ms", and for a write what that means. */
  readonly late: string;

  constructor(url: string, timeoutMs: number, write: boolean) {
    const late = `did not answer within ${timeoutMs} ms` +
      (write ? ": the write may or may not have been applied" : "");
    super(0, `${url} ${late}`);
    this.url = url;
    this.timeoutMs = timeoutMs;
    this.write = write;
    this.late = late;
  }
}

/** A node knows a newer ring than the one the request was routed by. */
export class StaleRing extends CacheError {
  /** What the node answered, in its newer ring: a 2xx stored what it was sent. */
  readonly answered: number;
  /** The body of that answer, parsed. */
  readonly body: unknown;

  constructor(answered = 421, body?: unknown) {
    super(421, "The ring changed");
    this.answered = answered;
    this.body = body;
  }

  /** Whether the node applied the call before it answered from its newer ring. */
  get applied(): boolean {
    return this.answered >= 200 && this.answered < 300;
  }

  /** The node's own answer, for a call not sent again: its status and error, not a 421. */
  asAnswered(): CacheError {
    const body = this.body as { error?: unknown } | undefined;
    const message = typeof body?.error === "string" ? body.error : this.message;
    return new CacheError(this.answered, message, detailsOf(body));
  }
}

/** A failure that a newer ring may route around: a redirect, or a node unreached or failing. */
export function retries(error: unknown): boolean {
  return error instanceof CacheError &&
    (error.status === 421 || error.status === 0 || error.status >= 502);
}

/**
 * Whether a write that failed with `error` may have been applied all the same: no answer to it (a
 * reset or a timeout, not a refused connection), or a 502 or 504 (but a master's 502 saying the
 * node refused the connection: `sent: false`). A 421 or 503 refused it.
 */
export function mayHaveApplied(error: unknown): boolean {
  if (!(error instanceof CacheError) || error instanceof Refused) return false;
  if (error.details.sent === false) return false; // a master that was refused by the node
  // A failure answered with a newer ring is a StaleRing (421): what the node answered counts.
  const status = error instanceof StaleRing ? error.answered : error.status;
  return status === 0 || status === 502 || status === 504;
}

/** No server answered: refused, reset or timed out. */
export function unreached(error: unknown): boolean {
  return error instanceof CacheError && error.status === 0;
}

/**
 * Whether the key a call was about was stored: true once `call` succeeds, false for its 404. Any
 * other failure rejects as it did.
 *
 * @example
 * ```ts
 * import { found } from "./call.ts";
 * await found(caller.call("http://127.0.0.1:8080", "/keys/k", { method: "DELETE" })); // false
 * ```
 */
export async function found(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (error) {
    if (error instanceof CacheError && error.status === 404) return false;
    throw error;
  }
}

/** What a call sends: its method, headers and body. */
export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** An answer as the caller reads it. */
interface Answer {
  status: number;
  epoch: string | null;
  /** The answering node's clock (`NODE_TIME_HEADER`), if it sent it. */
  nodeTime: string | null;
  text: string;
}

const decoder = new TextDecoder();

/**
 * How the client calls: a stand-in fetch for tests, or the HTTP/1.1 client to call with (by
 * default Deno's, {@link http1Client}); a bearer token; a deadline per call.
 */
export interface CallerOptions {
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  transport?: () => Http1Client;
  token?: string;
  timeoutMs: number;
  /** Learns each node's clock from its answers, when given. */
  clocks?: NodeClocks;
}

/**
 * Makes the client's HTTP calls over pooled keep-alive connections (or `fetch`), each under its
 * deadline, and turns every failure into a {@link CacheError}.
 *
 * @example
 * ```ts
 * import { Caller } from "./call.ts";
 * const caller = new Caller({ timeoutMs: 2000 });
 * const ring = await caller.call("http://127.0.0.1:8080", "/ring", {});
 * caller.close();
 * ```
 */
export class Caller {
  readonly #options: CallerOptions;
  // Without a stand-in fetch: pooled connections, called with no Fetch API objects per call.
  readonly #http: Http1Client | undefined;

  constructor(options: CallerOptions) {
    this.#options = options;
    if (!options.fetch) this.#http = (options.transport ?? http1Client)();
  }

  /**
   * Calls `path` on `base`; resolves to the parsed body, or throws CacheError with the server's
   * message ({@link Refused} when nothing listened). With `routedBy`, the epoch of the ring the
   * call was routed by, an answer from a newer ring throws {@link StaleRing}, even when the client
   * has caught up with that ring meanwhile.
   */
  async call(
    base: string,
    path: string,
    init: CallInit,
    signal?: AbortSignal,
    routedBy?: number,
  ): Promise<unknown> {
    const { token, timeoutMs } = this.#options;
    const headers = token ? { ...init.headers, authorization: `Bearer ${token}` } : init.headers;
    const limit = deadline(timeoutMs, `no answer within ${timeoutMs} ms`);
    const clocks = this.#options.clocks;
    const sentAt = clocks?.now() ?? 0;
    let answer: Answer;
    try {
      const both = signal ? AbortSignal.any([signal, limit.signal]) : limit.signal;
      answer = await this.#send(base, path, { ...init, headers }, both);
      clocks?.observe(base, answer.nodeTime, sentAt, clocks.now());
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const reason = error instanceof Error ? error.message : String(error);
      // A write the peer may have taken before it died is not "never sent": it must not go on
      // to the next master. A read may, whatever became of it (a batch read is a POST).
      const read = isRead(path, init);
      const maybeTaken = error instanceof SentThenRefused && !read;
      if (connectionRefused(error) && !maybeTaken) {
        throw new Refused(`${base} could not be reached: ${reason}`);
      }
      // Out of time, the request may have reached the server, and a write may have been applied.
      if (limit.signal.aborted) throw new TimedOut(base, timeoutMs, !read);
      throw new CacheError(0, `${base} could not be reached: ${reason}`);
    } finally {
      limit.clear();
    }
    // Aborted while the answer was on its way: the caller gave up, so the call rejects, as a
    // fetch aborted before its answer is read does.
    signal?.throwIfAborted();
    const { status, text } = answer;
    // Not this service's answer (a proxy's page, say) is 502 whatever its status: a 404 must say
    // the key is not stored in the service's own error document to be read so.
    let body: { error?: unknown } | undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new UnreadableAnswer(`${base} answered ${status} with a body that is not JSON`);
    }
    if (routedBy !== undefined && Number(answer.epoch) > routedBy) {
      throw new StaleRing(status, body);
    }
    if (status < 200 || status >= 300) {
      if (typeof body?.error !== "string") {
        throw new UnreadableAnswer(`${base} answered ${status} with no error document`);
      }
      throw new CacheError(status, body.error, detailsOf(body));
    }
    return body;
  }

  /** Sends the call and reads the whole answer, under `signal`. */
  async #send(
    base: string,
    path: string,
    init: CallInit,
    signal: AbortSignal,
  ): Promise<Answer> {
    if (this.#http) {
      const answer = await this.#http.exchange(base, { ...init, path, signal });
      const text = decoder.decode(answer.body);
      return {
        status: answer.status,
        epoch: headerOf(answer, EPOCH_HEADER),
        nodeTime: headerOf(answer, NODE_TIME_HEADER),
        text,
      };
    }
    return await untilAborted(
      textOf(this.#options.fetch!(base + path, { ...init, signal })),
      signal,
    );
  }

  /** Releases the pooled connections. */
  close(): void {
    this.#http?.close();
  }
}

/** The fields of an error body besides `error`; none unless it is a JSON object. */
function detailsOf(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return {};
  const { error: _message, ...details } = body as Record<string, unknown>;
  return details;
}

/** A stand-in fetch's whole answer. */
async function textOf(call: Promise<Response>): Promise<Answer> {
  const answer = await call;
  const text = await answer.text();
  const { headers } = answer;
  return {
    status: answer.status,
    epoch: headers.get(EPOCH_HEADER),
    nodeTime: headers.get(NODE_TIME_HEADER),
    text,
  };
}
