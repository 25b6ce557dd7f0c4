// One entry as it lies in the arena: a 36-byte header, the key's UTF-8 bytes, then the value's.

import { Buffer } from "node:buffer";
import type { Arena } from "./arena.ts";
import { CHUNK_SIZES, MAX_CHUNK_BYTES, sizeClass } from "./size_classes.ts";
import { readUnits, unitBytes, writeUnits } from "./wide_values.ts";

/**
 * A value as written: a string, or its UTF-8 bytes as they came in a request (copied at once:
 * they may be reused after the write).
 */
export type Value = string | Uint8Array;

/** Bytes of a record's header; the key's bytes follow it. */
export const HEADER_BYTES = 36;

/** Longest key a record holds, in UTF-8 bytes: its length has 11 bits. */
export const MAX_RECORD_KEY_BYTES = 1024;

// Header fields: f64s at `ref + n` of the arena's doubles, u32s at `ref * 2 + n` of its words.
const VERSION = 0; // f64 @0
const EXPIRES_AT = 1; // f64 @8, ms; 0 means never
const EPOCH = 4; // u32 @16, an id from Epochs
/** Word of the ref to the next older record in the recency list (0: none). */
export const OLDER = 5; // u32 @20
/** Word of the ref to the next newer record in the recency list (0: none). */
export const NEWER = 6; // u32 @24
/** Word of the ref to the next record in the same index bucket (0: none). */
export const NEXT = 7; // u32 @28
const LENGTHS = 8; // u32 @32: key bytes (bits 0-10), wide flag (bit 11), value bytes (bits 12-31)
const KEY_WORD = HEADER_BYTES / 4; // the key's first word

const KEY_MASK = 0x7ff;
const WIDE = 0x800; // the value is UTF-16 code units: it holds a lone surrogate, which UTF-8 loses
const VALUE_SHIFT = 12;
const LONG_VALUE = 0xfffff; // the value's length does not fit its 20 bits: see TAIL_LENGTH

// A record larger than the largest chunk is chained: its head chunk ends with the value's length
// and the ref of the first continuation chunk; each continuation chunk starts with the next one's.
const TAIL_LENGTH = MAX_CHUNK_BYTES - 8;
const HEAD_LINK_WORD = (MAX_CHUNK_BYTES - 4) / 4;
const LINK_BYTES = 4;
const CONTINUATION_BYTES = MAX_CHUNK_BYTES - LINK_BYTES; // value bytes in a full continuation
const LARGEST = CHUNK_SIZES.length - 1;

// The staging buffer's first size: values of up to a third as many UTF-16 units always fit (3
// bytes per unit at most); it grows to the longest value written, so no value is encoded into a
// buffer of its own, garbage after its write.
const FIRST_STAGE_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a leading U+FEFF is the value's

/**
 * Bytes of chunks a record takes: its class-rounded chunk, or for a record larger than one chunk,
 * its head chunk and every continuation chunk. `valueBytes` counts the value as stored: its UTF-8
 * bytes, or 2 per UTF-16 unit for a wide value (see wide_values.ts).
 *
 * @example
 * ```ts
 * import { recordBytes } from "./records.ts";
 * recordBytes(16, 100); // 152: the header, 16 bytes of key and 100 of value, exactly a class
 * ```
 */
export function recordBytes(keyBytes: number, valueBytes: number): number {
  const total = HEADER_BYTES + keyBytes + valueBytes;
  if (total <= MAX_CHUNK_BYTES) return CHUNK_SIZES[sizeClass(total)];
  const rest = valueBytes - headValueBytes(keyBytes);
  const full = Math.ceil(rest / CONTINUATION_BYTES) - 1;
  const last = rest - full * CONTINUATION_BYTES;
  return MAX_CHUNK_BYTES * (1 + full) + CHUNK_SIZES[sizeClass(last + LINK_BYTES)];
}

/**
 * The chunks of a record of `chunkBytes` ({@link recordBytes}), by size class: its one chunk, or
 * for a chained record, its chunks of the largest size and the last one.
 *
 * @example
 * ```ts
 * import { recordBytes, recordChunks } from "./records.ts";
 * recordChunks(recordBytes(16, 100)); // Map { <the class of 152 bytes> => 1 }
 * ```
 */
