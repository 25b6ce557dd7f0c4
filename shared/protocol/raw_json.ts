// Flat JSON objects read straight from a body's bytes: the strings a reader names stay bytes, so
// a large value goes where it is stored without becoming a string on the way.

import { isUtf8 } from "node:buffer";

/**
 * Bodies of many items shorter than this are left to `JSON.parse()` by the list readers: for them
 * it is faster (`set_body_bench.ts`: 20 writes of 1 KB values to `/replicate` in 21 us against
 * 40, each entry's schema check on its own most of the difference; to `/mset` in 12 against 20),
 * and the strings it makes are little garbage. The readers pay from large values on, whose
 * strings were most of a node's garbage.
 */
export const MIN_LIST_BYTES = 16 * 1024;

/** How a field is read: text, the bytes of a string as they are, or a number. */
export type FieldKind = "string" | "bytes" | "number";

/** What a {@link FlatReader} read: each field's value by its index, and where the object ended. */
export interface FlatRead {
  values: (string | Uint8Array | number | undefined)[];
  /** The index just past the object's closing brace. */
  end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading U+FEFF is the string's

/**
 * Reads a flat JSON object of known fields, in any order, each at most once: strings of UTF-8
 * with no escape (their bytes are then exactly the string's UTF-8) and numbers. Anything else (an
 * escape, another field, a repeated one, a nested value) reads as undefined, for the JSON parser
 * to judge: only what that parser takes, with the same meaning, is read here.
 *
 * @example
 * ```ts
 * import { FlatReader } from "./raw_json.ts";
 * const reader = new FlatReader([["key", "string"], ["value", "bytes"]]);
 * reader.read(new TextEncoder().encode('{"value":"v","key":"k"}'), 0)?.values[0]; // "k"
 * ```
 */
export class FlatReader {
  readonly #names: Uint8Array[];
  readonly #kinds: FieldKind[];

  constructor(fields: [name: string, kind: FieldKind][]) {
    this.#names = fields.map(([name]) => encoder.encode(name));
    this.#kinds = fields.map(([, kind]) => kind);
  }

  /** The object that starts at `at` (its opening brace), or undefined. */
  read(bytes: Uint8Array, at: number): FlatRead | undefined {
    const values: FlatRead["values"] = [];
    if (bytes[at] !== 0x7b) return undefined; // {
    at = skipSpace(bytes, at + 1);
    for (;;) {
      if (bytes[at] !== QUOTE) return undefined;
      const nameEnd = plainStringEnd(bytes, at + 1);
      const field = nameEnd < 0 ? -1 : this.#fieldAt(bytes, at + 1, nameEnd);
      if (field < 0 || values[field] !== undefined) return undefined;
      at = skipSpace(bytes, nameEnd + 1);
      if (bytes[at] !== 0x3a) return undefined; // :
      at = skipSpace(bytes, at + 1);
      const kind = this.#kinds[field];
      if (kind === "number") {
        const start = at;
        while (at < bytes.length && isNumberByte(bytes[at])) at++;
        const number = numberOf(bytes.subarray(start, at));
        if (number === undefined) return undefined;
        values[field] = number;
      } else {
        if (bytes[at] !== QUOTE) return undefined;
        const end = plainStringEnd(bytes, at + 1);
        if (end < 0) return undefined;
        const raw = bytes.subarray(at + 1, end);
        values[field] = kind === "bytes" ? raw : decoder.decode(raw);
        at = end + 1;
      }
      at = skipSpace(bytes, at);
      if (bytes[at] === 0x2c) at = skipSpace(bytes, at + 1); // ,
      else if (bytes[at] === 0x7d) return { values, end: at + 1 }; // }
      else return undefined;
    }
  }

  #fieldAt(bytes: Uint8Array, start: number, end: number): number {
    return this.#names.findIndex((name) => same(bytes, start, end, name));
  }
}

/**
 * The items of a body `{"<name>": [{...}, ...]}`: each object read by `reader` and made an item by
 * `item` (undefined when it refuses one), at most `max` of them, at least one; undefined for any
 * other body, for the JSON parser and the route's schema to judge, as for one shorter than
 * `minBytes`.
 */
