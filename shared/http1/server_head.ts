// Parses an HTTP/1.1 request head strictly: what two parsers could read two ways is refused.

/** The longest request head taken; a longer one is answered 431. */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * The most header fields a request head may carry, as Apache's default; more is answered 431.
 * 5,400 short ones fit in 64 KiB, and each such request took 50-100 ms of the event loop to build
 * and read, before any token was checked: a flood of them had a node marked down.
 */
export const MAX_HEADER_FIELDS = 100;

/** A parsed request head. */
export interface RequestHead {
  method: string;
  /** The request target as a path with its query: an absolute-form target's, without its host. */
  target: string;
  /** HTTP/1.0 or HTTP/1.1. */
  minor: 0 | 1;
  /** Header names in lower case, in order; repeated names stay repeated. */
  headers: [string, string][];
  /** The body's framing: none, a length, or chunked. */
  body: { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };
  /** Whether the connection stays open after the answer. */
  keepAlive: boolean;
  /** The client waits for `100 Continue` before it sends the body. */
  expectsContinue: boolean;
}

/** A head that cannot be served: answered with `status` and the connection closed. */
export class BadHead extends Error {
  constructor(readonly status: 400 | 404 | 431 | 501 | 505, message: string) {
    super(message);
    this.name = "BadHead";
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A request target: visible ASCII only (anything else must be percent-encoded), and no fragment.
const TARGET = /^[\x21\x22\x24-\x7e]+$/;
// A Host: a name, IPv4 or bracketed IPv6 address, then an optional port of at most 65535 (checked
// apart); nothing of a path, and no percent-encoding, which a URL would decode or refuse.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::([0-9]{1,5}))?$/;
// An absolute-form target: an http or https URL's host and port, then its path and query.
const ABSOLUTE = /^https?:\/\/([^/?]*)(.*)$/i;
const DIGITS = /^[0-9]+$/;
// Fields one request may carry once: read first-only by a service's fast path and joined by a
// `Headers`, a second one would mean one thing to one and another to the other.
const ONCE = new Set([
  "authorization",
  "content-type",
  "x-deadline",
  "x-lease-ms",
  "x-ring-epoch",
  "x-sender-ring",
  "x-version-above",
]);
// Field values: visible ASCII, obs-text, spaces and tabs; no control characters.
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Named latin1, but windows-1252: bytes 0x80-0x9f become characters past U+00FF.
const windows1252 = new TextDecoder("latin1");
const PAST_LATIN1 = /[\u0100-\uffff]/;

/**
 * Whether a request's first byte may be `byte`: a method's first character, or the end of an
 * empty line before it.
 */
export function startsRequest(byte: number): boolean {
  return byte === 13 || byte === 10 || TOKEN.test(String.fromCharCode(byte));
}

/**
 * `bytes` read as ISO-8859-1, one character per byte, as HTTP reads a head: header values then
 * hold obs-text (the UTF-8 of "—" too) as characters a `Headers` takes.
 */
export function latin1(bytes: Uint8Array): string {
  const text = windows1252.decode(bytes); // native, and right for every byte but 0x80-0x9f
  if (!PAST_LATIN1.test(text)) return text;
  let exact = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    exact += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return exact;
}

/**
 * Parses `bytes`, a request head up to (not including) its blank line. Refuses with
 * {@link BadHead}: a malformed request line or header, obsolete line folding, a space before a
 * header's colon, a Content-Length that is not one whole number, Transfer-Encoding other than
 * chunked, or both framings at once: the request-smuggling shapes; and a second Host,
 * Authorization, Content-Type or routing header.
 *
 * @example
 * ```ts
 * import { parseHead } from "./server_head.ts";
 * const head = parseHead(new TextEncoder().encode("GET /keys/a HTTP/1.1\r\nHost: x"));
 * head.target; // "/keys/a"
 * ```
 */
export function parseHead(bytes: Uint8Array): RequestHead {
  const lines = latin1(bytes).split("\r\n");
  if (/[\r\n]/.test(lines[0])) throw new BadHead(400, "Lines must end with CRLF");
  const [method, target, version, ...rest] = lines[0].split(" ");
  if (rest.length > 0 || !method || !target || !version || !TOKEN.test(method)) {
    throw new BadHead(400, "Malformed request line");
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new BadHead(505, `HTTP version ${version.slice(0, 20)} is not supported`);
  }
  if (method === "TRACE" || method === "TRACK" || method === "CONNECT") {
    // Methods a `Request` cannot carry, which no route takes anyway.
    throw new BadHead(501, `Method ${method} is not implemented`);
  }
  if (method !== method.toUpperCase()) {
    // Names are case-sensitive, and `Request` would make "delete" a DELETE (a flush, for /keys)
    // behind a proxy that only stops "DELETE".
    throw new BadHead(501, `Method ${method} is not implemented: method names are case-sensitive`);
  }
  if (!TARGET.test(target)) {
    throw new BadHead(400, "The request target holds spaces, control characters or a fragment");
  }
  // The absolute form, which a server must take too (RFC 9112 3.2.2): its host stands for Host.
  const absolute = target.startsWith("/") ? null : ABSOLUTE.exec(target);
  const path = absolute ? (absolute[2].startsWith("/") ? "" : "/") + absolute[2] : target;
  if (target === "*" && method === "OPTIONS") {
    // The server-wide OPTIONS: no route takes it, and no path would stand for it.
    throw new BadHead(501, "OPTIONS * is not implemented: this server takes no OPTIONS request");
  }
  if (!path.startsWith("/")) {
    throw new BadHead(400, "The request target must be a path or an absolute http URL");
  }
  if (lines.length - 1 > MAX_HEADER_FIELDS) {
    throw new BadHead(431, `A request may carry at most ${MAX_HEADER_FIELDS} header fields`);
  }
  const minor = version === "HTTP/1.1" ? 1 : 0;
  const headers: [string, string][] = [];
  let length: string | undefined; // the first Content-Length value; any other must be the same
  let chunked = false;
  let connection = "";
  let expectsContinue = false;
  let hosts = 0;
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0) throw new BadHead(400, "Malformed header line");
    const name = line.slice(0, colon);
    // No space before the colon, no folded line: parsers disagree on both.
    if (!TOKEN.test(name)) throw new BadHead(400, `Malformed header name "${name.slice(0, 40)}"`);
    const value = withoutOws(line, colon + 1);
    if (!VALUE.test(value)) throw new BadHead(400, `Header ${name} holds control characters`);
    const lower = name.toLowerCase();
    headers.push([lower, value]);
    if (ONCE.has(lower)) {
      if (seen.has(lower)) throw new BadHead(400, `A request may carry one ${name} header only`);
      seen.add(lower);
    }
    if (lower === "host") {
      if (++hosts > 1 || !validHost(value)) throw new BadHead(400, "Malformed Host header");
    } else if (lower === "content-length") {
      // Value by value as they come: a list rebuilt per line cost a 64 KiB head of 1,300 such
      // lines 0.1-0.65 s, and a few connections of them held a node past its lease.
      for (const part of value.split(",")) {
        const each = withoutOws(part);
        if (!DIGITS.test(each) || (length !== undefined && each !== length)) {
          throw new BadHead(400, "Content-Length must be one whole number");
        }
        length ??= each;
      }
    } else if (lower === "transfer-encoding") {
      if (chunked || value.toLowerCase() !== "chunked") {
        throw new BadHead(501, `Transfer-Encoding "${value.slice(0, 40)}" is not supported`);
      }
      chunked = true;
    } else if (lower === "connection") connection += `,${value.toLowerCase()}`;
    // An HTTP/1.0 client knows no 100 Continue: its expectation is ignored (RFC 9110 10.1.1).
    else if (lower === "expect") {
      expectsContinue = minor === 1 && value.toLowerCase() === "100-continue";
    }
  }
  if (minor === 1 && hosts === 0) throw new BadHead(400, "An HTTP/1.1 request needs a Host header");
  if (absolute) {
    if (!validHost(absolute[1])) throw new BadHead(400, "Malformed host in the request target");
    const host = headers.findIndex(([name]) => name === "host");
    if (host >= 0) headers[host] = ["host", absolute[1]];
    else headers.push(["host", absolute[1]]);
  }
  if (chunked && minor === 0) {
    // HTTP/1.0 has no chunked framing: a front end may read this body otherwise (RFC 9112 6.1).
    throw new BadHead(400, "An HTTP/1.0 request cannot have a Transfer-Encoding");
  }
  if (chunked && length !== undefined) {
    throw new BadHead(400, "A request cannot have both Content-Length and Transfer-Encoding");
  }
  const bodyBytes = length !== undefined ? Number(length) : 0;
  if (!Number.isSafeInteger(bodyBytes)) throw new BadHead(400, "Content-Length is too large");
  const tokens = connection.split(",").map((t) => t.trim());
  const keepAlive = minor === 1 ? !tokens.includes("close") : tokens.includes("keep-alive");
  return {
    method,
    target: path,
    minor,
    headers,
    body: chunked
      ? { kind: "chunked" }
      : bodyBytes > 0
      ? { kind: "length", length: bodyBytes }
      : { kind: "none" },
    keepAlive,
    expectsContinue,
  };
}

/** The last Host value found valid: most requests carry the same one. */
let lastHost: string | undefined;

/**
 * Whether `value` is a host and an optional port of at most 65535, that a URL takes: the hot
 * path serves a request without building one, and served `[1:2]` or `999.1.1.1`, which the app
 * refused for no URL.
 */
function validHost(value: string): boolean {
  const host = HOST.exec(value);
  if (host === null || Number(host[1] ?? 0) > 65535) return false;
  if (value === lastHost) return true; // a URL took it: 0.2 us a request spared
  if (!URL.canParse(`http://${value}/`)) return false;
  lastHost = value;
  return true;
}

/**
 * `text` from `from` on, without the optional whitespace around it: spaces and tabs only, never
 * other blanks (JavaScript's `trim()` also takes VT, FF and NBSP, which a value must not hide).
 */
function withoutOws(text: string, from = 0): string {
  let start = from;
  let end = text.length;
  const blank = (at: number) => text.charCodeAt(at) === 32 || text.charCodeAt(at) === 9;
  while (start < end && blank(start)) start++;
  while (end > start && blank(end - 1)) end--;
  return text.slice(start, end);
}
