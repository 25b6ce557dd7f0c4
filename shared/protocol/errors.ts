// HttpError and the one error body shape, {"error": "..."}, that every route answers with.

import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../log/log.ts";

/** The body of every error response. */
export const ErrorBody = z.object({
  error: z.string().openapi({ example: 'Key "user:42" not found' }),
}).openapi("Error");

/** An error body. */
export type ErrorBody = z.infer<typeof ErrorBody>;

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

/**
 * The answer to an error thrown while serving `method path`: an HttpError's status and body, or
 * a logged 500 for anything else. The app's error handler and the fast read both answer with it.
 */
export function errorResponse(error: unknown, method: string, path: string, log: Logger): Response {
  if (error instanceof HttpError) {
    return Response.json({ ...error.details, error: error.message }, { status: error.status });
  }
  log.error("request failed", {
    method,
    path,
    error: error instanceof Error ? error.stack ?? error.message : String(error),
  });
  return Response.json({ error: "Internal server error" }, { status: 500 });
}
