// The key routes both services serve, declared once: the master forwards them, a node stores.

import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { errors, json } from "./route_parts.ts";
import { HttpError } from "./errors.ts";
import { KeyParam, KeyValue, utf8Bytes } from "./wire.ts";

/**
 * The error body for a key that is not stored: one text, whichever service answers, so a master
 * answering from a batch says what the node would have said.
 *
 * @example
 * ```ts
 * keyNotFound("user:42"); // { error: 'Key "user:42" not found' }
 * ```
 */
export const keyNotFound = (key: string) => ({ error: `Key "${key}" not found` });

/** Errors of a route that forwards to nodes. */
export const forwardingErrors = {
  502: "The owning node could not be reached",
  503: "No node is up to own the key",
  504: "The owning node did not answer in time",
} as const;

/** Errors of a route that writes. */
export const writeErrors = {
  400: "The body is not valid",
  413: "A value, an entry or the body is over its size limit",
  415: "The body is not application/json",
  507: "The node is full and its eviction policy is noeviction",
} as const;

/** The set, get and delete routes of `/keys`. */
export const keyRoutes = {
  set: createRoute({
    method: "post",
    path: "/keys",
    summary: "Set a key",
    description: "Stores the value under the key, replacing any value it had.",
    tags: ["keys"],
    request: { body: { ...json(KeyValue, "The key and its value"), required: true } },
    responses: {
      204: { description: "Stored" },
      ...errors(writeErrors),
    },
  }),
  get: createRoute({
    method: "get",
    path: "/keys/{key}",
    summary: "Get a key",
    description: "Reads a key; put it in the path percent-encoded (`/` is `%2F`).",
    tags: ["keys"],
    request: { params: KeyParam },
    responses: {
      200: json(KeyValue, "The key and its value"),
      ...errors({ 400: "The key is not valid", 404: "The key is not stored" }),
    },
  }),
  delete: createRoute({
    method: "delete",
    path: "/keys/{key}",
    summary: "Delete a key",
    tags: ["keys"],
    request: { params: KeyParam },
    responses: {
      204: { description: "Deleted" },
      ...errors({ 400: "The key is not valid", 404: "The key is not stored" }),
    },
  }),
};

/** `route` as the master serves it, also declaring the errors of forwarding to a node. */
export function forwarded<R extends RouteConfig>(route: R) {
  return createRoute({ ...route, responses: { ...route.responses, ...errors(forwardingErrors) } });
}

/** Returns `value`'s size in UTF-8 bytes; throws a 413 HttpError when it is over `maxBytes`. */
export function checkValueSize(value: string, maxBytes: number): number {
  const bytes = utf8Bytes(value);
  if (bytes > maxBytes) {
    throw new HttpError(413, `Value is ${bytes} bytes, over the limit of ${maxBytes} bytes`);
  }
  return bytes;
}

/** Largest body that can carry a key and a `maxValueBytes` value, even fully escaped. */
export function maxBodyBytes(maxValueBytes: number): number {
  return maxValueBytes * 6 + 64 * 1024; // "\u0000" is 6 bytes of JSON for 1 byte of value
}
