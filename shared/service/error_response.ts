// The answer to an error thrown while serving a request: an HttpError's own, or a logged 500.

import { HttpError } from "@cache/protocol/errors";
import type { Logger } from "@cache/log/log";

/**
 * The answer to an error thrown while serving `method path`: an HttpError's status and body, or
 * a logged 500 for anything else. The app's error handler and the fast read both answer with it.
 *
 * @example
 * ```ts
 * import { errorResponse } from "./error_response.ts";
 * import { HttpError } from "@cache/protocol/errors";
 * import { silentLogger } from "@cache/log/log";
 * const error = new HttpError(503, "No node is up");
 * const answer = errorResponse(error, "GET", "/keys/a", silentLogger);
 * answer.status; // 503
 * ```
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
