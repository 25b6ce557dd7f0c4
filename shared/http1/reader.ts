// Reads HTTP/1.1 responses from a connection: the status line and headers, then a body framed by
// Content-Length, chunked transfer coding, or the end of the connection.

import { concat } from "./body_parts.ts";

const decoder = new TextDecoder();
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 256 * 1024 * 1024;
const INITIAL_BUFFER_BYTES = 16 * 1024;
/** A reader's buffer kept between answers at most; a longer one is let go once read. */
const KEPT_BUFFER_BYTES = 64 * 1024;
// A header line's name and value: no control characters but a tab in the value (a bare CR or LF
// would end the line for another reader; a `Headers` refuses them). Past ASCII, anything: the head
// is read as UTF-8, where obs-text bytes come as U+FFFD.
const HEADER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\uffff]*$/;

/** A buffered reader over a connection. */
export class Reader {
  readonly #conn: { read(buffer: Uint8Array): Promise<number | null> };
  buffer: Uint8Array<ArrayBuffer> = new Uint8Array(INITIAL_BUFFER_BYTES);
  /** Unread bytes are `buffer[start, end)`. */
  start = 0;
  end = 0;

  constructor(conn: { read(buffer: Uint8Array): Promise<number | null> }) {
    this.#conn = conn;
  }

  #filling: Promise<boolean> | undefined;

  /** Bytes read and not taken yet. */
  get unread(): number {
    return this.end - this.start;
  }

  /**
   * Reads more bytes; false at the end of the connection. Calls made while a read is out share it:
   * a read begun on an idle connection (to notice bytes its peer should not send) is the next
   * answer's first.
   */
  fill(): Promise<boolean> {
    this.#filling ??= this.#fill().finally(() => this.#filling = undefined);
    return this.#filling;
  }

  /**
   * Gives back a buffer grown past {@link KEPT_BUFFER_BYTES} by a long answer, once nothing is
   * left unread: a pooled connection kept the memory of the longest answer it ever read.
   */
  shrink(): void {
    if (this.buffer.length <= KEPT_BUFFER_BYTES || this.unread > 0 || this.#filling) return;
    this.buffer = new Uint8Array(INITIAL_BUFFER_BYTES);
    this.start = this.end = 0;
  }

  async #fill(): Promise<boolean> {
    if (this.end === this.buffer.length) {
      if (this.start > 0) {
        this.buffer.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.buffer.length * 2);
        bigger.set(this.buffer);
        this.buffer = bigger;
      }
    }
    const n = await this.#conn.read(this.buffer.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** Takes the next `length` bytes, reading until they are there; throws at an early end. */
  async take(length: number): Promise<Uint8Array<ArrayBuffer>> {
    while (this.end - this.start < length) {
      if (!(await this.fill())) throw new Error("The connection closed inside an answer");
    }
    const bytes = this.buffer.slice(this.start, this.start + length);
    this.start += length;
    return bytes;
  }

  /**
   * Takes an answer's head, up to the empty line that ends it, without that line: read whole
   * before it is parsed, so a head that came in one packet is parsed with no wait per line.
   */
  async head(): Promise<string> {
    return await this.#upTo(BLANK_LINE, "An answer's head is too long");
  }

  /** Takes a line ending in CRLF, without it. */
  async line(): Promise<string> {
    return await this.#upTo(CRLF, "An answer line is too long");
  }

  /** Takes the text before `delimiter` and the delimiter, reading until it comes. */
  async #upTo(delimiter: number[], tooLong: string): Promise<string> {
    // Bytes past `start` already scanned: an offset, since filling may move the unread bytes.
    for (let scanned = 0;;) {
      const at = indexOf(delimiter, this.buffer, this.start + scanned, this.end);
      if (at >= 0) {
        const text = decoder.decode(this.buffer.subarray(this.start, at));
        this.start = at + delimiter.length;
        return text;
      }
      scanned = Math.max(0, this.end - this.start - delimiter.length + 1);
      if (scanned > MAX_HEAD_BYTES) throw new Error(tooLong);
      if (!(await this.fill())) throw new Error("The connection closed inside an answer");
    }
  }
}

/** The status line and headers of an answer, and how its body is framed. */
export interface ResponseHead {
  status: number;
  headers: [string, string][];
  contentLength: number | undefined;
  chunked: boolean;
  /** Whether the connection may carry another request after this answer. */
  keepAlive: boolean;
}

/**
 * Reads an answer's head, skipping interim (1xx) answers. Throws `closedEarly()` when the
 * connection ends or fails before the first byte, so a caller can tell a connection the peer had
 * already closed from one that broke mid-answer.
 */
