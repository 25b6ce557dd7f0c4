// The key routes both services serve, declared once: the master forwards them, a node stores.

import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import { errors, json, MisdirectedBody, withBodies, WriteFailureBody } from "./route_parts.ts";
import { HttpError } from "./errors.ts";
import {
  Conflict,
  Counter,
  DEADLINE_HEADER,
  EPOCH_HEADER,
  IncrRequest,
  KeyParam,
  SetRequest,
  StoredItem,
  TouchRequest,
  utf8Bytes,
  VERSION_FLOOR_HEADER,
} from "./wire.ts";

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

/**
 * The 412 of a conditional write whose `condition` does not hold, carrying the key's current
 * version (null: no key), which the error body answers beside `error`.
 *
 * @example
 * ```ts
 * throw conditionFailed("lock", null, '"if": "present"'); // 412 {"version": null, "error": …}
 * ```
 */
export function conditionFailed(key: string, version: string | null, condition: string) {
  const state = version === null ? "is not stored" : `is at version ${version}`;
  return new HttpError(412, `Key "${key}" ${state}: ${condition} does not hold`, { version });
}

/** The 412 response declaration of a conditional write. */
const conflict = {
  412: json(Conflict, "The condition does not hold: nothing changed; `version` is the key's now"),
};

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
    description: "Stores the value under the key, replacing any value it had; with `if` or " +
      "`ifVersion`, only if the key's state is as they say (412 and no change otherwise).",
    tags: ["keys"],
    request: { body: { ...json(SetRequest, "The key and its value"), required: true } },
    responses: {
      204: { description: "Stored" },
      ...conflict,
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
      200: json(StoredItem, "The key, its value and its version"),
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
  incr: createRoute({
    method: "post",
    path: "/keys/{key}/incr",
    summary: "Add to a counter",
    description: "Adds `by` to the key's value, a decimal integer, as Redis INCRBY: a key not " +
      'stored starts at 0. The value stays a string (`"42"`) that GET reads as any other. ' +
      "An increment that times out may or may not have been applied: retry it with the same " +
      "`requestId`, which the key's owners remember for two minutes.",
    tags: ["keys"],
    request: {
      params: KeyParam,
      body: { ...json(IncrRequest, "How much to add"), required: true },
    },
    responses: {
      200: json(Counter, "The new value and its version"),
      ...errors({
        ...writeErrors,
        409: "The value is not a decimal integer, the result is not a safe integer, or a retry " +
          '(`retry: true`) whose id the owners can no longer place (`applied: "unknown"`)',
      }),
    },
  }),
  touch: createRoute({
    method: "post",
    path: "/keys/{key}/touch",
    summary: "Set a key's TTL",
    description: "Sets how long the key lives from now, or (`null`) that it never expires. Like " +
      "any write, it gives the key a new version.",
    tags: ["keys"],
    request: {
      params: KeyParam,
      body: { ...json(TouchRequest, "The TTL"), required: true },
    },
    responses: {
      204: { description: "The TTL is set" },
      ...errors({ ...writeErrors, 404: "The key is not stored" }),
    },
  }),
};

/** `route` as the master serves it, also declaring the errors of forwarding to a node. */
export function forwarded<R extends RouteConfig>(route: R) {
  return createRoute({ ...route, responses: { ...route.responses, ...errors(forwardingErrors) } });
}

/**
 * The optional header a write's sender names its deadline in (`DEADLINE_HEADER`), declared for
 * the documents: the routes read it themselves (`headerNumber`).
 */
export const deadlineParameter = {
  name: DEADLINE_HEADER,
  in: "header",
  required: false,
  schema: { type: "integer" },
  description: "When the sender stops waiting for this write, in milliseconds since 1970 on " +
    "this service's clock, which its answers name in `x-node-time`: read later, the write is " +
    "refused with 504 and nothing is applied. Anything but a whole number is refused with 400",
} as const;

