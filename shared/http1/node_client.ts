// The HTTP/1.1 client for runtimes without Deno.connect (Node): the same Http1Client as client.ts,
// over node:http's keep-alive Agent, which moves more calls under Node than its global fetch
// (bench/transport.ts, docs/client.md).

import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import type { Http1Client, Http1Options } from "./client.ts";
import { checkTarget, exchangeFetch } from "./exchange_fetch.ts";
import { type PeerRequest, type RawAnswer, SentThenRefused } from "./messages.ts";
import { Turns } from "./turns.ts";

/** Where an origin's calls go: its host and port, by plain or TLS connections. */
interface Target {
  hostname: string;
  port: number;
  secure: boolean;
  /** Calls under way to it, each on a connection of its own: at most `maxConnections`. */
  calls: number;
  /** Calls waiting for one of them to end. */
  turns: Turns;
}

/**
 * An {@link Http1Client} over `node:http` and `node:https` with a keep-alive `Agent`: at most
 * `maxConnections` connections to each peer (further calls wait for one), `caPem` trusted for
 * https:// peers. Like {@link http1Client} it reads the whole answer before resolving, settles at
 * once when `signal` aborts (the connection is closed, the call rejects with the signal's reason),
 * sends once more on a fresh connection when a kept-alive one turns out closed, and answers header
 * names in lower case, in the order sent. It makes no tracing spans.
 *
 * @example
 * ```ts
 * import { nodeHttp1Client } from "./node_client.ts";
 * const client = nodeHttp1Client();
 * const answer = await client.exchange("http://127.0.0.1:8081", { path: "/keys/k" });
 * console.log(answer.status);
 * client.close();
 * ```
 */
export function nodeHttp1Client(options: Http1Options = {}): Http1Client {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxConnections ?? 256,
    scheduling: "lifo" as const, // the warmest connection first; the rest may time out idle
  };
  const plain = new http.Agent(agentOptions);
  const tls = new https.Agent({ ...agentOptions, ca: options.caPem });
  const targets = new Map<string, Target>();
  const targetOf = (origin: string): Target => {
    let target = targets.get(origin);
    if (!target) {
      const url = new URL(origin);
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new TypeError(`Cannot call ${url.protocol} URLs`);
      }
      const secure = url.protocol === "https:";
      const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = Number(url.port || (secure ? 443 : 80));
      target = { hostname, port, secure, calls: 0, turns: new Turns() };
      targets.set(origin, target);
    }
    return target;
  };
  // Calls past the limit wait here, not in the Agent: a destroyed Agent still opens sockets for
  // the calls it holds, so close() could not stop them.
  const max = options.maxConnections ?? 256;
  const open = new Set<(error: Error) => void>(); // the calls under way, by what ends them
  let closed = false;
  const sendOnce = async (target: Target, request: PeerRequest): Promise<RawAnswer> => {
    while (!closed && target.calls >= max) await target.turns.wait(request.signal);
    if (closed) throw new Error("The client is closed");
    target.calls++;
    try {
      return await send(target, target.secure ? tls : plain, request, open);
    } finally {
      target.calls--;
      target.turns.next();
    }
  };
  const exchange = async (origin: string, request: PeerRequest): Promise<RawAnswer> => {
    const target = targetOf(origin);
    checkTarget(request.path);
    request.signal?.throwIfAborted();
    try {
      return await sendOnce(target, request);
    } catch (error) {
      // The peer closed a kept-alive connection as it was reused: nothing was answered, so the
      // call goes once more, on a connection of its own.
      if (!(error instanceof ClosedEarly)) throw error;
      // A peer that took the call and died refuses the new connection: the call was not surely
      // never sent.
      return await sendOnce(target, request).catch((again) => {
        if (request.signal?.aborted || closed) throw again;
        throw again?.code === "ECONNREFUSED" ? new SentThenRefused(again) : error;
      });
    }
  };
  return {
    fetch: exchangeFetch(exchange),
    exchange,
    /** Fails the calls under way and those waiting, and every later one; closes the sockets. */
    close() {
      closed = true;
      for (const end of open) end(new Error("The client is closed"));
      for (const target of targets.values()) target.turns.all();
      plain.destroy();
      tls.destroy();
    },
  };
}

/** A reused connection closed before any answer came. */
class ClosedEarly extends Error {
  constructor(cause: unknown) {
    super("The connection closed before an answer", { cause });
    this.name = "ClosedEarly";
  }
}

/** One request and its whole answer; while it is under way, `open` holds what ends it. */
function send(
  target: Target,
  agent: http.Agent,
  request: PeerRequest,
  open: Set<(error: Error) => void>,
): Promise<RawAnswer> {
  const { signal, body } = request;
  const headers: Record<string, string | number> = { ...request.headers };
  if (body !== undefined) {
    headers["content-length"] = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  }
  return new Promise<RawAnswer>((resolve, reject) => {
    let answered = false;
    const end = (error: Error) => {
      done();
      req.destroy();
      reject(error);
    };
    const onAbort = () => end(signal!.reason);
    const done = () => {
      open.delete(end);
      signal?.removeEventListener("abort", onAbort);
    };
    const req = (target.secure ? https : http).request({
      agent,
      host: target.hostname,
      port: target.port,
      method: request.method ?? "GET",
      path: request.path,
      headers,
    }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        done();
        const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: pairs(res.rawHeaders),
          body: new Uint8Array(all.buffer, all.byteOffset, all.byteLength) as Uint8Array<
            ArrayBuffer
          >,
        });
      });
      res.on("close", () => {
        done();
        if (!res.complete) reject(new Error("The connection closed inside an answer"));
      });
    });
    req.on("error", (error: Error & { code?: string }) => {
      done();
      if (signal?.aborted) return reject(signal.reason);
      const reset = error.code === "ECONNRESET" || error.code === "EPIPE";
      reject(req.reusedSocket && !answered && reset ? new ClosedEarly(error) : error);
    });
    open.add(end);
    signal?.addEventListener("abort", onAbort, { once: true });
    req.end(body);
  });
}

/** `rawHeaders` (name, value, name, value…) as [name in lower case, value] pairs. */
function pairs(raw: string[]): [string, string][] {
  const headers: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i].toLowerCase(), raw[i + 1]]);
  return headers;
}