export async function parseResponseHead(
  reader: Reader,
  closedEarly: () => Error,
): Promise<ResponseHead> {
  for (;;) {
    if (reader.end === reader.start) {
      let more: boolean;
      try {
        more = await reader.fill();
      } catch {
        throw closedEarly();
      }
      if (!more) throw closedEarly();
    }
    let head: ResponseHead;
    try {
      head = await readHead(reader);
    } catch (error) {
      // A TLS record (an alert, say) where the head was to begin: the peer speaks TLS.
      const tls = reader.end - reader.start >= 2 && reader.buffer[reader.start + 1] === 0x03;
      const type = reader.buffer[reader.start];
      if (tls && (type === 0x15 || type === 0x16)) {
        throw new Error("The peer answered in TLS: call it at https://, not http://");
      }
      throw error;
    }
    if (head.status >= 200) return head;
    // Nothing is asked to switch protocols: a 101 would hand the connection to another one.
    if (head.status === 101) throw new Error("The peer switched protocols unasked");
  }
}

async function readHead(reader: Reader): Promise<ResponseHead> {
  const text = await reader.head();
  const lines = text.split("\r\n");
  const statusLine = lines[0];
  const match = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |$)/.exec(statusLine);
  if (!match) throw new Error(`Not an HTTP/1 answer: ${JSON.stringify(statusLine.slice(0, 40))}`);
  const headers: [string, string][] = [];
  let contentLength: number | undefined;
  let chunked = false;
  let keepAlive = match[1] === "1";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0 || !HEADER_LINE.test(line)) {
      throw new Error(`A malformed header line: ${JSON.stringify(line.slice(0, 40))}`);
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.push([name, value]);
    if (name === "content-length") {
      // Values that disagree frame the answer two ways: which bytes are the next answer's?
      for (const part of value.split(",")) {
        const length = part.trim();
        if (!/^\d+$/.test(length) || (contentLength ?? Number(length)) !== Number(length)) {
          throw new Error(`A bad content-length: ${value.slice(0, 40)}`);
        }
        contentLength = Number(length);
      }
    } else if (name === "transfer-encoding") {
      chunked = value.toLowerCase().split(",").map((s) => s.trim()).includes("chunked");
    } else if (name === "connection") {
      const tokens = value.toLowerCase().split(",").map((s) => s.trim());
      if (tokens.includes("close")) keepAlive = false;
      else if (tokens.includes("keep-alive")) keepAlive = true;
    }
  }
  return { status: Number(match[2]), headers, contentLength, chunked, keepAlive };
}

/**
 * Whether an answer with `status` has no body, whatever its headers say (1xx, 204, 205 and 304, RFC
 * 9110): none is read, and a `Response` takes none.
 *
 * @example
 * ```ts
 * import { bodiless } from "./reader.ts";
 * bodiless(205); // true
 * ```
 */
export function bodiless(status: number): boolean {
  return status < 200 || status === 204 || status === 205 || status === 304;
}

/** Reads the body `head` frames; an answer without framing ends with the connection. */
export async function readBody(
  reader: Reader,
  head: ResponseHead,
): Promise<Uint8Array<ArrayBuffer>> {
  if (bodiless(head.status)) return new Uint8Array(0);
  if (head.chunked) return await readChunks(reader);
  if (head.contentLength !== undefined) {
    if (head.contentLength > MAX_BODY_BYTES) throw new Error("An answer's body is too large");
    return await reader.take(head.contentLength);
  }
  head.keepAlive = false;
  while (await reader.fill()) {
    if (reader.end - reader.start > MAX_BODY_BYTES) {
      throw new Error("An answer's body is too large");
    }
  }
  return await reader.take(reader.end - reader.start);
}

async function readChunks(reader: Reader): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    const sizeLine = await reader.line();
    const size = parseInt(sizeLine.split(";")[0].trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error(`A bad chunk size: ${sizeLine}`);
    if (size === 0) break;
    total += size;
    if (total > MAX_BODY_BYTES) throw new Error("An answer's body is too large");
    parts.push(await reader.take(size));
    if (await reader.line() !== "") throw new Error("A chunk does not end with CRLF");
  }
  while (await reader.line() !== "") {
    // trailers: ignored
  }
  return concat(parts);
}

const CRLF = [13, 10];
const BLANK_LINE = [13, 10, 13, 10];

/** Where `delimiter` starts in `buffer[from, end)`, or -1. */
function indexOf(delimiter: number[], buffer: Uint8Array, from: number, end: number): number {
  next: for (let i = from; i + delimiter.length <= end; i++) {
    for (let j = 0; j < delimiter.length; j++) if (buffer[i + j] !== delimiter[j]) continue next;
    return i;
  }
  return -1;
}
