// The node's key-value store: string values with optional expiry, a memory bound and LRU eviction.

import { newer, type Replica } from "../../shared/protocol/replica.ts";
import { utf8Bytes } from "../../shared/protocol/wire.ts";
import { ExpiryHeap } from "./expiry.ts";
import { RecencyList } from "./recency.ts";
import { Tombstones } from "./tombstones.ts";

/**
 * Bytes accounted for each entry on top of its key's and value's UTF-8 bytes: the map slot, the
 * entry object and the string headers. `deno task bench` measures about 115 on the heap for a
 * 16-byte key and a 100-byte value.
 */
export const ENTRY_OVERHEAD_BYTES = 128;

/** Further bytes accounted for an entry with a TTL: its expiry record (about 90 measured). */
export const EXPIRY_OVERHEAD_BYTES = 96;

/** What a full store does with a write: evict least-recently-used keys, or refuse it. */
export type Eviction = "lru" | "noeviction";

/** How a store keeps time and how much it may hold. */
export interface StoreOptions {
  /** Milliseconds; the store reads it for every expiry decision. */
  now?: () => number;
  /** Bound on accounted bytes; 0 means unbounded. */
  maxBytes?: number;
  eviction?: Eviction;
}

/** A write: `ttlMs` 0 or absent means the key never expires. */
export interface Write {
  key: string;
  value: string;
  ttlMs?: number;
  /** The value's size in UTF-8 bytes, when the caller has measured it already. */
  valueBytes?: number;
}

export type { Replica } from "../../shared/protocol/replica.ts";

/** What a read finds: the value and, for a key with a TTL, the milliseconds it has left. */
export interface Read {
  value: string;
  ttlMs?: number;
}

/** Counters and sizes of a store; exact, with due keys already expired. */
export interface StoreStats {
  keys: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  expired: number;
}

/** A write that can never fit: the entry alone is larger than the whole bound (HTTP 413). */
export class EntryTooLargeError extends RangeError {
  constructor(bytes: number, maxBytes: number) {
    super(`Entry needs ${bytes} bytes, more than the whole memory bound of ${maxBytes} bytes`);
    this.name = "EntryTooLargeError";
  }
}

/** A write refused because the store is full and evicts nothing (HTTP 507). */
export class StoreFullError extends Error {
  constructor(needed: number, free: number) {
    super(`Out of memory: the write needs ${needed} bytes and ${free} are free (eviction is off)`);
    this.name = "StoreFullError";
  }
}

interface Entry {
  key: string;
  value: string;
  version: number;
  epoch: number;
  expiresAt: number; // 0: never
  bytes: number;
  // Neighbours in the recency list.
  older: Entry | undefined;
  newer: Entry | undefined;
}

/**
 * An in-memory map of string keys to string values. Expired keys are never returned nor counted;
 * writes past `maxBytes` evict the least recently used keys (a read counts as use) or are refused.
 * A miss is `undefined`, never an exception.
 */
export class Store {
  readonly #now: () => number;
  readonly #maxBytes: number;
  readonly #eviction: Eviction;
  readonly #entries = new Map<string, Entry>();
  readonly #recency = new RecencyList<Entry>(); // least recently used first
  readonly #deadlines = new ExpiryHeap<Entry>();
  #withTtl = 0;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #expired = 0;
  #lastVersion = 0;
  readonly #tombstones: Tombstones;

  constructor(options: StoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#tombstones = new Tombstones(this.#now);
    this.#maxBytes = options.maxBytes ?? 0;
    this.#eviction = options.eviction ?? "lru";
  }

