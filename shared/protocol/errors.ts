// HttpError: a failure that answers with an HTTP status and the one error body, {"error": "..."}.

import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An HTTP status that carries a body. */
export type ErrorStatus = ContentfulStatusCode;

/**
 * An error that becomes a `{"error": message}` response with `status`.
 *
 * @example
 * ```ts
 * import { HttpError } from "./errors.ts";
 * throw new HttpError(503, "No node is up to own the key");
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status of the response. */
  readonly status: ErrorStatus;
  /** Fields the error body carries beside `error`. */
  readonly details: Record<string, unknown>;

  constructor(status: ErrorStatus, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.details = details;
  }
}
