// The node's key-value store: string values with optional expiry, a memory bound and LRU eviction.

import { newer, type Replica as WireReplica, ttlLeft } from "@cache/protocol/replica";
import type { RawReplica } from "@cache/protocol/replica_body";
import { versionOf } from "@cache/protocol/versions";
import { Entries, type Sized } from "./entries.ts";
import { EntryTooLargeError, StoreFullError } from "./errors.ts";
import type { Value } from "./records.ts";
import { PAGE_BYTES } from "./size_classes.ts";
import { type Applied, RequestLog } from "./requests.ts";
import { SmallestSlots } from "./scan_page.ts";
import { type SlotCountArray, SlotCounts } from "./slot_counts.ts";
import { Slices } from "@cache/async/slices";
import { Deletions, type Stamp, Tombstones } from "./tombstones.ts";

export { entryBytes, EXPIRY_BYTES } from "./entries.ts";
export { EntryTooLargeError, StoreFullError } from "./errors.ts";

/**
 * How far the arena's pages may exceed `maxBytes`: by free chunks in pages of other sizes. Past
 * it, a write evicts until its size has a free chunk (see {@link Store}).
 */
export const PAGE_SLACK = 1.125;

/**
 * Milliseconds a read of the counters, or a write that would evict, spends removing due keys at
 * most: millions of keys due at once held a node for a second, past the master's timeouts.
 */
const EXPIRE_MS = 20;

/** Due keys removed before the first look at whether a write has room; doubled at each look. */
const EXPIRE_STEP = 64;
/** Due keys removed between two looks at most, however many looks came before. */
const MAX_EXPIRE_STEP = 4096;

/**
 * Milliseconds requests (writes short of room, reads of the counters) spend removing due keys at
 * most per {@link REQUESTS_WINDOW_MS}, all together: a bound of 20 ms a chunk let one 6 MB mset
 * spend near 2 s, "however many" with noeviction held a node 10-17 s (due keys whose pages also
 * held live ones free no page), and 20 ms per read of the counters let their callers hold it too.
 */
const REQUESTS_EXPIRE_MS = 200;
const REQUESTS_WINDOW_MS = 1000;

/** Milliseconds one noeviction write spends removing due keys at most before it is refused 507. */
const NOEVICTION_EXPIRE_MS = 100;

/** Expiry refs taken apart or compacted between two looks at the clock: under a millisecond. */
const DEADLINE_STEP = 4096;

/**
 * Entries evictions pass over to reach a key this node is the primary of (or, past their share, a
 * copy): {@link PASSED} an eviction on average, saved up to {@link MAX_PASSED} for a long run (the
 * copies written before the keys read since). Past them the oldest goes, whichever it is: on a
 * node holding few of one kind among many of the other, each eviction would otherwise walk them.
 */
const PASSED = 64;
const MAX_PASSED = 65_536;

/**
 * How long and how many of the states primaries evicted a store remembers (see `dropEvicted`): a
 * copy comes after its notice only while it is on its way, within the sender's peer timeout.
 * Remembered like deletions (five minutes, 100,000), every notice of a busy primary would hold up
 * to tens of MB outside the bound.
 */
const NOTICED_LIMITS = { ms: 30_000, max: 20_000, maxChars: 1024 * 1024 };

/**
 * The share of a store's keys, past their even share, that copies may take before they go first:
 * a node whose peers evict less (a larger bound, say) would otherwise give all its room to their
 * copies and keep none of its own keys, and ring shares differ a little.
 */
export const COPY_SHARE_SLACK = 0.1;

/** A page of a scan: its keys in slot order, and the first slot after it, null past the last. */
export interface KeysPage {
  keys: string[];
  next: number | null;
}

/** What a full store does with a write: evict least-recently-used keys, or refuse it. */
export type Eviction = "lru" | "noeviction";

/** How a store keeps time and how much it may hold. */
export interface StoreOptions {
  /** Milliseconds; the store reads it for every expiry decision. */
  now?: () => number;
  /** Bound on accounted bytes (a full noeviction store takes TTLs past it); 0: unbounded. */
  maxBytes?: number;
  eviction?: Eviction;
  /**
   * Told of each key evicted, with the stamp of the state it held, as it goes: a primary's
   * backups drop that state too (see `EvictionNotices`).
   */
  onEvict?: (key: string, stamp: Stamp) => void;
  /**
   * Whether keys are moving between nodes now: a former owner may then still send an older state
   * of a key, so a state this store lets go of (expired or evicted) is remembered as its end.
   */
  movingKeys?: () => boolean;
  /** Counts the keys per ring slot as they come and go (1 MiB): see {@link Store.keysBySlot}. */
  countsSlots?: boolean;
  /**
   * The share of this store's keys that keys outside the slots last given to
   * {@link Store.countOwned} (copies, kept for their primaries) fill when keys are spread evenly:
   * (R - 1) / R with R owners a key. While copies hold no more than {@link COPY_SHARE_SLACK} of
   * the keys past it, they are evicted after the others, and past it before them (see
   * `#evictOldest`); 0, the default: plain LRU.
   */
  copyShare?: () => number;
}

/** A write: `ttlMs` 0 or absent means the key never expires. */
export interface Write {
  key: string;
  /** A string, or its UTF-8 bytes (copied by the write). */
  value: Value;
  ttlMs?: number;
  /** The value's size in UTF-8 bytes, when the caller has measured it already. */
  valueBytes?: number;
}