  /** The value of `key` and its time left, or `undefined`; a hit makes the key most recent. */
  get(key: string): Read | undefined {
    const entry = this.#live(key);
    if (!entry) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#recency.touch(entry);
    return entry.expiresAt === 0
      ? { value: entry.value }
      : { value: entry.value, ttlMs: entry.expiresAt - this.#now() };
  }

  /**
   * Stores one value, written in ring `epoch`; throws {@link EntryTooLargeError} or
   * {@link StoreFullError}, changing nothing. Returns the write's version.
   */
  set(key: string, value: string, ttlMs = 0, epoch = 0): number {
    const bytes = entryBytes(key, value, ttlMs > 0);
    this.#admit([{ key, bytes }]);
    return this.#write(key, value, ttlMs, bytes, this.#nextVersion(), epoch);
  }

  /**
   * Stores every write, in order, or none of them, as written in ring `epoch`: a write too large
   * for the bound, or a batch that does not fit while eviction is off, throws before anything
   * changes. Returns the version given to each write.
   */
  setMany(writes: Write[], epoch = 0): number[] {
    const sized = writes.map((write) => ({
      ...write,
      bytes: entryBytes(write.key, write.value, (write.ttlMs ?? 0) > 0, write.valueBytes),
    }));
    this.#admit(sized);
    return sized.map((w) =>
      this.#write(w.key, w.value, w.ttlMs ?? 0, w.bytes, this.#nextVersion(), epoch)
    );
  }

  /**
   * Removes `key` and remembers the deletion, made in ring `epoch`, a while ({@link Tombstones}),
   * even of a key not here, so replicas that still hold it drop it too. Returns whether a live key
   * was here, and the deletion's version.
   */
  delete(key: string, epoch = 0): { found: boolean; version: number } {
    const entry = this.#live(key);
    if (entry) this.#remove(key, entry);
    const version = this.#nextVersion();
    this.#tombstones.remember(key, { version, epoch });
    return { found: entry !== undefined, version };
  }

  /**
   * Applies a replica's state of a key if it is newer than this store's, value or deletion (by
   * epoch, then version: a write from an older ring never wins over one from a newer ring);
   * returns whether it changed anything. May evict, or throw like {@link set}.
   */
  apply(replica: Replica): boolean {
    const entry = this.#entries.get(replica.key);
    const epoch = replica.epoch ?? 0;
    if (entry && !newer(replica, entry)) return false;
    const deletion = this.#tombstones.stampOf(replica.key);
    if (deletion && !newer(replica, deletion)) return false;
    this.#lastVersion = Math.max(this.#lastVersion, replica.version);
    if (replica.deleted || replica.value === undefined) {
      if (entry) this.#remove(replica.key, entry);
      this.#tombstones.remember(replica.key, { version: replica.version, epoch });
      return true;
    }
    const ttlMs = replica.ttlMs ?? 0;
    const bytes = entryBytes(replica.key, replica.value, ttlMs > 0);
    this.#admit([{ key: replica.key, bytes }]);
    this.#tombstones.forget(replica.key);
    this.#write(replica.key, replica.value, ttlMs, bytes, replica.version, epoch);
    return true;
  }

  /** This store's state of `key` as a replica: its live value, a remembered deletion, or none. */
  replica(key: string): Replica | undefined {
    const entry = this.#live(key);
    if (entry) {
      const ttlMs = entry.expiresAt === 0 ? undefined : entry.expiresAt - this.#now();
      return {
        key,
        version: entry.version,
        ...(entry.epoch ? { epoch: entry.epoch } : {}),
        value: entry.value,
        ...(ttlMs ? { ttlMs } : {}),
      };
    }
    const deletion = this.#tombstones.recent(key);
    if (deletion === undefined) return undefined;
    const { version, epoch } = deletion;
    return { key, version, ...(epoch ? { epoch } : {}), deleted: true };
  }

  /** Every key this store holds or remembers deleting, as of now. */
  keys(): string[] {
    return [...this.#entries.keys(), ...this.#tombstones.keys()];
  }

  /** Forgets `key` without remembering a deletion: it was handed over to its new owners. */
  drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry) this.#remove(key, entry);
    this.#tombstones.forget(key);
  }

