// The node's hot routes served beside the app, with the app's answers: reads and writes, the
// master's gathered reads and writes, and the copies a primary sends its backups.

import { toResponse } from "../../shared/http1/answer.ts";
import { maxBodyBytes } from "../../shared/protocol/key_routes.ts";
import type { Logger } from "../../shared/log/log.ts";
import type { Metrics } from "../../shared/service/metrics.ts";
import { EPOCH_HEADER } from "../../shared/protocol/wire.ts";
import { fastMget, fastMset } from "./routes/batch.ts";
import { fastGet, fastSet } from "./routes/keys.ts";
import { fastReplicate } from "./routes/replica.ts";
import type { Store } from "../store/store.ts";
import type { Writer } from "../cluster/writer.ts";

/** What the hot routes use: the app's store and writer. */
export interface FastRoutesOptions {
  store: Store;
  writer: Writer;
  ringEpoch: () => number | undefined;
  maxValueBytes: number;
  metrics: Metrics;
  log: Logger;
}

type Answer = Response | Promise<Response>;

/**
 * Returns a handler for `GET /keys/{key}`, `POST /keys`, `/mget`, `/mset` and `/replicate` that
 * returns undefined for every other request and hands a body it would refuse to `app`. Like the
 * app, it sends the ring epoch with every answer. Its `read` serves the GET alone, answered as
 * parts, for a server that answers it before building a Request. Only for a node without tokens.
 */
export function fastRoutes(
  options: FastRoutesOptions,
  app: (request: Request) => Answer,
): ((request: Request) => Answer | undefined) & { read: ReturnType<typeof fastGet> } {
  const { store, writer, ringEpoch, metrics, log } = options;
  const limit = maxBodyBytes(options.maxValueBytes);
  const get = fastGet(store, ringEpoch, metrics, log);
  const posts = [
    fastSet(writer, limit, metrics, log),
    fastMget(store, limit, metrics, log),
    fastMset(writer, limit, metrics, log),
    fastReplicate(writer, limit, metrics, log),
  ];
  const stamp = (response: Response): Response => {
    const epoch = ringEpoch();
    if (epoch !== undefined) response.headers.set(EPOCH_HEADER, String(epoch));
    return response;
  };
  const serve = (request: Request): Answer | undefined => {
    const read = get(request); // carries the epoch already: the hottest route builds no headers twice
    if (read !== undefined) {
      return read instanceof Promise ? read.then(toResponse) : toResponse(read);
    }
    let answer: Answer | undefined;
    for (let i = 0; answer === undefined && i < posts.length; i++) answer = posts[i](request, app);
    if (answer === undefined) return undefined;
    return answer instanceof Response ? stamp(answer) : answer.then(stamp);
  };
  return Object.assign(serve, { read: get });
}
