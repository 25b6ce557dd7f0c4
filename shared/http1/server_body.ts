// A request body the services' own server streams to its handler as it arrives, at no less than
// the minimum rate, and what is left of it read or given up once the request is answered.

import { HttpError } from "@cache/protocol/errors";
import { ConnectionClosed, type ConnReader } from "./server_reader.ts";
import { MAX_HEAD_BYTES, type RequestHead } from "./server_head.ts";
import type { Connection } from "./server_connection.ts";

/** An unread body up to this size is read and dropped to keep the connection; past it, closed. */
const DRAIN_BYTES = 64 * 1024;

/**
 * A request's body, read as the handler asks for it, at no less than the minimum rate.
 *
 * @example
 * ```ts
 * import { Body } from "./server_body.ts";
 * const body = new Body(connection, reader, head);
 * const request = new Request(url, { method: head.method, body: body.stream });
 * const keepAlive = await body.finish(); // once answered
 * ```
 */
export class Body {
  readonly stream: ReadableStream<Uint8Array> | undefined;
  #left: number; // bytes of the body (length) or of the chunk (chunked) still to read
  #done: boolean;
  #read = 0;
  #continued = true; // no 100 Continue awaited, or it was sent
  // The read in flight: one at a time, the handler's or finish()'s, never two on the connection.
  #reading: Promise<Uint8Array> | undefined;

  constructor(
    readonly connection: Connection,
    readonly reader: ConnReader,
    readonly head: RequestHead,
  ) {
    const framing = head.body;
    this.#left = framing.kind === "length" ? framing.length : 0;
    this.#done = framing.kind === "none";
    if (this.#done) return;
    const { options } = connection.server;
    const started = performance.now();
    this.#continued = !head.expectsContinue;
    // Pulled only as the handler reads (no high-water mark): a body it never asks for is not read.
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!this.#continued) {
          this.#continued = true;
          await connection.sendContinue();
        }
        // By now the body must have come at the minimum rate, after a head timeout's grace; and
        // bytes that came fast buy no more than a head timeout of silence.
        const dueMs = Math.min(
          options.headerTimeoutMs,
          options.headerTimeoutMs +
            this.#read * 1000 / options.minBodyBytesPerSecond - (performance.now() - started),
        );
        let chunk: Uint8Array;
        try {
          chunk = await connection.timed(this.#nextOnce(), dueMs);
        } catch (error) {
          // The client's fault: a 4xx for the handler to answer (to a closed connection). A
          // timeout closes the connection, so it too ends the read as closed.
          if (error instanceof ConnectionClosed) {
            throw new HttpError(408, "The request body did not arrive in time, or was cut short");
          }
          throw new HttpError(400, `Malformed chunked body: ${(error as Error).message}`);
        }
        if (chunk.length > 0) controller.enqueue(chunk);
        if (this.#done) controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /** The next bytes of the body, once the read before has ended. */
  #nextOnce(): Promise<Uint8Array> {
    if (this.#reading) throw new Error("A body read is in flight");
    const reading = this.#next();
    this.#reading = reading;
    return reading.finally(() => this.#reading = undefined);
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
      const digits = CHUNK_LINE.exec(line)?.[1];
      const size = digits === undefined ? NaN : parseInt(digits, 16);
      if (!Number.isSafeInteger(size)) throw new Error("a chunk size line is malformed");
      if (size === 0) {
        // Trailers are dropped, but checked as a head's fields are: a lenient reading here is
        // where a request after the body could be taken for trailers, or the other way round.
        let bytes = 0;
        for (let line; (line = await this.reader.line(MAX_HEAD_BYTES)) !== "";) {
          bytes += line.length + 2;
          if (!TRAILER.test(line)) throw new Error("a trailer line is malformed");
          if (bytes > MAX_HEAD_BYTES) throw new Error(`trailers pass ${MAX_HEAD_BYTES} bytes`);
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
      throw new Error("a chunk does not end with CRLF");
    }
    return bytes;
  }

  /**
   * After the answer: whether the connection can take another request. A body the handler did
   * not read is read and dropped when short; a long one, or a chunked one, closes it.
   */
  async finish(): Promise<boolean> {
    // A read the handler left in flight ends first: two reads would tear the bytes apart.
    if (this.#reading && !await this.#reading.then(() => true, () => false)) return false;
    if (this.#done) return true;
    // A client waiting for 100 Continue may never send the body: answered, it is not awaited.
    if (!this.#continued) return false;
    if (this.head.body.kind !== "length" || this.#left > DRAIN_BYTES) return false;
    const { headerTimeoutMs } = this.connection.server.options;
    try {
      while (!this.#done) await this.connection.timed(this.#nextOnce(), headerTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }
}

/** A trailer field: a name, a colon, and a value of visible characters, spaces and tabs. */
const TRAILER = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/;

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED =
  '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const EXTENSION = `[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?`;
/**
 * A chunk-size line: hex digits, then extensions as RFC 9112 writes them (`;name`, `;name=token`
 * or `;name="quoted"`): one with an open quote was taken, which another parser may read as more.
 */
const CHUNK_LINE = new RegExp(`^([0-9a-fA-F]+)(?:${EXTENSION})*$`);