export function recordChunks(chunkBytes: number): Map<number, number> {
  const largest = Math.ceil(chunkBytes / MAX_CHUNK_BYTES) - 1;
  const last = sizeClass(chunkBytes - largest * MAX_CHUNK_BYTES);
  const chunks = new Map([[last, 1]]);
  if (largest > 0) chunks.set(LARGEST, largest + (last === LARGEST ? 1 : 0));
  return chunks;
}

/**
 * Reads and writes records in an arena. A record's ref is its head chunk's; the store links
 * records into its recency list and index through the header's {@link OLDER}, {@link NEWER} and
 * {@link NEXT} words. Strings are decoded only when asked for.
 *
 * @example
 * ```ts
 * import { Arena } from "./arena.ts";
 * import { Records } from "./records.ts";
 * const arena = new Arena();
 * const records = new Records(arena);
 * const ref = records.write("k", 1, "v", 1, false, (cls) => arena.alloc(cls));
 * records.value(ref); // "v"
 * ```
 */
export class Records {
  readonly #arena: Arena;
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #doubles: Float64Array;
  readonly #text: Buffer & { utf8Slice(start: number, end: number): string }; // the arena's bytes
  readonly #scratch = new Uint8Array(MAX_RECORD_KEY_BYTES); // a key being compared, encoded
  #stage = new Uint8Array(FIRST_STAGE_BYTES); // a value about to be written, encoded
  #staged: string | undefined; // the value #stage holds