/** The ring epoch a request was routed by (`EPOCH_HEADER`), for the documents. */
export const epochParameter = (required: boolean) => ({
  name: EPOCH_HEADER,
  in: "header",
  required,
  schema: { type: "integer" },
  description: "The epoch of the ring the sender routed this request by, as the master's " +
    "`/ring` names it: a node that knows a newer ring refuses a write with 421, and one behind " +
    "it asks the master for it first. Anything but a whole number is refused with 400",
} as const);

/** The version a write must be given one above (`VERSION_FLOOR_HEADER`), for the documents. */
const floorParameter = {
  name: VERSION_FLOOR_HEADER,
  in: "header",
  required: false,
  schema: { type: "integer" },
  description: "A version the write must be given one above: the one its sender gave the copies " +
    "it sent to every owner at once (`POST /stamped`). At most 20 s ahead of this node's clock " +
    "(409 past that); anything but a whole number is refused with 400",
} as const;

/**
 * A write `route` as the master serves it: {@link forwarded}, taking its sender's deadline, which
 * the master passes on to the nodes.
 */
export function forwardedWrite<R extends RouteConfig>(route: R) {
  const failures = errors({
    ...forwardingErrors,
    504: "The owning node did not answer in time, or the write reached the master (or " +
      "waited in it) past its sender's deadline (`x-deadline`): then nothing was applied",
  });
  return createRoute({
    ...route,
    parameters: [deadlineParameter],
    responses: {
      ...route.responses,
      ...withBodies(failures, { 502: WriteFailureBody, 504: WriteFailureBody }),
    },
  });
}

/** Errors of a node's route that reads or writes keys as their owner. */
export const ownerErrors = {
  503: "The node cannot confirm its ring is current (its lease ran out, or no master has given " +
    "it a ring yet), or, for a write, a node that may hold the key's newest state did not " +
    "answer: nothing was applied",
} as const;

/** Errors of a node's route that writes keys as their primary, besides {@link ownerErrors}. */
export const primaryErrors = {
  421: "Not this node's key to write as its primary, or routed with an older ring: the body's " +
    "`epoch` and `owner` say where to send it",
  502: "Stored on this node, but a backup refused its copy: `unreplicated` names the keys",
  504: "The sender's deadline passed (nothing was applied), or a backup did not answer in time " +
    "(stored on this node; `unreplicated` names the keys)",
} as const;

/**
 * `route` as a node serves it, also declaring the errors of an owner (`writes`: of a primary).
 *
 * @example
 * ```ts
 * import { keyRoutes, owned } from "./key_routes.ts";
 * const set = owned(keyRoutes.set, true); // 421, 502, 503 and 504 declared too
 * ```
 */
export function owned<R extends RouteConfig>(route: R, writes: boolean) {
  const added = writes
    ? withBodies(errors({ ...primaryErrors, ...ownerErrors }), {
      421: MisdirectedBody,
      502: WriteFailureBody,
      504: WriteFailureBody,
    })
    : errors(ownerErrors);
  const parameters = writes ? [epochParameter(false), deadlineParameter] : [epochParameter(false)];
  return createRoute({ ...route, parameters, responses: { ...route.responses, ...added } });
}

/**
 * A set `route` (`POST /keys`, `POST /mset`) as a node serves it: {@link owned}, also taking the
 * version its writes must be given one above (`x-version-above`).
 */
export function ownedSet<R extends RouteConfig>(route: R) {
  return createRoute({
    ...route,
    parameters: [epochParameter(false), deadlineParameter, floorParameter],
    responses: {
      ...owned(route, true).responses,
      ...errors({ 409: "`x-version-above` is more than 20 s ahead of this node's clock" }),
    },
  });
}

