// HttpError: a failure that answers with an HTTP status and the one error body, {"error": "..."}.

import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

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

  constructor(
    status: ErrorStatus,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.details = details;
  }
}

/**
 * Turns zod issues into one readable sentence, naming each field, under `place` when the checked
 * value was one part of a larger one.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const checked = z.object({ ttl: z.number() }).safeParse({ ttl: "x" });
 * describeIssues(checked.error!, ["items", 3]); // "items.3.ttl: Invalid input: …"
 * ```
 */
export function describeIssues(error: ZodError, place: PropertyKey[] = []): string {
  return error.issues
    .map((issue) => {
      const path = [...place, ...issue.path];
      return path.length ? `${path.map(String).join(".")}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
