// The store's entries as records in one arena: found by key, ordered by use, filed by expiry.

import { utf8Bytes } from "@cache/protocol/wire";
import { Arena } from "./arena.ts";
import { Epochs } from "./epochs.ts";
import { ExpiryQueue } from "./expiry.ts";
import { INDEX_BYTES_PER_ENTRY, KeyIndex } from "./key_index.ts";
import { RecencyList } from "./recency.ts";
import { MAX_RECORD_KEY_BYTES, recordBytes, recordChunks, Records, type Value } from "./records.ts";
import { MAX_CHUNK_BYTES } from "./size_classes.ts";
import { type SlotCounts, slotOfBytes } from "./slot_counts.ts";
import { ValueCache } from "./value_cache.ts";
import { isWide } from "./wide_values.ts";

/** Bytes accounted for an entry's TTL: its 4-byte ref in the expiry buckets. */
export const EXPIRY_BYTES = 4;

/** A write measured: what its record takes and what it is accounted. */
export interface Sized {
  key: string;
  value: Value;
  ttlMs: number;
  /** The key's probe of the index: its hash and length. */
  probe: number;
  keyBytes: number;
  /** UTF-8 bytes, or 2 per code unit for a wide value. */
  valueBytes: number;
  wide: boolean;
  /** Bytes of the record's chunks. */
  chunkBytes: number;
  /** Bytes accounted: the chunks, the index share and the expiry ref. */
  bytes: number;
}

/** What a record is stamped with when written. */
export interface Stamp {
  version: number;
  epoch: number;
  /** Ms of the store's clock; 0 means never. */
  expiresAt: number;
}

/**
 * Every entry of a store as a record in an {@link Arena}: a header with its stamps and its links
 * in the recency list and an index bucket, then its key's and value's bytes. Strings are decoded
 * only when asked for. Each entry is accounted exactly what it takes ({@link entryBytes}):
 * {@link bytes} is their sum. What to evict, and when, is the store's to decide.
 *
 * @example
 * ```ts
 * import { Entries } from "./entries.ts";
 * const entries = new Entries();
 * const write = entries.measure("k", "v", 0);
 * entries.put(write, { version: 1, epoch: 0, expiresAt: 0 }, 0, 0);
 * entries.value(entries.find("k")); // "v"
 * ```
 */
export class Entries {
  readonly #arena: Arena;
  readonly #records: Records;
  readonly #index: KeyIndex;
  readonly #recency: RecencyList; // least recently used first
  readonly #deadlines: ExpiryQueue;
  readonly #epochs = new Epochs();
  readonly #decoded = new ValueCache();
  #bytes = 0;
  #withTtl = 0;

  readonly #slots: SlotCounts | undefined;

