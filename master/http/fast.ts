// The master's hot routes served beside the app, with the app's answers: single reads and writes.

import type { Logger } from "../../shared/log/log.ts";
import type { Metrics } from "../../shared/service/metrics.ts";
import type { Router } from "../routing/router.ts";
import { fastGet, fastSet } from "./routes/keys.ts";

type Answer = Response | Promise<Response>;

/**
 * Returns a handler for `GET /keys/{key}` and `POST /keys` that returns undefined for every other
 * request and hands a body it would refuse to `app`; its `read` serves the GET alone, from the
 * method and URL, for a server that answers it before building a Request. Only for a master
 * without tokens.
 */
export function fastRoutes(
  options: { router: Router; maxValueBytes: number; metrics: Metrics; log: Logger },
  app: (request: Request) => Answer,
): ((request: Request) => Answer | undefined) & { read: ReturnType<typeof fastGet> } {
  const { router, maxValueBytes, metrics, log } = options;
  const get = fastGet(router, metrics, log);
  const set = fastSet(router, maxValueBytes, metrics, log);
  return Object.assign((request: Request) => get(request) ?? set(request, app), { read: get });
}
