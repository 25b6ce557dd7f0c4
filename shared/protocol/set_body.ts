// `POST /keys`, `/mset` and `/stamped` bodies read straight from their bytes: a value stays the
// bytes it came as, so a 100 KB value goes into the store without becoming strings on the way
// (the body's text, then the parsed value), which were most of a node's garbage under large
// writes.

import { FlatReader, MIN_LIST_BYTES, readList, skipSpace } from "./raw_json.ts";
import { Key, MAX_BATCH, StampedItem, Ttl } from "./wire.ts";

/** A plain write read from its body's bytes: `value` is its UTF-8, a view of the body. */
export interface RawWrite {
  key: string;
  value: Uint8Array;
  ttl?: number;
}

/** A stamped write read from its body's bytes (`POST /stamped`). */
export interface RawStampedWrite extends RawWrite {
  version: number;
}

const SET = new FlatReader([["key", "string"], ["value", "bytes"], ["ttl", "number"]]);
const STAMPED = new FlatReader([
  ["key", "string"],
  ["value", "bytes"],
  ["ttl", "number"],
  ["version", "number"],
]);

/**
 * `bytes` as a plain write, `{"key", "value", "ttl"?}` in any order, when both strings are
 * UTF-8 with no escape and the key and TTL are valid; otherwise undefined, for the JSON parser
 * and the route's schema to judge the body. Only a body that parser would take, with the same
 * meaning, is read here: anything else (another field, an escape, a repeated field) is left to
 * it. The value is a view of `bytes`: it lives as long as they do. Short bodies read here too, in
 * about the time `JSON.parse()` and the schema take (`set_body_bench.ts`).
 *
 * @example
 * ```ts
 * import { readSetBody } from "./set_body.ts";
 * const write = readSetBody(new TextEncoder().encode('{"key":"k","value":"v","ttl":60}'));
 * write?.key; // "k"
 * ```
 */
export function readSetBody(bytes: Uint8Array): RawWrite | undefined {
  const read = SET.read(bytes, skipSpace(bytes, 0));
  if (!read || skipSpace(bytes, read.end) !== bytes.length) return undefined;
  return writeOf(read.values);
}

/**
 * `bytes` as a `POST /mset` body, `{"items": [...]}`, when every item is a plain write as
 * {@link readSetBody} takes one and there are at most {@link MAX_BATCH}; otherwise undefined, for
 * the JSON parser and the route's schema to judge it, as is a body shorter than `minBytes`.
 */
export function readMsetBody(
  bytes: Uint8Array,
  minBytes = MIN_LIST_BYTES,
): { items: RawWrite[] } | undefined {
  const items = readList(bytes, "items", SET, writeOf, MAX_BATCH, minBytes);
  return items && { items };
}

/**
 * `bytes` as a `POST /stamped` body, `{"items": [...]}`, when every item is a plain write as
 * {@link readSetBody} takes one, with a `version` its schema takes, and there are at most
 * {@link MAX_BATCH}; otherwise undefined, as {@link readMsetBody} leaves a body.
 */
export function readStampedBody(
  bytes: Uint8Array,
  minBytes = MIN_LIST_BYTES,
): { items: RawStampedWrite[] } | undefined {
  const items = readList(bytes, "items", STAMPED, stampedOf, MAX_BATCH, minBytes);
  return items && { items };
}

/** A stamped write's fields as the schema takes them, or undefined. */
function stampedOf(values: unknown[]): RawStampedWrite | undefined {
  const write = writeOf(values);
  const version = StampedItem.shape.version.safeParse(values[3]);
  return write && version.success ? { ...write, version: version.data } : undefined;
}

/** A write's fields as the schema takes them, or undefined. */
function writeOf(values: unknown[]): RawWrite | undefined {
  const [key, value, ttl] = values as [string?, Uint8Array?, number?];
  if (key === undefined || !value || !Key.safeParse(key).success) return undefined;
  if (ttl === undefined) return { key, value };
  return Ttl.safeParse(ttl).success ? { key, value, ttl } : undefined;
}
