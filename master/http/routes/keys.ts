// The master's key routes: validated here, then forwarded to the key's owner; set and get are hot.

import { checkValueSize, forwarded, forwardedWrite, keyRoutes } from "@cache/protocol/key_routes";
import { keySegment } from "@cache/protocol/key_path";
import type { HotPath } from "@cache/service/hot";
import type { Router } from "../../routing/router.ts";
import { onTime } from "../late_writes.ts";
import { relay } from "../relay.ts";
import { VERSION_FLOOR_HEADER, versionFloor } from "@cache/protocol/wire";

const routes = {
  set: forwardedWrite(keyRoutes.set),
  get: forwarded(keyRoutes.get),
  delete: forwardedWrite(keyRoutes.delete),
  incr: forwardedWrite(keyRoutes.incr),
  touch: forwardedWrite(keyRoutes.touch),
};

/**
 * Serves `/keys/...` by forwarding each request to the owner of its key. A write goes on with the
 * time its sender still waits (`x-deadline`, in `now()`'s clock), past which no node applies it.
 */
export function addKeyRoutes(
  hot: HotPath,
  router: Router,
  maxValueBytes: number,
  now: () => number,
): void {
  hot.post(routes.set, (write, request, text) => {
    checkValueSize(write.value, maxValueBytes);
    const left = onTime(request.headers, now);
    // The body goes on as it came: valid here, so valid at the node, with no second serialisation.
    // A conditional write goes alone: a batch of writes carries no conditions.
    if (write.if !== undefined || write.ifVersion !== undefined) {
      return router.alone(write.key, "/keys", text(), left);
    }
    // A client writing again what it sent to every owner at once: the primary gives a version
    // above the one those copies carry.
    const floor = versionFloor(request.headers.get(VERSION_FLOOR_HEADER));
    return router.set(write.key, text(), floor, left);
  });

  hot.get(routes.get, ({ key }) => router.get(key));

  hot.app.openapi(routes.delete, (c) => {
    const { key } = c.req.valid("param");
    return relay(router.delete(key, onTime(c.req.raw.headers, now)));
  });

  hot.app.openapi(routes.incr, (c) => {
    const { key } = c.req.valid("param");
    const body = JSON.stringify(c.req.valid("json"));
    const left = onTime(c.req.raw.headers, now);
    return relay(router.alone(key, `/keys/${keySegment(key)}/incr`, body, left));
  });

  hot.app.openapi(routes.touch, (c) => {
    const { key } = c.req.valid("param");
    const body = JSON.stringify(c.req.valid("json"));
    const left = onTime(c.req.raw.headers, now);
    return relay(router.alone(key, `/keys/${keySegment(key)}/touch`, body, left));
  });
}
