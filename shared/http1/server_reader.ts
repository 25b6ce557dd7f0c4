// Reads a server connection's bytes: a request head, a body of known length, chunk lines.

import { type BodyBuffers, FIRST_BODY_BYTES } from "./body_buffers.ts";
import { latin1, startsRequest } from "./server_head.ts";

/** The connection closed, or was closed, before what was being read arrived. */
export class ConnectionClosed extends Error {
  constructor() {
    super("The connection closed");
    this.name = "ConnectionClosed";
  }
}

const CRLFCRLF = [13, 10, 13, 10];
const LFLF = [10, 10];
/**
 * A buffered reader over one connection. Reads resolve with bytes or throw
 * {@link ConnectionClosed}; closing the connection (a timeout does) ends a read in progress.
 *
 * @example
 * ```ts
 * import { ConnReader } from "./server_reader.ts";
 * const reader = new ConnReader(conn);
 * const head = await reader.head(65536); // the bytes before the blank line, or undefined: too big
 * ```
 */
export class ConnReader {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(4 * 1024); // grows for a longer head or a pipelined burst
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whether bytes are waiting: a pipelined request, say. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * The head of the next request, up to its blank line (which is consumed), or undefined when it
   * is longer than `max` bytes. `started` is called once its first byte is here.
   */
  async head(max: number, started?: () => void): Promise<Uint8Array | undefined> {
    if (this.#end === this.#start) await this.#fill();
    started?.();
    await this.#skipEmptyLines();
    let searched = this.#start;
    for (;;) {
      const at = indexOf(this.#buffer, CRLFCRLF, searched, this.#end);
      if (at >= 0) {
        if (at - this.#start > max) return undefined;
        const head = this.#buffer.slice(this.#start, at);
        this.#start = at + 4;
        return head;
      }
      if (this.#end - this.#start > max) return undefined;
      // Lines ended by a bare LF never make a CRLFCRLF: the head as it stands, to be refused.
      // From where the last look ended, as above: a head trickled a byte a read was searched
      // whole on every read.
      const bare = indexOf(this.#buffer, LFLF, searched, this.#end);
      if (bare >= 0) {
        const head = this.#buffer.slice(this.#start, bare);
        this.#start = bare + 2;
        return head;
      }
      if (!startsRequest(this.#buffer[this.#start])) {
        // No request starts so (a TLS hello on a plain port does): no use waiting for its end.
        const head = this.#buffer.slice(this.#start, this.#end);
        this.#start = this.#end;
        return head;
      }
      // Kept relative to the start: filling may move the buffered bytes.
      const skip = Math.max(0, this.#end - this.#start - 3);
      await this.#fill();
      searched = this.#start + skip;
    }
  }

  /**
   * Skips empty lines before a request line, as a server should (RFC 9112 2.2): a client may end a
   * body with a line break. The head's time runs meanwhile.
   */
  async #skipEmptyLines(): Promise<void> {
    for (;;) {
      while (this.#end - this.#start >= 2 && this.#buffer[this.#start] === 13) {
        if (this.#buffer[this.#start + 1] !== 10) return;
        this.#start += 2;
      }
      const left = this.#end - this.#start;
      if (left >= 2 || (left === 1 && this.#buffer[this.#start] !== 13)) return;
      await this.#fill(); // nothing left, or a CR whose LF is still to come
    }
  }

  /**
   * A body of exactly `n` bytes, read straight into a buffer of its own (from `buffers`, to be
   * handed back there once answered): no slices to join, and the connection's buffer stays small.
   * The buffer grows as the bytes come (64 KiB first, then twice as much), so a client that
   * announces a large body and sends little makes the server hold little. `waiting` is told the
   * bytes read so far before each read. Returns a view of the `n` bytes.
   */
  async body(
    n: number,
    buffers: BodyBuffers,
    waiting?: (read: number) => void,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const buffered = Math.min(n, this.#end - this.#start);
    let bytes = buffers.take(Math.min(n, Math.max(buffered, FIRST_BODY_BYTES)));
    bytes.set(this.#buffer.subarray(this.#start, this.#start + buffered));
    this.#start += buffered;
    try {
      for (let read = buffered; read < n;) {
        if (read === bytes.length) {
          const bigger = buffers.take(Math.min(n, bytes.length * 2));
          bigger.set(bytes);
          buffers.give(bytes);
          bytes = bigger;
        }
        waiting?.(read);
        let more: number | null;
        try {
          // Never past the body: what follows it is the next request's, read into the buffer.
          more = await this.#conn.read(bytes.subarray(read, n));
        } catch {
          more = null;
        }
        if (more === null || more === 0) throw new ConnectionClosed();
        read += more;
      }
    } catch (error) {
      buffers.give(bytes);
      throw error;
    }
    return bytes.subarray(0, n);
  }

  /** Up to `max` bytes, at least one. */
  async some(max: number): Promise<Uint8Array> {
    if (!(max >= 1)) throw new Error(`Cannot read ${max} bytes`);
    if (this.#end === this.#start) await this.#fill();
    const n = Math.min(max, this.#end - this.#start);
    const bytes = this.#buffer.slice(this.#start, this.#start + n);
    this.#start += n;
    return bytes;
  }

  /**
   * One line ending in CRLF, without it; throws past `max` bytes (however its bytes arrive), or at
   * a bare LF.
   */
  async line(max: number): Promise<string> {
    let searched = this.#start;
    for (;;) {
      const at = this.#buffer.indexOf(10, searched);
      if (at >= 0 && at < this.#end) {
        // As in a head: a line ended by LF alone is refused, not waited past for a CRLF.
        if (at === this.#start || this.#buffer[at - 1] !== 13) {
          throw new Error("a line ends with a bare LF, not CRLF");
        }
        if (at - 1 - this.#start > max) throw new Error("a chunk line is too long");
        const line = latin1(this.#buffer.subarray(this.#start, at - 1));
        this.#start = at + 1;
        return line;
      }
      // Its CR may have come, its LF not yet: a line of `max` bytes is that one byte longer here.
      if (this.#end - this.#start > max + 1) throw new Error("a chunk line is too long");
      const skip = this.#end - this.#start; // no LF in these
      await this.#fill();
      searched = this.#start + skip;
    }
  }

  async #fill(): Promise<void> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buffer.length) {
      const live = this.#end - this.#start;
      const size = live > this.#buffer.length / 2 ? this.#buffer.length * 2 : this.#buffer.length;
      const next = new Uint8Array(size);
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
      this.#start = 0;
      this.#end = live;
    }
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buffer.subarray(this.#end));
    } catch {
      n = null;
    }
    if (n === null || n === 0) throw new ConnectionClosed();
    this.#end += n;
  }
}

function indexOf(bytes: Uint8Array, pattern: number[], from: number, to: number): number {
  const last = to - pattern.length;
  for (
    let i = bytes.indexOf(pattern[0], from);
    i >= 0 && i <= last;
    i = bytes.indexOf(pattern[0], i + 1)
  ) {
    let j = 1;
    while (j < pattern.length && bytes[i + j] === pattern[j]) j++;
    if (j === pattern.length) return i;
  }
  return -1;
}
