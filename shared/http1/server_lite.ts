// A request as an early answer reads it: its method, URL, header lines as sent and whole body,
// with no Request or Headers built.

/** A request as an early answer reads it: its method, URL, headers and whole body. */
export interface LiteRequest {
  method: string;
  url: string;
  /** The request's headers: `get()` takes a lower-case name. */
  headers: { get(name: string): string | null };
  /** The body, read whole; absent when the request has none. */
  wholeBody?: Uint8Array<ArrayBuffer>;
}

/**
 * A request's head and whole body, as an early answer reads them: no Request or Headers built.
 *
 * @example
 * ```ts
 * import { Lite } from "./server_lite.ts";
 * const request = new Lite("GET", "http://x/keys/a", [["host", "x"]], undefined);
 * request.headers.get("host"); // "x"
 * ```
 */
export class Lite implements LiteRequest {
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
