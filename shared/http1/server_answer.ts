// Writes the services' own server's answers as bytes on the wire: a Response, or an answer given
// as its parts, with its status line, headers and length.

import { HttpError } from "@cache/protocol/errors";
import type { WireAnswer } from "./answer.ts";

const encoder = new TextEncoder();

/**
 * The bytes of `response` on the wire: status line, headers, and its body unless `headOnly`; a
 * connection not `keepAlive` is said to close, one kept alive for an `http10` client to persist.
 *
 * @example
 * ```ts
 * import { encodeResponse } from "./server_answer.ts";
 * const bytes = await encodeResponse(new Response("ok"), false, true);
 * new TextDecoder().decode(bytes); // "HTTP/1.1 200 OK\r\ncontent-type: …\r\n\r\nok"
 * ```
 */
export async function encodeResponse(
  response: Response,
  headOnly: boolean,
  keepAlive: boolean,
  http10 = false,
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
  head += connection(keepAlive, http10);
  if (response.body === null || bodiless) {
    return latin1(head + (bodiless ? "\r\n" : "content-length: 0\r\n\r\n"));
  }
  return framed(head, textual ? await response.text() : await response.bytes(), headOnly);
}

/**
 * The bytes of an answer given as its parts: no Response built, nothing read back.
 *
 * @example
 * ```ts
 * import { encodeWire } from "./server_answer.ts";
 * const bytes = encodeWire({ status: 200, contentType: "text/plain", body: "ok" }, false, true);
 * new TextDecoder().decode(bytes);
 * // "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
 * ```
 */
export function encodeWire(
  answer: WireAnswer,
  headOnly: boolean,
  keepAlive: boolean,
  http10 = false,
): Uint8Array {
  const { status, body } = answer;
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  if (answer.contentType) head += `content-type: ${answer.contentType}\r\n`;
  for (const name in answer.headers) head += `${name}: ${answer.headers[name]}\r\n`;
  head += connection(keepAlive, http10);
  if (status < 200 || status === 204 || status === 304) return latin1(head + "\r\n");
  return framed(head, body, headOnly);
}

/**
 * The Connection field of an answer: `close` for a connection closed after it; for one kept
 * alive, none in HTTP/1.1 (persistent by default) and `keep-alive` in HTTP/1.0, whose clients
 * take a connection to close unless told otherwise.
 */
function connection(keepAlive: boolean, http10: boolean): string {
  if (!keepAlive) return "connection: close\r\n";
  return http10 ? "connection: keep-alive\r\n" : "";
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
 * The handler's answer; one that throws is a 500 `{"error"}`, as a server must still answer.
 *
 * @example
 * ```ts
 * import { answered } from "./server_answer.ts";
 * (await answered(() => { throw new Error("bug"); })).status; // 500
 * ```
 */
export async function answered(run: () => Response | Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (error) {
    // A body the client framed wrongly or sent too slowly fails the handler's read with its 4xx.
    if (error instanceof HttpError && error.status < 500) {
      return Response.json({ error: error.message }, { status: error.status });
    }
    return Response.json({ error: "Internal server error" }, { status: 500 });
  }
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
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
