// What services send each other and get back, as the HTTP/1.1 client and its callers see it.

/** A `fetch`: the global one, or a stand-in that calls an app directly. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A call made without the Fetch API's objects: what {@link Http1Client.exchange} sends. */
export interface PeerRequest {
  /** Default GET. */
  method?: string;
  /** The path and query, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  signal?: AbortSignal | null;
}

/** An answer read whole: header names in lower case, in the order the peer sent them. */
export interface RawAnswer {
  status: number;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer>;
}

/**
 * The value of header `name` (in lower case) in `answer`, or null.
 *
 * @example
 * ```ts
 * import { headerOf } from "./messages.ts";
 * headerOf({ status: 200, headers: [["x-epoch", "3"]], body: new Uint8Array() }, "x-epoch"); // "3"
 * ```
 */
export function headerOf(answer: RawAnswer, name: string): string | null {
  for (const [key, value] of answer.headers) if (key === name) return value;
  return null;
}

/**
 * A call sent on a kept-alive connection that closed unanswered, whose resend on a new connection
 * was refused: the peer may have taken the call, then died. Its `code` is the refusal's, so it
 * reads as a peer gone; a caller for whom "never sent" matters (a write that must not be applied
 * twice) tells it apart.
 */
export class SentThenRefused extends Error {
  readonly code = "ECONNREFUSED";

  constructor(cause: unknown) {
    super("The peer closed the connection unanswered, then refused a new one", { cause });
    this.name = "SentThenRefused";
  }
}

/**
 * Whether nothing listened: Deno's `ConnectionRefused` and Node's socket error both carry the
 * code `ECONNREFUSED`, so one check serves either runtime's transport. (A {@link SentThenRefused}
 * does too: tell it apart where "never sent" matters.)
 */
export function connectionRefused(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ECONNREFUSED";
}
