// A request body the services' own server streams to its handler as it arrives, at no less than
// the minimum rate, and what is left of it read or given up once the request is answered.

import { HttpError } from "@cache/protocol/errors";
import type { ConnReader } from "./server_reader.ts";
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
    const { headerTimeoutMs } = this.connection.server.options;
    try {
      while (!this.#done) await this.connection.timed(this.#next(), headerTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }
}