/** Returns `value`'s size in UTF-8 bytes; throws a 413 HttpError when it is over `maxBytes`. */
export function checkValueSize(value: string | Uint8Array, maxBytes: number): number {
  const bytes = typeof value === "string" ? utf8Bytes(value) : value.length;
  if (bytes > maxBytes) {
    throw new HttpError(413, `Value is ${bytes} bytes, over the limit of ${maxBytes} bytes`);
  }
  return bytes;
}

/**
 * Most characters of values one `/mget` answer carries, counted as JSON writes them (escapes
 * included), unless one value is longer.
 */
export const MAX_ANSWER_CHARS = 16 * 1024 * 1024;

/**
 * Counts the characters of the values an `/mget` answer carries as JSON writes them, escapes and
 * repeats included, and throws a 413 HttpError past {@link MAX_ANSWER_CHARS} (or one value of
 * `maxValueBytes` fully escaped, when that is more): 1,000 reads of a 1 MB value had a node build
 * a 1 GB answer for 8 s, past the longest string V8 holds, and the master marked it down
 * meanwhile; 16 Mi characters of control characters were 96 MiB of JSON, and a few such answers
 * at once stalled every node past the failure timeout.
 */
export function answerCounter(maxValueBytes: number): (value: string | number) => void {
  const limit = Math.max(MAX_ANSWER_CHARS, maxValueBytes * 6);
  let chars = 0;
  // A number is a value's characters counted already (see `plainJsonUnits`).
  return (value) => {
    chars += typeof value === "number" ? value : jsonChars(value);
    if (chars > limit) {
      throw new HttpError(
        413,
        `Values asked for are over ${limit} characters of JSON in all: ask for fewer keys at once`,
      );
    }
  };
}

/** About the characters `value` takes in JSON, without its quotes: at most, for an escape. */
function jsonChars(value: string): number {
  let extra = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20) extra += 5; // "\u0001"; "\n" and the like take 2
    else if (code === 0x22 || code === 0x5c) extra += 1; // \" and \\
    else if (code >= 0xd800 && code <= 0xdfff) {
      // A pair is written as it is; a lone surrogate as "\ud800".
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else extra += 5;
    }
  }
  return value.length + extra;
}

/**
 * The characters (UTF-16 units) of the text whose UTF-8 is `utf8`, when JSON writes that text as
 * it is, with no escape: no quote, backslash or control character; -1 when it would escape one.
 * The bytes must be well-formed UTF-8 (as `TextEncoder` makes them).
 *
 * @example
 * ```ts
 * import { plainJsonUnits } from "./key_routes.ts";
 * plainJsonUnits(new TextEncoder().encode("é😀")); // 3: one unit, and a pair
 * plainJsonUnits(new TextEncoder().encode('say "hi"')); // -1
 * ```
 */
export function plainJsonUnits(utf8: Uint8Array): number {
  let units = utf8.length;
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i];
    if (byte < 0x20 || byte === 0x22 || byte === 0x5c) return -1;
    if (byte < 0x80) continue;
    if (byte < 0xc0) units--; // a continuation byte
    else if (byte >= 0xf0) units++; // the lead of 4 bytes: a surrogate pair
  }
  return units;
}

/**
 * The UTF-16 units of the text `utf8` encodes, as `.length` counts a string's, without decoding it.
 *
 * @example
 * ```ts
 * import { utf16Units } from "./key_routes.ts";
 * utf16Units(new TextEncoder().encode('"é😀"')); // 5
 * ```
 */
export function utf16Units(utf8: Uint8Array): number {
  let units = utf8.length;
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i];
    if (byte < 0x80) continue;
    if (byte < 0xc0) units--; // a continuation byte
    else if (byte >= 0xf0) units++; // the lead of 4 bytes: a surrogate pair
  }
  return units;
}

/** Largest body that can carry a key and a `maxValueBytes` value, even fully escaped. */
export function maxBodyBytes(maxValueBytes: number): number {
  return maxValueBytes * 6 + 64 * 1024; // "\u0000" is 6 bytes of JSON for 1 byte of value
}