  constructor(arena: Arena) {
    this.#arena = arena;
    this.#bytes = arena.bytes;
    this.#words = arena.words;
    this.#doubles = arena.doubles;
    this.#text = Buffer.from(arena.bytes.buffer) as Buffer & {
      utf8Slice(start: number, end: number): string;
    };
  }

  /**
   * Encodes `value` ahead of its write, so it is encoded once and counted with no pass of its own;
   * returns its UTF-8 bytes. The next {@link write} or
   * {@link rewrite} of an equal value copies the staged bytes.
   */
  stage(value: string): number {
    let { read, written } = encoder.encodeInto(value, this.#stage);
    if (read < value.length) {
      let size = this.#stage.length;
      while (size < 3 * value.length) size *= 2;
      this.#stage = new Uint8Array(size);
      ({ read, written } = encoder.encodeInto(value, this.#stage));
    }
    this.#staged = value;
    return written;
  }

  /**
   * Writes a record holding `key` and `value` into chunks from `take` (given a size class, it
   * answers a free chunk's ref) and returns its ref; stamps and links are the caller's to set.
   * `keyBytes` and `valueBytes` must be exact: UTF-8 bytes, or 2 per code unit for a `wide` value.
   */
  write(
    key: string,
    keyBytes: number,
    value: Value,
    valueBytes: number,
    wide: boolean,
    take: (cls: number) => number,
  ): number {
    const total = HEADER_BYTES + keyBytes + valueBytes;
    const chained = total > MAX_CHUNK_BYTES;
    const ref = take(chained ? LARGEST : sizeClass(total));
    this.#setLengths(ref, keyBytes, valueBytes, wide);
    const keyStart = ref * 8 + HEADER_BYTES;
    if (keyBytes === key.length) {
      for (let i = 0; i < keyBytes; i++) this.#bytes[keyStart + i] = key.charCodeAt(i);
    } else {
      encoder.encodeInto(key, this.#bytes.subarray(keyStart, keyStart + keyBytes));
    }
    const valueStart = keyStart + keyBytes;
    if (!chained) {
      this.#writeValue(valueStart, value, valueBytes, wide);
      return ref;
    }
    const data = this.#valueData(value, valueBytes, wide);
    let done = headValueBytes(keyBytes);
    this.#bytes.set(data.subarray(0, done), valueStart);
    this.#words[(ref * 8 + TAIL_LENGTH) / 4] = valueBytes;
    let link = ref * 2 + HEAD_LINK_WORD;
    while (done < valueBytes) {
      const rest = valueBytes - done;
      const cls = rest > CONTINUATION_BYTES ? LARGEST : sizeClass(rest + LINK_BYTES);
      const next = take(cls);
      this.#words[link] = next;
      const part = Math.min(rest, CHUNK_SIZES[cls] - LINK_BYTES);
      this.#bytes.set(data.subarray(done, done + part), next * 8 + LINK_BYTES);
      done += part;
      link = next * 2;
    }
    this.#words[link] = 0;
    return ref;
  }

  /**
   * Replaces the value of the record at `ref` in its chunk: the new record must take one chunk
   * of the same size ({@link recordBytes}). The key, stamps and links stay.
   */
  rewrite(ref: number, value: Value, valueBytes: number, wide: boolean): void {
    const keyBytes = this.keyBytes(ref);
    this.#setLengths(ref, keyBytes, valueBytes, wide);
    this.#writeValue(ref * 8 + HEADER_BYTES + keyBytes, value, valueBytes, wide);
  }

  /** Gives back every chunk of the record at `ref`. */
  free(ref: number): void {
    let link = this.#chained(ref) ? this.#words[ref * 2 + HEAD_LINK_WORD] : 0;
    this.#arena.free(ref);
    while (link !== 0) {
      const next = this.#words[link * 2]; // read before free() reuses the word
      this.#arena.free(link);
      link = next;
    }
  }

  /** Bytes of chunks the record at `ref` takes, as {@link recordBytes} counted them. */
  chunkBytes(ref: number): number {
    return recordBytes(this.keyBytes(ref), this.valueBytes(ref));
  }

  /** Bytes of the record's key. */
  keyBytes(ref: number): number {
    return this.#words[ref * 2 + LENGTHS] & KEY_MASK;
  }

  /** Where the record's key starts in the arena's bytes. */
  keyStart(ref: number): number {
    return ref * 8 + HEADER_BYTES;
  }

  /** Bytes of the record's value as stored. */
  valueBytes(ref: number): number {
    const length = this.#words[ref * 2 + LENGTHS] >>> VALUE_SHIFT;
    return length === LONG_VALUE ? this.#words[(ref * 8 + TAIL_LENGTH) / 4] : length;
  }

  /**
   * Whether the record at `ref` holds the ASCII key of `keyBytes` bytes in `blocks`, as
   * `IndexHash.ofKey()` left them: a word at a time, since keys start 4-byte aligned.
   */
  keyMatches(ref: number, blocks: Uint32Array, keyBytes: number): boolean {
    const words = this.#words;
    if ((words[ref * 2 + LENGTHS] & KEY_MASK) !== keyBytes) return false;
    const at = ref * 2 + KEY_WORD;
    const whole = keyBytes >> 2;
    for (let i = 0; i < whole; i++) if (words[at + i] !== blocks[i]) return false;
    const rest = keyBytes & 3; // the value's bytes follow the key's in its last word
    return rest === 0 || ((words[at + whole] ^ blocks[whole]) & ((1 << (rest * 8)) - 1)) === 0;
  }

  /** Whether the key of the record at `ref` starts with the UTF-8 bytes `prefix`. */
  keyStartsWith(ref: number, prefix: Uint8Array): boolean {
    if ((this.#words[ref * 2 + LENGTHS] & KEY_MASK) < prefix.length) return false;
    const start = ref * 8 + HEADER_BYTES;
    const bytes = this.#bytes;
    for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix[i]) return false;
    return true;
  }

  /** Whether the record at `ref` holds `key`, whose UTF-8 bytes number `keyBytes`. */
  keyEquals(ref: number, key: string, keyBytes: number): boolean {
    if ((this.#words[ref * 2 + LENGTHS] & KEY_MASK) !== keyBytes) return false;
    const start = ref * 8 + HEADER_BYTES;
    const bytes = this.#bytes;
    if (keyBytes === key.length) {
      // ASCII, one byte per character. From the end: keys often share a prefix, not a suffix.
      for (let i = keyBytes - 1; i >= 0; i--) {
        if (bytes[start + i] !== key.charCodeAt(i)) return false;
      }
      return true;
    }
    if (!key.isWellFormed()) return false; // encoding would make its lone surrogates U+FFFD
    const scratch = this.#scratch;
    encoder.encodeInto(key, scratch);
    for (let i = 0; i < keyBytes; i++) if (bytes[start + i] !== scratch[i]) return false;
    return true;
  }

  /** The record's key. */
  key(ref: number): string {
    const start = ref * 8 + HEADER_BYTES;
    return this.#decode(start, start + this.keyBytes(ref));
  }

  /** The record's value. */
  value(ref: number): string {
    const lengths = this.#words[ref * 2 + LENGTHS];
    const start = ref * 8 + HEADER_BYTES + (lengths & KEY_MASK);
    if (!this.#chained(ref)) {
      const end = start + (lengths >>> VALUE_SHIFT);
      return (lengths & WIDE) === 0 ? this.#decode(start, end) : readUnits(this.#bytes, start, end);
    }
    const data = this.valueData(ref);
    return (lengths & WIDE) === 0 ? decoder.decode(data) : readUnits(data, 0, data.length);
  }

  /** Whether the record's value is stored as UTF-16 units, not UTF-8 (see wide_values.ts). */
  wide(ref: number): boolean {
    return (this.#words[ref * 2 + LENGTHS] & WIDE) !== 0;
  }

  /** A copy of the record's value bytes as stored: UTF-8, or UTF-16 units for a wide value. */
  valueData(ref: number): Uint8Array {
    const keyBytes = this.#words[ref * 2 + LENGTHS] & KEY_MASK;
    const start = ref * 8 + HEADER_BYTES + keyBytes;
    const valueBytes = this.valueBytes(ref);
    if (!this.#chained(ref)) return this.#bytes.slice(start, start + valueBytes);
    const data = new Uint8Array(valueBytes);
    let done = headValueBytes(keyBytes);
    data.set(this.#bytes.subarray(start, start + done));
    for (
      let link = this.#words[ref * 2 + HEAD_LINK_WORD];
      link !== 0;
      link = this.#words[link * 2]
    ) {
      const part = Math.min(valueBytes - done, this.#arena.chunkBytes(link) - LINK_BYTES);
      const from = link * 8 + LINK_BYTES;
      data.set(this.#bytes.subarray(from, from + part), done);
      done += part;
    }
    return data;
  }

  /** The record's version. */
  version(ref: number): number {
    return this.#doubles[ref + VERSION];
  }

  /** The id of the ring epoch the record was written in (see epochs.ts). */
  epochId(ref: number): number {
    return this.#words[ref * 2 + EPOCH];
  }

  /** When the record expires, in ms of the store's clock; 0 if never. */
  expiresAt(ref: number): number {
    return this.#doubles[ref + EXPIRES_AT];
  }

  /** Stamps the record with its version, ring epoch's id and expiry time (0: never). */
  stamp(ref: number, version: number, epochId: number, expiresAt: number): void {
    this.#doubles[ref + VERSION] = version;
    this.#doubles[ref + EXPIRES_AT] = expiresAt;
    this.#words[ref * 2 + EPOCH] = epochId;
  }

  #setLengths(ref: number, keyBytes: number, valueBytes: number, wide: boolean): void {
    const valueLength = Math.min(valueBytes, LONG_VALUE) << VALUE_SHIFT;
    this.#words[ref * 2 + LENGTHS] = keyBytes | (wide ? WIDE : 0) | valueLength;
  }

  /** Writes a value that fits the chunk from `start`. */
  #writeValue(start: number, value: Value, valueBytes: number, wide: boolean): void {
    if (typeof value !== "string") {
      this.#bytes.set(value, start);
    } else if (wide) {
      writeUnits(value, this.#bytes, start);
    } else if (this.#staged === value) {
      this.#bytes.set(this.#stage.subarray(0, valueBytes), start);
      this.#staged = undefined;
    } else {
      encoder.encodeInto(value, this.#bytes.subarray(start, start + valueBytes));
    }
  }

  /** A value's bytes as stored: as given, its UTF-16 units for a wide one, or encoded (staged). */
  #valueData(value: Value, valueBytes: number, wide: boolean): Uint8Array {
    if (typeof value !== "string") return value;
    if (wide) return unitBytes(value);
    if (this.#staged !== value) this.stage(value);
    this.#staged = undefined;
    return this.#stage.subarray(0, valueBytes);
  }

  #chained(ref: number): boolean {
    const lengths = this.#words[ref * 2 + LENGTHS];
    return HEADER_BYTES + (lengths & KEY_MASK) + (lengths >>> VALUE_SHIFT) > MAX_CHUNK_BYTES;
  }

  /** UTF-8 of the arena's bytes from `start` to `end`. */
  #decode(start: number, end: number): string {
    // Twice as fast as TextDecoder, which needs a view made per read. Not toString(), which
    // truncates offsets past 2 GiB.
    return this.#text.utf8Slice(start, end);
  }
}

/** Value bytes a chained record's head chunk holds after its header and key. */
function headValueBytes(keyBytes: number): number {
  return TAIL_LENGTH - HEADER_BYTES - keyBytes;
}