/** A key's state as replicas exchange it; a value may be the bytes a request carried. */
export type { RawReplica as Replica } from "@cache/protocol/replica_body";

/**
 * What a read finds: the value, the version of the write that stored it (see `versionOf()`) and,
 * for a key with a TTL, the milliseconds it has left.
 */
export interface Read {
  value: string;
  version: string;
  ttlMs?: number;
}

/** A {@link Read} of a large value for an answer: its UTF-8 bytes, a copy, not decoded. */
export interface BytesRead {
  utf8: Uint8Array;
  version: string;
  ttlMs?: number;
}

/** Counters and sizes of a store: see {@link Store.stats}. */
export interface StoreStats {
  keys: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  expired: number;
}

/**
 * An in-memory map of string keys to string values. Expired keys are never returned nor counted;
 * writes past `maxBytes` evict the least recently used keys (a read counts as use) or are refused
 * (but for TTLs set on stored keys, taken past it by their 4 bytes).
 * A miss is `undefined`, never an exception.
 *
 * Entries are bytes in one arena ({@link Entries}), each accounted exactly what it takes
 * ({@link entryBytes}). Pages may hold free chunks besides, so the arena may take up to
 * {@link PAGE_SLACK} times `maxBytes` of pages: a write whose size would need a page past that
 * evicts least recently used keys until its size has a free chunk or a page of any size empties,
 * as memcached does when its slabs are set. With `noeviction`, such a write is refused instead. A
 * size class with no page yet gets one past the slack either way.
 */
export class Store {
  readonly #now: () => number;
  readonly #maxBytes: number;
  readonly #eviction: Eviction;
  readonly #onEvict: ((key: string, stamp: Stamp) => void) | undefined;
  readonly #movingKeys: () => boolean;
  readonly #copyShare: () => number;
  readonly #entries: Entries;
  readonly #slots: SlotCounts | undefined;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #toPass = MAX_PASSED; // entries evictions may pass over, full at first: see PASSED
  #expired = 0;
  #requestsWindow = -Infinity; // when requests' present window for removing due keys began
  #requestsExpireMs = 0; // their time spent on it in that window
  #lastVersion = 0;
  // The newest stamp of any state this store let go of (evicted, expired, handed over, cleared):
  // a backup may still hold it, so a stamp a writer chose must be newer (see setStamped).
  #horizon: Stamp = { epoch: 0, version: 0 };
  #lastEpoch = 0;
  // The version a cluster's flush went through: states stamped at or below it are refused.
  #flushed = 0;
  readonly #tombstones: Deletions;
  // States primaries evicted, told by /evicted: a late copy of one is not taken (dropEvicted).
  readonly #noticed: Tombstones;
  // Of each walkKeys() under way: the keys written into a new chunk since it began.
  readonly #walks = new Set<Set<string>>();
  readonly #requests: RequestLog;

