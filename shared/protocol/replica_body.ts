// `/replicate` bodies written and read with values as bytes: a primary copies a write's value to
// its backups as the bytes the client sent, and a backup stores them as they come, so a 100 KB
// value is never a string on either node.

import { FlatReader, MIN_LIST_BYTES, readList } from "./raw_json.ts";
import { Replica } from "./replica.ts";

/**
 * A replica whose value may be bytes: the UTF-8 of a JSON string with no escape and no control
 * character, as a reader took it from a request (see `readSetBody`). It goes into a body as is.
 */
export type RawReplica = Omit<Replica, "value"> & { value?: string | Uint8Array };

/** Most entries one `/replicate` body carries. */
export const MAX_REPLICA_ENTRIES = 10_000;

const ENTRY = new FlatReader([
  ["key", "string"],
  ["version", "number"],
  ["epoch", "number"],
  ["value", "bytes"],
  ["ttlMs", "number"],
]);
const encoder = new TextEncoder();
const END_OF_VALUE = encoder.encode('"}');

/**
 * The `/replicate` body of `replicas`: `{"entries": [...]}`, as JSON text, or as bytes when a
 * value is bytes (then spliced in as they are, with no copy as a string), in a buffer from `take`
 * (given the bytes needed, a buffer of at least that many) when given.
 *
 * @example
 * ```ts
 * import { replicaBody } from "./replica_body.ts";
 * replicaBody([{ key: "k", version: 1, value: new TextEncoder().encode("v") }]);
 * // the bytes of {"entries":[{"key":"k","version":1,"value":"v"}]}
 * ```
 */
export function replicaBody(
  replicas: RawReplica[],
  take: (bytes: number) => Uint8Array<ArrayBuffer> = (bytes) => new Uint8Array(bytes),
): string | Uint8Array<ArrayBuffer> {
  if (!replicas.some((replica) => replica.value instanceof Uint8Array)) {
    return JSON.stringify({ entries: replicas });
  }
  const parts: Uint8Array[] = [encoder.encode('{"entries":[')];
  replicas.forEach((replica, i) => {
    const comma = i === 0 ? "" : ",";
    const { value } = replica;
    if (!(value instanceof Uint8Array)) {
      parts.push(encoder.encode(comma + JSON.stringify(replica)));
      return;
    }
    const rest = JSON.stringify({ ...replica, value: undefined }); // `{"key":…}`: never empty
    parts.push(encoder.encode(comma + rest.slice(0, -1) + ',"value":"'), value, END_OF_VALUE);
  });
  parts.push(encoder.encode("]}"));
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const body = take(length).subarray(0, length);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return body;
}

/**
 * A `/replicate` body read from its bytes, values as bytes (views of `bytes`), when every entry
 * is a value's state of plain fields that the schema takes; otherwise undefined, for the JSON
 * parser and the route's schema to judge it (a deletion, request ids, an escape), as is a body
 * shorter than `minBytes`.
 */
export function readReplicaBody(
  bytes: Uint8Array,
  minBytes = MIN_LIST_BYTES,
): { entries: RawReplica[] } | undefined {
  const entries = readList(bytes, "entries", ENTRY, replicaOf, MAX_REPLICA_ENTRIES, minBytes);
  return entries && { entries };
}

/** An entry's fields as a replica the schema takes, or undefined. */
function replicaOf(values: unknown[]): RawReplica | undefined {
  const [key, version, epoch, value, ttlMs] = values as [
    string?,
    number?,
    number?,
    Uint8Array?,
    number?,
  ];
  const state: Record<string, unknown> = { key, version };
  if (epoch !== undefined) state.epoch = epoch;
  if (ttlMs !== undefined) state.ttlMs = ttlMs;
  const checked = Replica.safeParse(state);
  if (!checked.success) return undefined;
  return value === undefined ? checked.data : { ...checked.data, value };
}
