// Deletions a node remembers for a while, so a late copy of a deleted key cannot bring it back.

import { newer } from "@cache/protocol/replica";

/** How long a deletion is remembered, so a late copy of the key cannot bring it back. */
export const TOMBSTONE_MS = 5 * 60_000;

/** Most deletions remembered at once; the oldest are forgotten first. */
export const MAX_TOMBSTONES = 100_000;

/**
 * Most characters of the keys of the deletions remembered, 8 Mi: about as many bytes (twice as many
 * for keys past Latin-1), held outside the store's bound. The oldest are forgotten first.
 */
export const MAX_TOMBSTONE_KEY_CHARS = 8 * 1024 * 1024;

/** How long ends are kept at most, how many, and how many characters of their keys. */
export interface TombstoneLimits {
  ms: number;
  max: number;
  maxChars: number;
}

/**
 * A deletion's limits: {@link TOMBSTONE_MS}, {@link MAX_TOMBSTONES} and
 * {@link MAX_TOMBSTONE_KEY_CHARS}.
 */
const DELETION_LIMITS: TombstoneLimits = {
  ms: TOMBSTONE_MS,
  max: MAX_TOMBSTONES,
  maxChars: MAX_TOMBSTONE_KEY_CHARS,
};

/** A deletion's version and the ring epoch it was made in. */
export interface Stamp {
  version: number;
  epoch: number;
}

/**
 * Remembered deletions, each with its version and epoch: forgotten {@link TOMBSTONE_MS} after it
 * was made, or sooner, oldest first, while more than {@link MAX_TOMBSTONES} are kept or their keys
 * pass {@link MAX_TOMBSTONE_KEY_CHARS} (other limits for other ends: {@link TombstoneLimits}).
 *
 * @example
 * ```ts
 * import { Tombstones } from "./tombstones.ts";
 * const tombstones = new Tombstones(Date.now);
 * tombstones.remember("k", { version: 7, epoch: 2 });
 * tombstones.stampOf("k"); // { version: 7, epoch: 2 }
 * ```
 */
export class Tombstones {
  readonly #now: () => number;
  readonly #limits: TombstoneLimits;
  readonly #byKey = new Map<string, Stamp & { at: number; retakable: boolean }>(); // oldest first
  #forgotten: Stamp = { version: 0, epoch: 0 };
  #chars = 0; // of the keys kept

  /** `limits`: how long and how many are kept; by default those of deletions. */
  constructor(now: () => number, limits: TombstoneLimits = DELETION_LIMITS) {
    this.#now = now;
    this.#limits = limits;
  }

  /**
   * Remembers that `key` was deleted, stamped `stamp`; `retakable` for the end of a value another
   * owner may hold still (see {@link retakable}).
   */
  remember(key: string, stamp: Stamp, retakable = false): void {
    this.forget(key); // re-inserted last: the map stays oldest first
    const { version, epoch } = stamp;
    this.#byKey.set(key, { version, epoch, at: this.#now(), retakable });
    this.#chars += key.length;
    this.#forgetOld();
  }

  /** Whether `key`'s end kept here may give way to the value it ended, stamped the same. */
  retakable(key: string): boolean {
    return this.#byKey.get(key)?.retakable ?? false;
  }

  /** `key`'s end, if kept, no longer gives way to the value it ended (see {@link retakable}). */
  holdFast(key: string): void {
    const kept = this.#byKey.get(key);
    if (kept) kept.retakable = false;
  }

  /**
   * The stamp of `key`'s deletion while it is still kept, past its time or not: the safest answer
   * for deciding whether a copy is older.
   */
  stampOf(key: string): Stamp | undefined {
    const kept = this.#byKey.get(key);
    return kept && { version: kept.version, epoch: kept.epoch };
  }

  /** The stamp of `key`'s deletion if it is recent enough to be passed on, else undefined. */
  recent(key: string): Stamp | undefined {
    this.#forgetOld();
    return this.stampOf(key);
  }