export function readList<T>(
  bytes: Uint8Array,
  name: string,
  reader: FlatReader,
  item: (values: FlatRead["values"]) => T | undefined,
  max: number,
  minBytes = MIN_LIST_BYTES,
): T[] | undefined {
  if (bytes.length < minBytes) return undefined;
  const nameBytes = encoder.encode(name);
  let at = skipSpace(bytes, 0);
  if (bytes[at] !== 0x7b) return undefined; // {
  at = skipSpace(bytes, at + 1);
  const nameEnd = at + 1 + nameBytes.length;
  if (bytes[at] !== QUOTE || !same(bytes, at + 1, nameEnd, nameBytes) || bytes[nameEnd] !== QUOTE) {
    return undefined;
  }
  at = skipSpace(bytes, nameEnd + 1);
  if (bytes[at] !== 0x3a) return undefined; // :
  at = skipSpace(bytes, at + 1);
  if (bytes[at] !== 0x5b) return undefined; // [
  const items: T[] = [];
  do {
    const read = reader.read(bytes, skipSpace(bytes, at + 1));
    const made = read && item(read.values);
    if (!read || made === undefined || items.length === max) return undefined;
    items.push(made);
    at = skipSpace(bytes, read.end);
  } while (bytes[at] === 0x2c); // ,
  if (bytes[at] !== 0x5d) return undefined; // ]
  at = skipSpace(bytes, at + 1);
  return bytes[at] === 0x7d && skipSpace(bytes, at + 1) === bytes.length ? items : undefined;
}

/**
 * Where the string that starts at `from` ends (its closing quote), if it is UTF-8 with no escape
 * and no control character (which JSON refuses unescaped); -1 otherwise. Its first 16 bytes or so
 * are looked at one by one (names and keys end there), the rest four a step from an aligned
 * offset: `(x - 0x20202020) & ~x & 0x80808080` is non-zero exactly when a byte of `x` is below
 * 0x20, and a byte equal to `c` is one `x ^ 0xcccccccc` makes zero. Only a string with a byte past
 * 7 bits is checked as UTF-8.
 */
export function plainStringEnd(bytes: Uint8Array, from: number): number {
  const length = bytes.length;
  const offset = bytes.byteOffset;
  let high = 0; // every byte or word seen, or-ed: its top bits say whether any was past 7 bits
  let at = from;
  const wordsFrom = Math.min(length, ((offset + from + 19) & ~3) - offset);
  for (; at < wordsFrom; at++) {
    const byte = bytes[at];
    if (isSpecial(byte)) return stringEnd(bytes, from, at, high);
    high |= byte;
  }
  const count = (length - at) >> 2;
  if (count > 0) {
    const words = new Uint32Array(bytes.buffer, offset + at, count);
    let word = 0;
    for (; word < count; word++) {
      const x = words[word];
      const quote = x ^ 0x22222222;
      const backslash = x ^ 0x5c5c5c5c;
      const special = ((x - 0x20202020) & ~x) | ((quote - 0x01010101) & ~quote) |
        ((backslash - 0x01010101) & ~backslash);
      if ((special & 0x80808080) !== 0) break;
      high |= x;
    }
    at += word * 4;
  }
  for (; at < length; at++) {
    const byte = bytes[at];
    if (isSpecial(byte)) return stringEnd(bytes, from, at, high);
    high |= byte;
  }
  return -1;
}

/** `at` if the special byte there is the closing quote of a valid string from `from`, or -1. */
function stringEnd(bytes: Uint8Array, from: number, at: number, high: number): number {
  if (bytes[at] !== QUOTE) return -1;
  return (high & 0x80808080) === 0 || isUtf8(bytes.subarray(from, at)) ? at : -1;
}

/** The first index from `at` that is not JSON whitespace. */
export function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length) {
    const byte = bytes[at];
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    at++;
  }
  return at;
}

/** Whether `bytes` from `start` to `end` are `name`'s. */
export function same(bytes: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (bytes[start + i] !== name[i]) return false;
  return true;
}

function isSpecial(byte: number): boolean {
  return byte === QUOTE || byte === BACKSLASH || byte < 0x20;
}

/** Whether `byte` can be part of a JSON number: a digit, a sign, a point or an exponent. */
function isNumberByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2b || byte === 0x2e ||
    byte === 0x65 || byte === 0x45;
}

/** The JSON number `bytes` spell, or undefined when they spell none. */
function numberOf(bytes: Uint8Array): number | undefined {
  if (bytes.length === 0 || bytes.length > 32) return undefined;
  if (bytes.length <= 15 && (bytes[0] !== 0x30 || bytes.length === 1)) {
    let whole = 0; // digits only, no leading zero: a safe integer, read here
    for (const byte of bytes) {
      if (byte < 0x30 || byte > 0x39) return parseNumber(bytes);
      whole = whole * 10 + byte - 0x30;
    }
    return whole;
  }
  return parseNumber(bytes);
}

/** `JSON.parse()` of a number's bytes: fractions, exponents, signs and every refusal. */
function parseNumber(bytes: Uint8Array): number | undefined {
  try {
    const number = JSON.parse(String.fromCharCode(...bytes));
    return typeof number === "number" ? number : undefined;
  } catch {
    return undefined;
  }
}