  constructor(options: StoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#tombstones = new Deletions(this.#now);
    this.#noticed = new Tombstones(this.#now, NOTICED_LIMITS);
    this.#requests = new RequestLog(this.#now);
    this.#maxBytes = options.maxBytes ?? 0;
    this.#eviction = options.eviction ?? "lru";
    this.#onEvict = options.onEvict;
    this.#movingKeys = options.movingKeys ?? (() => false);
    this.#copyShare = options.copyShare ?? (() => 0);
    this.#slots = options.countsSlots ? new SlotCounts() : undefined;
    const maxPages = Math.ceil((this.#maxBytes * PAGE_SLACK) / PAGE_BYTES);
    this.#entries = new Entries(maxPages, this.#slots);
  }

  /** The value of `key` and its time left, or `undefined`; a hit makes the key most recent. */
  get(key: string): Read | undefined {
    const ref = this.#hit(key);
    return ref === 0 ? undefined : this.#read(ref);
  }

  /**
   * Like {@link get}, for an answer: a value of `largeBytes` or more comes as a copy of its UTF-8
   * bytes, which an answer can carry as they are (decoding a 1 MB value, then encoding its JSON
   * again, took about 10 ms here); a shorter one, or one held as UTF-16, as a string.
   */
  getForAnswer(key: string, largeBytes: number): Read | BytesRead | undefined {
    const ref = this.#hit(key);
    if (ref === 0) return undefined;
    const entries = this.#entries;
    const utf8 = entries.valueBytes(ref) >= largeBytes ? entries.valueUtf8(ref) : undefined;
    if (utf8 === undefined) return this.#read(ref);
    const version = versionOf(entries.stampOf(ref));
    const expiresAt = entries.expiresAt(ref);
    return expiresAt === 0 ? { utf8, version } : { utf8, version, ttlMs: expiresAt - this.#now() };
  }

  /**
   * Like {@link get}, but neither counted nor making the key most recent: for read-modify-write.
   */
  peek(key: string): Read | undefined {
    const ref = this.#live(key);
    return ref === 0 ? undefined : this.#read(ref);
  }

  /** The version of `key`'s value, or undefined when it is not stored. */
  versionOf(key: string): string | undefined {
    const ref = this.#live(key);
    return ref === 0 ? undefined : versionOf(this.#entries.stampOf(ref));
  }

  /**
   * The ring epoch `key`'s state here was written in: its live value's, or its remembered
   * deletion's; undefined for neither.
   */
  epochOf(key: string): number | undefined {
    const ref = this.#live(key);
    if (ref !== 0) return this.#entries.stampOf(ref).epoch;
    return this.#tombstones.recent(key)?.epoch;
  }

  /** What the increment of `key` with request id `id` answered, if it is remembered. */
  recall(key: string, id: string): Applied | undefined {
    return this.#requests.recall(key, id);
  }

  /** The increments of `key` remembered by request id, as a replica carries them, if any. */
  requestsOf(key: string): Applied[] | undefined {
    return this.#requests.of(key);
  }

  /** Whether `key` has as many request ids remembered as it keeps (see `RequestLog.full`). */
  requestsFull(key: string): boolean {
    return this.#requests.full(key);
  }

  /** Remembers an increment of `key` that was applied, to recognise a retry of it. */
  remember(key: string, applied: Applied): void {
    this.#requests.remember(key, applied);
  }

  /** The live entry of `key`, counted as a hit and made most recent; 0, counted as a miss. */
  #hit(key: string): number {
    const ref = this.#live(key);
    if (ref === 0) {
      this.#misses++;
      return 0;
    }
    this.#hits++;
    this.#entries.touch(ref);
    return ref;
  }

  #read(ref: number): Read {
    const value = this.#entries.value(ref);
    const version = versionOf(this.#entries.stampOf(ref));
    const expiresAt = this.#entries.expiresAt(ref);
    return expiresAt === 0
      ? { value, version }
      : { value, version, ttlMs: expiresAt - this.#now() };
  }

  /**
   * Stores one value, written in ring `epoch`; throws {@link EntryTooLargeError} or
   * {@link StoreFullError}, changing nothing. Returns the write's version.
   */
  set(key: string, value: string, ttlMs = 0, epoch = 0): number {
    const write = this.#entries.measure(key, value, ttlMs, undefined, true);
    this.#admit([write]);
    return this.#write(write, this.#nextVersion(), epoch);
  }

  /**
   * Stores every write, in order, or none of them, as written in ring `epoch`, with versions above
   * `floor`: a write too large for the bound, or a batch that does not fit while eviction is off,
   * throws before anything changes. Returns the version given to each write.
   */
  setMany(writes: Write[], epoch = 0, floor = 0): number[] {
    const entries = this.#entries;
    const sized = writes.map((w) => entries.measure(w.key, w.value, w.ttlMs ?? 0, w.valueBytes));
    this.#admit(sized);
    if (floor > this.#lastVersion) this.#lastVersion = floor;
    return sized.map((w) => this.#write(w, this.#nextVersion(), epoch));
  }

  /**
   * Stores `write` as its key's primary, stamped `stamp`: a version its writer chose and sent to
   * every owner at once. Stored only if the stamp is newer than anything this store holds or held
   * of the key ({@link newestOf}), so no backup holds a newer state this primary acknowledged.
   * Returns undefined once stored, else the stamp a new try must beat; throws like {@link set}.
   */
  setStamped(write: Write, stamp: Stamp): Stamp | undefined {
    // Seen even when refused: a backup may keep that copy, and no version this store gives may
    // name another state.
    this.#seen(stamp.epoch, stamp.version);
    if (stamp.version <= this.#flushed) return { epoch: stamp.epoch, version: this.#flushed };
    const beat = this.newestOf(write.key);
    if (!newer(stamp, beat)) return beat;
    const sized = this.#entries.measure(write.key, write.value, write.ttlMs ?? 0, write.valueBytes);
    this.#admit([sized]);
    this.#write(sized, stamp.version, stamp.epoch);
    return undefined;
  }

  /**
   * Gives `key`'s state here a version above `floor`, as one written in ring `epoch`, and returns
   * it as a replica for the backups: its live value, unchanged, or else a deletion. For a write
   * this store refused after its sender's copies of it, stamped `floor`, may have reached some
   * owners: this state replaces them there. Takes no room: a value keeps its place. The
   * increments remembered as answering the value's old version answer the new one.
   */
  restamp(key: string, epoch: number, floor: number): WireReplica {
    if (floor > this.#lastVersion) this.#lastVersion = floor;
    const version = this.#nextVersion();
    this.#seen(epoch, version);
    const ref = this.#live(key);
    if (ref === 0) {
      this.#tombstones.remember(key, { version, epoch });
      return { key, version, ...(epoch ? { epoch } : {}), deleted: true };
    }
    const old = versionOf(this.#entries.stampOf(ref));
    this.#entries.restamp(ref, version, epoch);
    this.#requests.restamp(key, old, versionOf({ epoch, version }));
    return this.replica(key)!;
  }

  /**
   * The newest stamp this store knows `key` may have anywhere: its value's (expired or not), its
   * deletion's, or that of the newest state of any key this store let go of since it started.
   */
  newestOf(key: string): Stamp {
    let newest = this.#horizon;
    const forgotten = this.#tombstones.forgotten;
    if (newer(forgotten, newest)) newest = forgotten;
    const held = this.stampOf(key);
    return held && newer(held, newest) ? held : newest;
  }

  /** Bytes of the arena's buffer, free chunks and pages included (see {@link PAGE_SLACK}). */
  get arenaBytes(): number {
    return this.#entries.arenaBytes;
  }

  /** This store's clock: milliseconds since 1970. */
  now(): number {
    return this.#now();
  }

  /** The stamp of `key`'s state here, value (expired or not) or deletion, the newer of the two. */
  stampOf(key: string): Stamp | undefined {
    const ref = this.#entries.find(key);
    const value = ref === 0 ? undefined : this.#entries.stampOf(ref);
    const deletion = this.#tombstones.stampOf(key);
    const held = value && deletion
      ? (newer(deletion, value) ? deletion : value)
      : value ?? deletion;
    return held && { epoch: held.epoch, version: held.version };
  }

  /**
   * Removes `key` and remembers the deletion, made in ring `epoch`, a while ({@link Tombstones}),
   * even of a key not here, so replicas that still hold it drop it too. Returns whether a live key
   * was here, and the deletion's version.
   */
  delete(key: string, epoch = 0): { found: boolean; version: number } {
    const ref = this.#live(key);
    if (ref !== 0) this.#entries.remove(ref);
    const version = this.#nextVersion();
    this.#seen(epoch, version);
    this.#tombstones.remember(key, { version, epoch });
    return { found: ref !== 0, version };
  }

  /**
   * Applies a replica's state of a key if it is newer than this store's, value or deletion (by
   * epoch, then version: a write from an older ring never wins over one from a newer ring) and
   * not stamped at or below the version a flush went through ({@link flushThrough}); returns
   * whether it changed anything. A value at the very stamp of its key's end is taken back when
   * that end was this node's own eviction of it or a deletion a peer passed on (`retakes` of
   * `Deletions`). May evict, or throw like {@link set}.
   */
  apply(replica: RawReplica): boolean {
    if (replica.version <= this.#flushed) return false;
    const noticed = this.#noticed.recent(replica.key); // within its time, however few come
    if (noticed && !newer(replica, noticed)) return false; // its primary evicted it
    const ref = this.#entries.find(replica.key);
    const epoch = replica.epoch ?? 0;
    if (ref !== 0 && !newer(replica, this.#entries.stampOf(ref))) return false;
    const deletion = this.#tombstones.stampOf(replica.key);
    const value = replica.deleted ? undefined : replica.value; // none: a deletion
    if (deletion && !newer(replica, deletion)) {
      // The value this node evicted, or whose end a peer passed on, come back from an owner that
      // holds it still: taken.
      const stamp = { version: replica.version, epoch };
      if (value === undefined || !this.#tombstones.retakes(replica.key, stamp)) {
        return false;
      }
    }
    this.#seen(epoch, replica.version);
    // The increments it remembers come with the state they were applied to, and only with it.
    const requests = replica.requests;
    if (value === undefined) {
      if (ref !== 0) this.#entries.remove(ref);
      this.#tombstones.remember(replica.key, { version: replica.version, epoch }, true);
      if (requests) this.#requests.replace(replica.key, requests);
      return true;
    }
    const ttlMs = replica.ttlMs ?? 0;
    const write = this.#entries.measure(replica.key, value, ttlMs, undefined, true);
    this.#admit([write]);
    this.#tombstones.forget(replica.key);
    this.#write(write, replica.version, epoch);
    if (requests) this.#requests.replace(replica.key, requests);
    return true;
  }

  /**
   * This store's state of `key` as a replica: its live value, a remembered deletion, or none; with
   * the increments of it remembered by request id.
   */
  replica(key: string): WireReplica | undefined {
    const state = this.#state(key);
    const requests = state && this.#requests.of(key);
    return requests ? { ...state, requests } : state;
  }

  #state(key: string): WireReplica | undefined {
    const ref = this.#live(key);
    if (ref !== 0) {
      const expiresAt = this.#entries.expiresAt(ref);
      const ttlMs = expiresAt === 0 ? undefined : ttlLeft(expiresAt - this.#now());
      const { version, epoch } = this.#entries.stampOf(ref);
      return {
        key,
        version,
        ...(epoch ? { epoch } : {}),
        value: this.#entries.value(ref),
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
    return [...this.walkKeys()];
  }

  /**
   * Every key this store holds or remembers deleting, for a walk that lets other work run between
   * its steps (a pass over millions of keys): the arena's pages handed out when it began are read
   * in order, a page at a time, each key read as the walk comes to its chunk. Keys written into a
   * new chunk since it began (written over elsewhere, or taken again after a deletion, or new) are
   * kept aside and come last; one removed since is not in it; a chunk taken by another key yields
   * that key. A key may come twice. (A list of the entries made first, in use order, held a node
   * 75-87 ms at 3 M keys before its first key, 270-618 ms when they were used in another order
   * than written.) Chunks that hold no entry's head cost a hash of at most 2 KiB each.
   */
  *walkKeys(): Generator<string, void, undefined> {
    const entries = this.#entries;
    const pages = entries.pages; // later pages hold keys written since, kept aside
    const written = new Set<string>();
    this.#walks.add(written);
    try {
      for (let page = 1; page <= pages; page++) {
        // A page emptied and taken by another class meanwhile holds only keys written since.
        for (const ref of entries.chunkRefs(page)) if (entries.holds(ref)) yield entries.key(ref);
      }
      yield* this.#tombstones.keys();
      yield* written; // a Set's iterator takes what is added while it runs
    } finally {
      this.#walks.delete(written);
    }
  }

  /**
   * A page of the live keys that start with `prefix`, by slot (`slotOf`), from slot `from` on: the
   * keys of the fewest slots that hold `count` keys (more when one slot holds more), in slot order,
   * and `next`, the first slot not covered, or null when every slot from `from` on is. Two walks
   * over every key, reading its stored bytes and decoding only the page's keys, keeping no more
   * than a page: for scans, never for the hot path. With the ring's slots (no `slotOf` given) and
   * no prefix, a store that counts its keys per slot finds the page's slots from the counts and
   * walks once (due keys count there: such a page may hold fewer than `count`).
   */
  scan(
    from: number,
    count: number,
    prefix: string,
    slotOf?: (key: string) => number,
  ): KeysPage {
    if (slotOf === undefined && prefix === "" && this.#slots) {
      return this.#scanCounted(from, count, this.#slots.counts);
    }
    // No key holds a lone surrogate: no key starts with a prefix that does.
    if (!prefix.isWellFormed()) return { keys: [], next: null };
    const prefixBytes = new TextEncoder().encode(prefix);
    const now = this.#now();
    const entries = this.#entries;
    // The slot of each live key with the prefix, from `from` on, or -1; the key is read back only
    // for a slot of the caller's: the ring's comes from its bytes.
    const slotAt = (ref: number): number => {
      if (!entries.keyStartsWith(ref, prefixBytes)) return -1;
      const expiresAt = entries.expiresAt(ref);
      if (expiresAt !== 0 && expiresAt <= now) return -1;
      const slot = slotOf ? slotOf(entries.key(ref)) : entries.slotOf(ref);
      return slot < from ? -1 : slot;
    };
    // Two walks, keeping no more than a page: the page's last slot, then its keys.
    const smallest = new SmallestSlots(count);
    for (let ref = entries.oldest; ref !== 0; ref = entries.newerThan(ref)) {
      const slot = slotAt(ref);
      if (slot >= 0) smallest.add(slot);
    }
    const last = smallest.last;
    if (last === undefined) return { keys: [], next: null };
    const refs: number[] = [];
    const slots: number[] = [];
    let next = Infinity;
    for (let ref = entries.oldest; ref !== 0; ref = entries.newerThan(ref)) {
      const slot = slotAt(ref);
      if (slot < 0) continue;
      if (slot > last) {
        if (slot < next) next = slot;
        continue;
      }
      refs.push(ref);
      slots.push(slot);
    }
    return this.#page(refs, slots, next === Infinity ? null : next);
  }

  /** {@link scan} of every key, by the slots' counts: see there. */
  #scanCounted(
    from: number,
    count: number,
    counts: ArrayLike<number>,
  ): KeysPage {
    if (from >= counts.length) return { keys: [], next: null }; // past the last slot
    let last = from - 1;
    for (let taken = 0; taken < count && last + 1 < counts.length;) taken += counts[++last];
    let next: number | null = last + 1;
    while (next < counts.length && counts[next] === 0) next++;
    if (next === counts.length) next = null;
    const now = this.#now();
    const entries = this.#entries;
    const refs: number[] = [];
    const slots: number[] = [];
    for (let ref = entries.oldest; ref !== 0; ref = entries.newerThan(ref)) {
      const slot = entries.slotOf(ref);
      if (slot < from || slot > last) continue;
      const expiresAt = entries.expiresAt(ref);
      if (expiresAt !== 0 && expiresAt <= now) continue;
      refs.push(ref);
      slots.push(slot);
    }
    return this.#page(refs, slots, next);
  }

  /** A scan's page of the entries `refs`, in `slots`, in slot order; `next` as given. */
  #page(refs: number[], slots: number[], next: number | null): KeysPage {
    const order = refs.map((_, i) => i).sort((a, b) => slots[a] - slots[b]);
    return { keys: order.map((i) => this.#entries.key(refs[i])), next };
  }

  /**
   * Forgets `key` without remembering a deletion: it was handed over to its new owners. Returns
   * whether it held anything of the key.
   */
  drop(key: string): boolean {
    const ref = this.#entries.find(key);
    if (ref !== 0) this.#letGo(ref);
    const deletion = this.#tombstones.stampOf(key);
    if (deletion) this.#raiseHorizon(deletion);
    this.#tombstones.forget(key);
    return ref !== 0 || deletion !== undefined;
  }

  /**
   * Forgets `key`'s value if it is stamped at or below `stamp`, the state its primary evicted, as
   * an eviction here would: no deletion is remembered (only, while keys move, the state's end), so
   * a newer write is taken as before. The state evicted is remembered apart from deletions, for
   * {@link apply} alone (`NOTICED_LIMITS`): the notice may come before the copy, which would then
   * stay here alone. Returns whether it forgot a value. Not counted as an eviction: that was the
   * primary's.
   */
  dropEvicted(key: string, stamp: Stamp): boolean {
    const ref = this.#entries.find(key);
    if (ref !== 0 && newer(this.#entries.stampOf(ref), stamp)) return false;
    // Its copy may still be on its way, sent after the notice: remembered, it is not taken then.
    const noticed = this.#noticed.stampOf(key);
    if (!noticed || newer(stamp, noticed)) this.#noticed.remember(key, stamp);
    if (ref === 0) return false;
    this.#letGoMoving(ref);
    return true;
  }

  /** Forgets every key and deletion, as a node that rejoins empty does; counters stay. */
  clear(): void {
    this.#raiseHorizon({ epoch: this.#lastEpoch, version: this.#lastVersion });
    this.#entries.clear(); // gives the memory back
    this.#tombstones.clear();
    this.#noticed.clear();
    this.#requests.clear();
  }

  /**
   * A cluster's flush: forgets every state stamped at or below `version`, value or deletion, and
   * refuses such states from now on ({@link apply}, {@link setStamped}); the versions this store
   * gives from now on are above it. Every node is sent the same `version`, the newest any of them
   * had when it emptied in the flush's first round, so a write racing the flush is dropped by all
   * its owners or kept by all, never by some, whichever node it reached first.
   */
  flushThrough(version: number): void {
    if (version >= this.#lastVersion) this.clear(); // every state here is at or below it
    else this.#forgetThrough(version);
    if (version > this.#flushed) this.#flushed = version;
    if (version > this.#lastVersion) this.#lastVersion = version;
  }

  #forgetThrough(version: number): void {
    const entries = this.#entries;
    const tombstones = this.#tombstones;
    const forgotten: number[] = [];
    const kept: number[] = [];
    for (let ref = entries.oldest; ref !== 0; ref = entries.newerThan(ref)) {
      (entries.stampOf(ref).version <= version ? forgotten : kept).push(ref);
    }
    // The request ids of the states forgotten, found before they go: the few keys that have ids.
    const forgetIds = this.#requests.keys().filter((key) => {
      const ref = entries.find(key);
      const stamp = ref !== 0 ? entries.stampOf(ref) : tombstones.stampOf(key);
      return stamp !== undefined && stamp.version <= version;
    });
    if (kept.length < forgotten.length) this.#keepOnly(kept, forgotten);
    else for (const ref of forgotten) this.#letGo(ref);
    for (const key of tombstones.keys()) {
      if (tombstones.stampOf(key)!.version <= version) tombstones.forget(key);
    }
    for (const key of forgetIds) this.#requests.forget(key);
  }

  /**
   * Empties the entries but for `kept` (oldest first), which go back in as copies, letting go of
   * `forgotten`: removing 3,000,000 keys one by one took 7 s, in which the node answered nothing.
   * Deletions stay where they are.
   */
  #keepOnly(kept: number[], forgotten: number[]): void {
    const entries = this.#entries;
    for (const ref of forgotten) this.#raiseHorizon(entries.stampOf(ref));
    const states = kept.map((ref) => entries.key(ref)).flatMap((key) => {
      const state = this.#state(key); // a key come due meanwhile is gone, its end remembered
      return state === undefined || state.deleted ? [] : [state];
    });
    entries.clear();
    for (const state of states) this.apply(state); // with no request ids: those stay as they are
  }

  /**
   * Takes the version a cluster's flush went through, as the ring tells it to a node that did not
   * take the flush itself, as {@link flushThrough} does: a node that joined or restarted after the
   * flush holds no state at or below it, and one the flush's rounds missed forgets those it held,
   * which it answered to reads as the newest states of their keys. Ignored when more than
   * `maxAheadUs` past this store's clock: its versions would then count writes, not time.
   */
  learnFlush(version: number, maxAheadUs = Infinity): void {
    if (version - this.#now() * 1000 > maxAheadUs) return;
    if (version > this.#flushed) this.flushThrough(version);
  }

  /** The version the last cluster flush went through (0 for none): see {@link flushThrough}. */
  get flushedThrough(): number {
    return this.#flushed;
  }

  /** The newest version this store has given or seen. */
  get lastVersion(): number {
    return this.#lastVersion;
  }

  /**
   * Removes up to `budget` keys that are due, earliest first, for one slice of `ms` milliseconds
   * at most (see `Slices`), and with what is left of it readies the next seconds' deadlines and
   * compacts stale ones; returns how many keys it removed.
   */
  expire(budget = Infinity, ms = Infinity): number {
    const slice = new Slices(ms);
    const removed = this.#expireDue(budget, slice);
    // What is left of the slice gets the next seconds' deadlines ready, so a write that needs
    // room finds due keys at once, then drops stale expiry refs: rewrites with TTLs pile them up.
    const now = this.#now();
    while (!slice.over() && this.#entries.prepareDeadlines(now, DEADLINE_STEP));
    while (!slice.over() && this.#entries.tidyDeadlines(DEADLINE_STEP));
    return removed;
  }

  /** Removes up to `budget` due keys within `slice`, taking due deadlines apart as it needs. */
  #expireDue(budget: number, slice: Slices): number {
    const now = this.#now();
    let removed = 0;
    while (removed < budget) {
      const ref = this.#entries.popDue(now);
      if (ref !== 0) {
        this.#letExpire(ref);
        removed++;
        if (slice.spent()) break;
      } else if (!this.#entries.prepareDue(now, DEADLINE_STEP) || slice.over()) break;
    }
    return removed;
  }

  /**
   * The keys held per ring slot (2^20 of them, indexed by `slotOf()`), due keys not yet
   * expired included; undefined unless the store was made with `countsSlots`.
   */
  get keysBySlot(): Readonly<SlotCountArray> | undefined {
    return this.#slots?.counts;
  }

  /**
   * Counts from now on the keys of the slots `owned` marks (1 a slot owned, 0 not: see
   * `Ring.ownedSlots()`) as {@link ownedKeys}. Only for a store made with `countsSlots`.
   */
  countOwned(owned: Uint8Array): void {
    if (this.#slots === undefined) {
      throw new TypeError("Cannot count owned keys: slots are not counted");
    }
    this.#slots.own(owned);
  }

  /**
   * The keys held in the slots last given to {@link countOwned} (0 before), due keys not yet
   * expired included; undefined unless the store was made with `countsSlots`.
   */
  get ownedKeys(): number | undefined {
    return this.#slots?.ownedKeys;
  }

  /**
   * Exact sizes and counters: due keys are expired first, for {@link EXPIRE_MS} at most and within
   * what requests have left of their {@link REQUESTS_EXPIRE_MS}; past it (millions of keys due at
   * once) the rest still count until they are removed.
   */
  stats(): StoreStats {
    this.#expireWhile(() => true, EXPIRE_MS);
    return {
      keys: this.#entries.count,
      bytes: this.#entries.bytes,
      maxBytes: this.#maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expired: this.#expired,
    };
  }

  /** The entry of `key` if it has not expired; an expired one is removed on the way. */
  #live(key: string): number {
    const ref = this.#entries.find(key);
    if (ref === 0) return 0;
    const expiresAt = this.#entries.expiresAt(ref);
    if (expiresAt !== 0 && expiresAt <= this.#now()) {
      this.#letExpire(ref);
      return 0;
    }
    return ref;
  }

  /** Throws unless every write can be stored: none larger than the bound, and with noeviction,
   * all of them fitting once due keys are gone. */
  #admit(writes: Sized[]): void {
    const max = this.#maxBytes;
    if (max === 0) return;
    for (const { bytes } of writes) if (bytes > max) throw new EntryTooLargeError(bytes, max);
    if (this.#eviction === "noeviction") this.#ensureRoom(writes);
  }

  /** Throws StoreFullError unless `writes` fit once due keys are gone. */
  #ensureRoom(writes: Sized[]): void {
    const entries = this.#entries;
    const last = new Map(writes.map((w) => [w.key, w])); // a repeated key: last wins
    // Only stored keys written over in chunks of the same sizes: nothing grows but by a TTL's
    // bytes, taken past the bound as Redis takes EXPIRE when full, so keys can be told to expire
    // to make room. Any other batch must fit whole: TTLs it takes off pay for nothing past it.
    const inPlace = (write: Sized) => {
      const ref = entries.find(write.key);
      return ref !== 0 && entries.sameChunks(ref, write);
    };
    if ([...last.values()].every(inPlace)) return;
    const needed = () => {
      let total = entries.bytes;
      for (const write of last.values()) {
        const ref = entries.find(write.key);
        total += write.bytes - (ref === 0 ? 0 : entries.accounted(ref));
      }
      return total;
    };
    const short = () => needed() > this.#maxBytes || !this.#placeable(writes);
    if (!short()) return;
    // As many due keys as make room, within bounds: the expirer removes the rest meanwhile.
    this.#expireWhile(short, NOEVICTION_EXPIRE_MS);
    const total = needed();
    const bytes = this.#entries.bytes;
    const free = this.#maxBytes - bytes;
    if (total > this.#maxBytes) {
      // Past the bound by TTLs added while full, a write that takes TTLs off may "need" -160.
      throw new StoreFullError(
        free >= 0
          ? `Out of memory: the write needs ${total - bytes} bytes and ${free} are free ` +
            "(eviction is off)"
          : `Out of memory: the store is ${-free} bytes past its bound (TTLs added while full), ` +
            `and would be ${total - this.#maxBytes} past it after the write (eviction is off)`,
      );
    }
    if (!this.#placeable(writes)) {
      throw new StoreFullError(
        `Out of memory: ${free} bytes are free, but in pages of other sizes than this write's, ` +
          "and the store's pages are all taken (eviction is off)",
      );
    }
  }

  /**
   * Whether `writes` find chunks within the arena's pages: its free bytes may lie in pages of
   * other sizes (many keys of one size gone), and past the pages' limit a store that evicts
   * nothing would grow without bound.
   */
  #placeable(writes: Sized[]): boolean {
    const entries = this.#entries;
    const last = new Map(writes.map((write) => [write.key, write])); // one entry a key
    const placed = [...last.values()].filter((write) => {
      // A key written over in chunks of the same sizes takes back the ones it gives up.
      const ref = entries.find(write.key);
      return ref === 0 || !entries.sameChunks(ref, write);
    });
    return entries.canPlace(placed);
  }

  /** Removes the entry `ref`, not for a newer state of its key: its stamp joins the horizon. */
  #letGo(ref: number): void {
    this.#raiseHorizon(this.#entries.stampOf(ref));
    this.#entries.remove(ref);
  }

  /** Removes the due entry `ref` (see {@link #letGoMoving}). */
  #letExpire(ref: number): void {
    this.#letGoMoving(ref);
    this.#expired++;
  }

  /**
   * Removes the entry `ref`, expired or evicted. While keys move, its state is remembered as the
   * key's end: a former owner that still holds an older value, written over by this one, would
   * otherwise bring that value back, forever if it had no TTL.
   */
  #letGoMoving(ref: number, evicted = false): void {
    if (this.#movingKeys()) {
      this.#tombstones.rememberLetGo(this.#entries.key(ref), this.#entries.stampOf(ref), evicted);
    }
    this.#letGo(ref);
  }

  /**
   * Removes due keys while `needed()`, looked at after {@link EXPIRE_STEP} keys and then twice as
   * many each time, for `ms` at most and within what requests have left of their
   * {@link REQUESTS_EXPIRE_MS} in this window.
   */
  #expireWhile(needed: () => boolean, ms: number): void {
    if (!this.#entries.expiring) return;
    const started = performance.now();
    if (started - this.#requestsWindow >= REQUESTS_WINDOW_MS) {
      this.#requestsWindow = started;
      this.#requestsExpireMs = 0;
    }
    const slice = new Slices(Math.min(ms, REQUESTS_EXPIRE_MS - this.#requestsExpireMs));
    for (
      let step = EXPIRE_STEP;
      needed() && !slice.over();
      step = Math.min(2 * step, MAX_EXPIRE_STEP)
    ) {
      if (this.#expireDue(step, slice) === 0) break;
    }
    this.#requestsExpireMs += performance.now() - started;
  }

  #raiseHorizon(stamp: Stamp): void {
    if (newer(stamp, this.#horizon)) this.#horizon = { epoch: stamp.epoch, version: stamp.version };
  }

  /**
   * Keeps the versions this store gives newer than `version`, and remembers `epoch`: every state
   * it takes or makes passes here, so `clear()` knows the newest of all.
   */
  #seen(epoch: number, version: number): void {
    if (version > this.#lastVersion) this.#lastVersion = version;
    if (epoch > this.#lastEpoch) this.#lastEpoch = epoch;
  }

  #write(write: Sized, version: number, epoch: number): number {
    this.#seen(epoch, version);
    const entries = this.#entries;
    const max = this.#maxBytes;
    const now = write.ttlMs > 0 ? this.#now() : 0;
    const expiresAt = write.ttlMs > 0 ? now + write.ttlMs : 0;
    const old = entries.find(write.key, write.probe);
    if (old === 0) this.#tombstones.supersede(write.key);
    // Without eviction #admit made room: a key written over in its chunks may pass the bound by
    // its TTL's bytes, and nothing is evicted for it.
    const admitted = this.#eviction === "noeviction";
    let reuse = 0; // the entry to rewrite in its chunk, still indexed
    if (old !== 0) {
      const fits = max === 0 || admitted ||
        entries.bytes - entries.accounted(old) + write.bytes <= max;
      if (fits && entries.fitsInPlace(old, write)) reuse = old;
      else entries.remove(old);
    }
    if (reuse === 0 && max > 0 && !admitted && entries.bytes + write.bytes > max) {
      // Due keys go before live ones: as many as the write needs, for EXPIRE_MS at most.
      this.#expireWhile(() => entries.bytes + write.bytes > max, EXPIRE_MS);
      // The new entry fits alone (#admit checked), so this stops before the list empties.
      while (entries.bytes + write.bytes > max && entries.oldest !== 0) this.#evictOldest();
    }
    entries.put(write, { version, epoch, expiresAt }, reuse, now, this.#take);
    if (reuse === 0) {
      for (const written of this.#walks) written.add(write.key);
    }
    return version;
  }

  /**
   * A free chunk of class `cls` for an entry being written: past the page limit, due keys go
   * first, then the least recently used, until the class has a free chunk or a page empties.
   */
  readonly #take = (cls: number): number => {
    const entries = this.#entries;
    let ref = entries.alloc(cls);
    if (ref === 0 && this.#eviction === "lru") {
      this.#expireWhile(() => (ref = entries.alloc(cls)) === 0, EXPIRE_MS);
      while (ref === 0 && (ref = entries.alloc(cls)) === 0 && entries.oldest !== 0) {
        this.#evictOldest();
      }
    }
    return ref !== 0 ? ref : entries.alloc(cls, true); // nothing left to evict, or noeviction
  };

  /** A version newer than any this store has given or seen: microseconds of the clock, or +1. */
  #nextVersion(): number {
    this.#lastVersion = Math.max(this.#lastVersion + 1, this.#now() * 1000);
    return this.#lastVersion;
  }

  /**
   * Evicts the least recently used entry, or with a `copyShare` the least recently used in a slot
   * this node is the primary of, copies passed over on the way going to the young end (as many as
   * {@link PASSED} allows); once copies hold more than their share and {@link COPY_SHARE_SLACK},
   * the least recently used copy, the node's own keys passed over. Reads go to primaries, so on
   * their backups copies age first: evicted first, they left keys with one copy of R, at R=2 23 %
   * of them in a test's run. A copy goes when its primary evicts the key and tells this node
   * (`EvictionNotices`), as a Hazelcast backup follows its partition owner's evictions.
   */
  #evictOldest(): void {
    const entries = this.#entries;
    let ref = entries.oldest;
    const slots = this.#slots;
    const share = this.#copyShare();
    const primaries = share > 0 ? slots?.owned : undefined;
    const own = slots?.ownedKeys ?? 0;
    if (primaries !== undefined && own > 0 && own < entries.count) {
      // Past their share, copies go first instead: the node's own keys are passed over.
      const copyFirst = entries.count - own > (share + COPY_SHARE_SLACK) * entries.count;
      this.#toPass = Math.min(MAX_PASSED, this.#toPass + PASSED);
      while (this.#toPass > 0 && (primaries[entries.slotOf(ref)] === 0) !== copyFirst) {
        entries.touch(ref);
        ref = entries.oldest;
        this.#toPass--;
      }
    }
    this.#onEvict?.(entries.key(ref), entries.stampOf(ref));
    this.#letGoMoving(ref, true);
    this.#evictions++;
  }
}