  /** The keys of the recent deletions. */
  keys(): string[] {
    this.#forgetOld();
    return [...this.#byKey.keys()];
  }

  /**
   * The newest stamp of the deletions forgotten for their age or their number: a replica may still
   * hold a state of the key that only such a deletion was newer than.
   */
  get forgotten(): Stamp {
    return this.#forgotten;
  }

  /** Forgets `key`'s deletion. */
  forget(key: string): void {
    if (this.#byKey.delete(key)) this.#chars -= key.length;
  }

  /** Forgets every deletion. */
  clear(): void {
    this.#byKey.clear();
    this.#chars = 0;
  }

  #forgetOld(): void {
    if (this.#byKey.size === 0) return; // read for every copy a node takes: mostly empty
    const { ms, max, maxChars } = this.#limits;
    const before = this.#now() - ms;
    for (const [key, tombstone] of this.#byKey) {
      const full = this.#byKey.size > max || this.#chars > maxChars;
      if (tombstone.at > before && !full) break;
      if (newer(tombstone, this.#forgotten)) {
        this.#forgotten = { epoch: tombstone.epoch, version: tombstone.version };
      }
      this.forget(key);
    }
  }
}

/**
 * A key's remembered end: its deletions, and apart from them, while keys move, the states this
 * node let go of (expired, evicted here, or evicted by its primary), which a late older copy must
 * not replace either. Each list is capped on its own, so a flood of expiries never pushes out the
 * deletions. A state this node evicted, or whose end a peer passed on, may be taken back as it was
 * ({@link retakes}): its other owners may hold it still.
 *
 * @example
 * ```ts
 * import { Deletions } from "./tombstones.ts";
 * const deletions = new Deletions(Date.now);
 * deletions.remember("k", { version: 7, epoch: 2 });
 * deletions.rememberLetGo("k", { version: 9, epoch: 2 });
 * deletions.stampOf("k"); // { version: 9, epoch: 2 }: the newer
 * ```
 */
export class Deletions {
  readonly #deleted: Tombstones;
  readonly #letGo: Tombstones;

  constructor(now: () => number) {
    this.#deleted = new Tombstones(now);
    this.#letGo = new Tombstones(now);
  }

  /**
   * Remembers that `key` was deleted, stamped `stamp`: here, or, `passedOn`, on a peer, which may
   * also pass on a state's end that way (one it evicted or saw expire, while keys move).
   */
  remember(key: string, stamp: Stamp, passedOn = false): void {
    this.#deleted.remember(key, stamp, passedOn);
  }

  /**
   * Remembers that `key`'s state stamped `stamp` was let go of: expired, evicted by its primary
   * (this node dropped its copy on the notice), or, `evictedHere`, evicted by this node.
   */
  rememberLetGo(key: string, stamp: Stamp, evictedHere = false): void {
    this.#letGo.remember(key, stamp, evictedHere);
  }

  /**
   * Whether a copy stamped `stamp` may take `key` back: its newest end is that very state's, and
   * was this node's own eviction of it or a deletion a peer passed on. A deletion gets a version of
   * its own, never the value's it removes, so the peer's was that value's end too (its eviction or
   * expiry there, passed on as keys moved). The key's other owners may hold it still; a node
   * evicting a copy tells no one, and refused, the key stayed on them alone once this node became
   * its primary, read as missing.
   */
  retakes(key: string, stamp: Stamp): boolean {
    const end = this.stampOf(key);
    if (!end || newer(end, stamp) || newer(stamp, end)) return false;
    for (const list of [this.#deleted, this.#letGo]) {
      const kept = list.stampOf(key);
      if (kept && !newer(stamp, kept) && !list.retakable(key)) return false; // an end of its own
    }
    // Nor at or below an end forgotten for the lists' caps: it may have been this key's.
    return newer(stamp, newest(this.#deleted.forgotten, this.#letGo.forgotten)!);
  }

  /**
   * `key` holds a newer state than any end remembered: its ends refuse the states they ended from
   * now on, as other ends do. Taken back once the newer state is gone (evicted or expired with no
   * end remembered), one would bring back a value this node had written over.
   */
  supersede(key: string): void {
    this.#deleted.holdFast(key);
    this.#letGo.holdFast(key);
  }

  /** The stamp of `key`'s newest remembered end, past its time or not. */
  stampOf(key: string): Stamp | undefined {
    return newest(this.#deleted.stampOf(key), this.#letGo.stampOf(key));
  }

  /** The stamp of `key`'s newest end recent enough to be passed on, else undefined. */
  recent(key: string): Stamp | undefined {
    return newest(this.#deleted.recent(key), this.#letGo.recent(key));
  }

  /** The keys of the recent ends. */
  keys(): string[] {
    return [...new Set([...this.#deleted.keys(), ...this.#letGo.keys()])];
  }

  /** The newest stamp of the ends forgotten for their age or their number. */
  get forgotten(): Stamp {
    return newest(this.#deleted.forgotten, this.#letGo.forgotten)!;
  }

  /** Forgets `key`'s ends. */
  forget(key: string): void {
    this.#deleted.forget(key);
    this.#letGo.forget(key);
  }

  /** Forgets every end. */
  clear(): void {
    this.#deleted.clear();
    this.#letGo.clear();
  }
}

function newest(a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined {
  return a && b ? (newer(b, a) ? b : a) : a ?? b;
}