  /**
   * `maxPages` limits the arena's pages (see {@link Arena}); 0 means no limit. With `slots`, the
   * entries are counted per ring slot there.
   */
  constructor(maxPages = 0, slots?: SlotCounts) {
    this.#slots = slots;
    this.#arena = new Arena(maxPages);
    this.#records = new Records(this.#arena);
    this.#index = new KeyIndex(this.#arena, this.#records);
    this.#recency = new RecencyList(this.#arena.words);
    this.#deadlines = new ExpiryQueue(
      (ref) => this.#records.expiresAt(ref),
      (ref) => this.#index.holds(ref),
    );
  }

  /** Entries held, expired ones not yet removed included. */
  get count(): number {
    return this.#index.count;
  }

  /** Accounted bytes of every entry held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The least recently used entry's ref, the next to evict; 0 when empty. */
  get oldest(): number {
    return this.#recency.oldest;
  }

  /** The ref of the entry used after `ref`, or 0: walks every entry from the oldest. */
  newerThan(ref: number): number {
    return this.#recency.newerThan(ref);
  }

  /**
   * Measures a write, throwing for a key no record can hold; with `stage`, encodes a string value
   * for a {@link put} that follows at once, counting its bytes on the way.
   */
  measure(key: string, value: Value, ttlMs: number, valueBytes?: number, stage = false): Sized {
    const probe = this.#index.probe(key);
    const keyBytes = this.#index.keyBytesOf(probe);
    checkKey(key, keyBytes);
    const wide = typeof value === "string" && isWide(value);
    let stored: number;
    if (typeof value !== "string") stored = value.length;
    else if (wide) stored = 2 * value.length;
    else stored = valueBytes ?? (stage ? this.#records.stage(value) : utf8Bytes(value));
    const chunkBytes = recordBytes(keyBytes, stored);
    const bytes = chunkBytes + INDEX_BYTES_PER_ENTRY + (ttlMs > 0 ? EXPIRY_BYTES : 0);
    return { key, value, ttlMs, probe, keyBytes, valueBytes: stored, wide, chunkBytes, bytes };
  }

  /** The ref of the entry of `key`, or 0; `probe` is the key's, if measured. */
  find(key: string, probe?: number): number {
    return this.#index.find(key, probe);
  }

  /** Whether `write` takes chunks of the sizes the entry at `ref` holds, chained or not. */
  sameChunks(ref: number, write: Sized): boolean {
    return this.#records.chunkBytes(ref) === write.chunkBytes;
  }

  /** Whether `write` can replace the entry at `ref` in its chunk: one chunk of the same size. */
  fitsInPlace(ref: number, write: Sized): boolean {
    return write.chunkBytes <= MAX_CHUNK_BYTES && this.sameChunks(ref, write);
  }

  /**
   * Stores `write` as the most recently used entry: in place of the entry at `reuse`, which holds
   * the same key and {@link fitsInPlace}, or else in chunks from `take` (given a size class, a
   * free chunk's ref). `now` is the clock when `stamp.expiresAt` was set. Returns its ref.
   */
  put(
    write: Sized,
    stamp: Stamp,
    reuse: number,
    now: number,
    take: (cls: number) => number = (cls) => this.#arena.alloc(cls, true),
  ): number {
    let ref = reuse;
    if (reuse !== 0) {
      this.#recency.unlink(reuse);
      this.#forget(reuse);
      this.#records.rewrite(reuse, write.value, write.valueBytes, write.wide);
    } else {
      const { key, keyBytes, value, valueBytes, wide } = write;
      ref = this.#records.write(key, keyBytes, value, valueBytes, wide, take);
      this.#index.add(ref, write.probe);
      this.#slots?.add(key);
    }
    this.#records.stamp(ref, stamp.version, this.#epochs.hold(stamp.epoch), stamp.expiresAt);
    this.#recency.append(ref);
    this.#bytes += write.bytes;
    if (stamp.expiresAt !== 0) {
      this.#withTtl++;
      this.#deadlines.add(ref, stamp.expiresAt, now);
    }
    return ref;
  }

  /** Gives the entry at `ref` a new stamp, keeping its value, expiry and place in the LRU order. */
  restamp(ref: number, version: number, epoch: number): void {
    const records = this.#records;
    const epochId = this.#epochs.hold(epoch); // held first: the same epoch's id stays taken
    this.#epochs.release(records.epochId(ref));
    records.stamp(ref, version, epochId, records.expiresAt(ref));
  }

  /** Removes the entry at `ref` and frees its chunks. */
  remove(ref: number): void {
    this.#slots?.remove(this.slotOf(ref));
    this.#index.remove(ref);
    this.#recency.unlink(ref);
    this.#forget(ref);
    this.#records.free(ref);
  }

  /** Arena pages handed out so far, numbered 1 to this one (see {@link chunkRefs}). */
  get pages(): number {
    return this.#arena.pages;
  }

  /**
   * The refs of the chunks arena page `page` has handed out, some free or in the middle of a
   * long value's chain (see {@link holds}); none for a page in the pool. With every page's, the
   * refs of every entry, read in the arena's order, not in use order: a walk needs no list of
   * them made first.
   */
  chunkRefs(page: number): Uint32Array {
    const refs = new Uint32Array(this.#arena.carved(page));
    for (let i = 0; i < refs.length; i++) refs[i] = this.#arena.chunkAt(page, i);
    return refs;
  }

  /** Whether `ref` is an entry's: see `KeyIndex.holds()`. */
  holds(ref: number): boolean {
    return this.#index.holds(ref);
  }

  /** Whether the entry's key starts with the UTF-8 bytes `prefix`. */
  keyStartsWith(ref: number, prefix: Uint8Array): boolean {
    return this.#records.keyStartsWith(ref, prefix);
  }

  /** The ring slot of the entry's key (`slotOf()`), from its stored bytes. */
  slotOf(ref: number): number {
    const records = this.#records;
    return slotOfBytes(this.#arena.bytes, records.keyStart(ref), records.keyBytes(ref));
  }

  /** Makes the entry at `ref` the most recently used. */
  touch(ref: number): void {
    this.#recency.touch(ref);
  }

  /** Bytes of the arena's buffer: what the entries' memory costs the process. */
  get arenaBytes(): number {
    return this.#arena.byteLength;
  }

  /**
   * Whether the arena has every chunk `writes` need, without a page past its limit: chunks free in
   * pages of their sizes, then free pages or room for pages.
   */
  canPlace(writes: Sized[]): boolean {
    const needs = new Map<number, number>(); // chunks, by size class
    for (const { chunkBytes } of writes) {
      for (const [cls, chunks] of recordChunks(chunkBytes)) {
        needs.set(cls, (needs.get(cls) ?? 0) + chunks);
      }
    }
    return this.#arena.canAllocAll(needs);
  }

  /** A free chunk of class `cls`, or 0 at the arena's page limit unless `force`d past it. */
  alloc(cls: number, force = false): number {
    return this.#arena.alloc(cls, force);
  }

  /** Whether any entry may expire: refs to deadlines are held. */
  get expiring(): boolean {
    return this.#deadlines.size > 0;
  }

  /** The ref of an entry due at `now`, earliest first, or 0 (see {@link prepareDue}). */
  popDue(now: number): number {
    return this.#deadlines.popDue(now);
  }

  /**
   * Takes apart up to `work` refs of the deadlines come due at `now`, which `popDue()` waits
   * for; false when nothing was left to do.
   */
  prepareDue(now: number, work: number): boolean {
    return this.#deadlines.prepare(now, work);
  }

  /**
   * Takes apart up to `work` refs of the deadlines that come due in the next seconds, so that
   * `popDue()` finds them ready; returns whether it did any work.
   */
  prepareDeadlines(now: number, work: number): boolean {
    return this.#deadlines.prepareAhead(now, work);
  }

  /**
   * Drops stale expiry refs once they outnumber the entries with a TTL (and twice what the last
   * pass left: repeats it could not drop), up to `work` refs looked at a call; returns whether the
   * pass goes on.
   */
  tidyDeadlines(work: number): boolean {
    const deadlines = this.#deadlines;
    const bound = Math.max(2 * this.#withTtl + 1024, 2 * deadlines.keptByLastPass);
    if (!deadlines.compacting && deadlines.size <= bound) return false;
    return deadlines.compact(work);
  }

  /** The entry's key. */
  key(ref: number): string {
    return this.#records.key(ref);
  }

  /** The entry's value, decoded once while it stays unchanged if it is read often. */
  value(ref: number): string {
    return this.#decoded.read(ref, this.#decode);
  }

  /**
   * The entry's value as a copy of its UTF-8 bytes, not decoded; undefined for a wide value, held
   * as UTF-16 units (a lone surrogate, which UTF-8 cannot carry).
   */
  valueUtf8(ref: number): Uint8Array | undefined {
    return this.#records.wide(ref) ? undefined : this.#records.valueData(ref);
  }

  /** Bytes the entry's value is stored in: UTF-8, or 2 per UTF-16 unit for a wide value. */
  valueBytes(ref: number): number {
    return this.#records.valueBytes(ref);
  }

  /** When the entry expires, in ms of the store's clock; 0 if never. */
  expiresAt(ref: number): number {
    return this.#records.expiresAt(ref);
  }

  /** The entry's version and ring epoch. */
  stampOf(ref: number): { version: number; epoch: number } {
    const epoch = this.#epochs.epochOf(this.#records.epochId(ref));
    return { version: this.#records.version(ref), epoch };
  }

  /** The bytes the entry at `ref` is accounted, as {@link entryBytes} counts them. */
  accounted(ref: number): number {
    const records = this.#records;
    const expires = records.expiresAt(ref) !== 0;
    return accountedBytes(records.keyBytes(ref), records.valueBytes(ref), expires);
  }

  /** Forgets every entry and gives the arena's memory back. */
  clear(): void {
    this.#slots?.clear();
    this.#arena.clear();
    this.#index.clear();
    this.#recency.clear();
    this.#deadlines.clear();
    this.#epochs.clear();
    this.#decoded.clear();
    this.#bytes = 0;
    this.#withTtl = 0;
  }

  /** Takes the entry at `ref`, about to change or go, out of the accounting and the caches. */
  #forget(ref: number): void {
    this.#bytes -= this.accounted(ref);
    if (this.#records.expiresAt(ref) !== 0) this.#withTtl--;
    this.#epochs.release(this.#records.epochId(ref));
    this.#decoded.forget(ref);
  }

  readonly #decode = (ref: number): string => this.#records.value(ref);
}

/**
 * Accounted bytes of one entry, with or without a TTL; `valueBytes` if already measured (UTF-8).
 * Exactly what the entry takes: its record's chunks, its share of the index, its expiry ref.
 *
 * @example
 * ```ts
 * import { entryBytes } from "./entries.ts";
 * entryBytes("k".repeat(16), "v".repeat(100)); // 156: a 152-byte chunk and 4 bytes of index
 * ```
 */
export function entryBytes(
  key: string,
  value: string,
  expires = false,
  valueBytes?: number,
): number {
  const keyBytes = utf8Bytes(key);
  checkKey(key, keyBytes);
  const stored = isWide(value) ? 2 * value.length : valueBytes ?? utf8Bytes(value);
  return accountedBytes(keyBytes, stored, expires);
}

/** Accounted bytes of an entry of `keyBytes` and `valueBytes` (as stored). */
function accountedBytes(keyBytes: number, valueBytes: number, expires: boolean): number {
  return recordBytes(keyBytes, valueBytes) + INDEX_BYTES_PER_ENTRY + (expires ? EXPIRY_BYTES : 0);
}

/** Throws for a key no record can hold. */
function checkKey(key: string, keyBytes: number): void {
  if (keyBytes > MAX_RECORD_KEY_BYTES) {
    throw new RangeError(
      `Key is ${keyBytes} UTF-8 bytes, over the store's limit of ${MAX_RECORD_KEY_BYTES}`,
    );
  }
  if (keyBytes !== key.length && !key.isWellFormed()) {
    throw new TypeError("Key must be valid Unicode: it holds a lone surrogate");
  }
}