  /** Forgets every key and deletion, as a node that rejoins empty does; counters stay. */
  clear(): void {
    for (const [key, entry] of [...this.#entries]) this.#remove(key, entry);
    this.#tombstones.clear();
  }

  /** Removes up to `budget` keys that are due, earliest first; returns how many it removed. */
  expire(budget = Infinity): number {
    const now = this.#now();
    let removed = 0;
    while (removed < budget) {
      const due = this.#deadlines.popDue(now);
      if (!due) break;
      if (this.#entries.get(due.key) !== due.ref) continue; // rewritten or gone since
      this.#remove(due.key, due.ref);
      this.#expired++;
      removed++;
    }
    // Rewrites leave stale records behind; drop them once they outnumber the live ones.
    if (this.#deadlines.size > 2 * this.#withTtl + 1024) {
      this.#deadlines.compact((d) => this.#entries.get(d.key) === d.ref);
    }
    return removed;
  }

  /** Exact sizes and counters: due keys are expired first. */
  stats(): StoreStats {
    this.expire();
    return {
      keys: this.#entries.size,
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expired: this.#expired,
    };
  }

  /**
   * How many live keys pass `test`: one walk over every key, for counters such as a node's keys
   * held as primary, never for the hot path.
   */
  count(test: (key: string) => boolean): number {
    const now = this.#now();
    let count = 0;
    for (const entry of this.#entries.values()) {
      if ((entry.expiresAt === 0 || entry.expiresAt > now) && test(entry.key)) count++;
    }
    return count;
  }

  /** The entry of `key` if it has not expired; an expired one is removed on the way. */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.#now()) {
      this.#remove(key, entry);
      this.#expired++;
      return undefined;
    }
    return entry;
  }

  /** Throws unless every write can be stored: none larger than the bound, and with noeviction,
   * all of them fitting once due keys are gone. */
  #admit(writes: { key: string; bytes: number }[]): void {
    const max = this.#maxBytes;
    if (max === 0) return;
    for (const { bytes } of writes) if (bytes > max) throw new EntryTooLargeError(bytes, max);
    if (this.#eviction === "noeviction") this.#ensureRoom(writes);
  }

  /** Throws StoreFullError unless `writes` fit once due keys are gone. */
  #ensureRoom(writes: { key: string; bytes: number }[]): void {
    const needed = () => {
      const last = new Map(writes.map((w) => [w.key, w.bytes])); // a repeated key: last wins
      let total = this.#bytes;
      for (const [key, bytes] of last) total += bytes - (this.#entries.get(key)?.bytes ?? 0);
      return total;
    };
    if (needed() <= this.#maxBytes) return;
    this.expire();
    const total = needed();
    if (total > this.#maxBytes) {
      throw new StoreFullError(total - this.#bytes, this.#maxBytes - this.#bytes);
    }
  }

  #write(
    key: string,
    value: string,
    ttlMs: number,
    bytes: number,
    version: number,
    epoch: number,
  ): number {
    const expiresAt = ttlMs > 0 ? this.#now() + ttlMs : 0;
    const entry: Entry = {
      key,
      value,
      version,
      epoch,
      expiresAt,
      bytes,
      older: undefined,
      newer: undefined,
    };
    const old = this.#entries.get(key);
    if (old) this.#detach(old);
    this.#entries.set(key, entry); // replaces in place: no hole left in the map
    this.#recency.append(entry);
    this.#bytes += bytes;
    if (expiresAt !== 0) {
      this.#withTtl++;
      this.#deadlines.push({ at: expiresAt, key, ref: entry });
    }
    if (this.#maxBytes > 0 && this.#bytes > this.#maxBytes) {
      this.expire(); // expired keys go before live ones
      // The new entry fits alone (setMany checked), so this stops before reaching it.
      while (this.#bytes > this.#maxBytes && this.#recency.oldest !== entry) {
        const oldest = this.#recency.oldest!;
        this.#remove(oldest.key, oldest);
        this.#evictions++;
      }
    }
    return version;
  }

  /** A version newer than any this store has given or seen: microseconds of the clock, or +1. */
  #nextVersion(): number {
    this.#lastVersion = Math.max(this.#lastVersion + 1, this.#now() * 1000);
    return this.#lastVersion;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#detach(entry);
  }

  /** Takes `entry` out of the recency list and the accounting, leaving the map alone. */
  #detach(entry: Entry): void {
    this.#recency.unlink(entry);
    this.#bytes -= entry.bytes;
    if (entry.expiresAt !== 0) this.#withTtl--;
  }
}

/** Accounted bytes of one entry, with or without a TTL; `valueBytes` if already measured. */
export function entryBytes(
  key: string,
  value: string,
  expires = false,
  valueBytes = utf8Bytes(value),
): number {
  const overhead = ENTRY_OVERHEAD_BYTES + (expires ? EXPIRY_OVERHEAD_BYTES : 0);
  return utf8Bytes(key) + valueBytes + overhead;
}
