// A stored item as an answer writes it: JSON text, or for a large value, its stored UTF-8 bytes
// copied in as they are, never decoded to a string and encoded back.

import type { WireAnswer } from "@cache/http1/answer";
import { BodyParts } from "@cache/http1/body_parts";
import { keyNotFound, plainJsonUnits } from "@cache/protocol/key_routes";
import type { BytesRead, Read, Store } from "../store/store.ts";

/**
 * Values of this many bytes or more are answered from their bytes: a 1 MB value decoded, written
 * as JSON and encoded again took about 10 ms here, its bytes checked and copied about 1 ms.
 */
export const LARGE_VALUE_BYTES = 16 * 1024;

const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading U+FEFF is the value's

/** What an answer reads of `key`: a large value as its bytes (see `Store.getForAnswer`). */
export function readForAnswer(store: Store, key: string): Read | BytesRead | undefined {
  return store.getForAnswer(key, LARGE_VALUE_BYTES);
}

/**
 * A read as JSON, as `JSON.stringify()` writes `{key, value, ttl?, version}` (`ttl` in seconds,
 * only for a key that expires). The version is written as it is (digits and a dot: nothing to
 * escape): `JSON.stringify()` of an object holding a freshly joined string took twice as long as
 * the whole of the rest.
 */
export function itemJson(key: string, found: Read): string {
  return '{"key":' + JSON.stringify(key) + ',"value":' + JSON.stringify(found.value) +
    itemEnd(found);
}

/**
 * Adds {@link itemJson} of `found` to `parts`. A value read as bytes goes in as they are when JSON
 * writes it with no escape, and is decoded otherwise; `count` is told its characters in JSON.
 */
export function addItem(
  parts: BodyParts,
  key: string,
  found: Read | BytesRead,
  count?: (value: string | number) => void,
): void {
  if ("value" in found) {
    count?.(found.value);
    parts.add(itemJson(key, found));
    return;
  }
  const units = plainJsonUnits(found.utf8);
  if (units < 0) {
    const value = decoder.decode(found.utf8);
    count?.(value);
    parts.add(itemJson(key, { value, version: found.version, ttlMs: found.ttlMs }));
    return;
  }
  count?.(units);
  parts.add('{"key":' + JSON.stringify(key) + ',"value":"');
  parts.add(found.utf8);
  parts.add('"' + itemEnd(found));
}

/** The answer to `GET /keys/{key}`: the item, or the not-found error. */
export function readAnswer(key: string, found: Read | BytesRead | undefined): WireAnswer {
  if (found === undefined) {
    return { status: 404, contentType: "application/json", body: JSON.stringify(keyNotFound(key)) };
  }
  if ("value" in found) {
    return { status: 200, contentType: "application/json", body: itemJson(key, found) };
  }
  const parts = new BodyParts();
  addItem(parts, key, found);
  return { status: 200, contentType: "application/json", body: parts.body() };
}

/** What follows an item's value: its TTL, if it expires, and its version. */
function itemEnd(found: { version: string; ttlMs?: number }): string {
  const ttl = found.ttlMs === undefined ? "" : ',"ttl":' + JSON.stringify(found.ttlMs / 1000);
  return ttl + ',"version":"' + found.version + '"}';
}
