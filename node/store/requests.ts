// The increments a node remembers by request id for a while, so a retried one is not applied twice.

/** How long an increment's request id is remembered. */
export const REQUEST_MS = 120_000;

/**
 * Most request ids remembered per key; the oldest go first. They travel with every copy of the
 * key's state, so this bounds a copy's size too (about 5 KB of ids at most).
 */
export const MAX_REQUESTS_PER_KEY = 64;

/**
 * Most request ids remembered at once, over every key: with ids of up to 100 characters, about
 * 25 MB at most. The keys least recently incremented are forgotten first.
 */
export const MAX_REQUESTS = 100_000;

/**
 * Most characters of the keys with request ids remembered, over every key: about 16 MB at most.
 * 100,000 ids of as many keys of 1 KiB held 125 MB outside the memory bound.
 */
export const MAX_REQUEST_KEY_CHARS = 8 * 1024 * 1024;

/**
 * Most keys remembered as having had ids dropped for room (see {@link RequestLog.full}): with keys
 * of up to 1 KiB, about 10 MB at most.
 */
export const MAX_DROPPED_KEYS = 10_000;

/** An increment that was applied: its request id, and the value and version it answered. */
export interface Applied {
  id: string;
  value: number;
  version: string;
}

interface Kept extends Applied {
  at: number;
}

/**
 * Request ids of recent increments, by key: an increment retried with the id of one already
 * applied answers what that one answered. The ids travel with the key's state (to its backups,
 * and to its new owners when keys move), so a retry is recognised by whichever node owns the key
 * then. Kept {@link REQUEST_MS}, at most {@link MAX_REQUESTS_PER_KEY} per key.
 *
 * @example
 * ```ts
 * import { RequestLog } from "./requests.ts";
 * const log = new RequestLog(Date.now);
 * log.remember("hits", { id: "r1", value: 5, version: "0.17" });
 * log.recall("hits", "r1"); // { id: "r1", value: 5, version: "0.17" }
 * ```
 */
export class RequestLog {
  readonly #now: () => number;
  readonly #byKey = new Map<string, Kept[]>(); // least recently written first
  #count = 0; // ids kept, over every key
  #keyChars = 0; // characters of the keys they are kept for
  // Keys whose ids were dropped for room before their time, by when: oldest first.
  readonly #dropped = new Map<string, number>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** What the increment of `key` with request id `id` answered, if it is remembered. */
  recall(key: string, id: string): Applied | undefined {
    const kept = this.#recent(key)?.find((applied) => applied.id === id);
    return kept && { id: kept.id, value: kept.value, version: kept.version };
  }

  /** Remembers an increment of `key` that was applied. */
  remember(key: string, applied: Applied): void {
    const list = this.#recent(key) ?? [];
    list.push({ ...applied, at: this.#now() });
    this.#keep(key, list.slice(-MAX_REQUESTS_PER_KEY));
  }

  /**
   * Whether an id of `key` not remembered may have been applied all the same: the key has as many
   * ids as it keeps, or had ids dropped for room (past {@link MAX_REQUESTS} in all) less than
   * {@link REQUEST_MS} ago.
   */
  full(key: string): boolean {
    if ((this.#recent(key)?.length ?? 0) >= MAX_REQUESTS_PER_KEY) return true;
    const dropped = this.#dropped.get(key);
    return dropped !== undefined && dropped > this.#now() - REQUEST_MS;
  }

  /** The increments of `key` remembered, to pass on with its state; undefined when none. */
  of(key: string): Applied[] | undefined {
    const list = this.#recent(key);
    return list?.map(({ id, value, version }) => ({ id, value, version }));
  }

  /**
   * Gives the increments of `key` that answered `from` the version `to`: their state got a new
   * version (see `Store.restamp`), which a retry must answer.
   */
  restamp(key: string, from: string, to: string): void {
    for (const kept of this.#recent(key) ?? []) if (kept.version === from) kept.version = to;
  }

  /** Takes the increments a newer state of `key` came with, in place of those kept here. */
  replace(key: string, applied: Applied[]): void {
    const at = this.#now();
    this.#keep(key, applied.slice(-MAX_REQUESTS_PER_KEY).map((a) => ({ ...a, at })));
  }

  /** Forgets `key`'s request ids and that it had any dropped: its state is gone. */
  forget(key: string): void {
    this.#set(key, []);
    this.#dropped.delete(key);
  }

  /** The keys with request ids remembered, or remembered as having had some dropped. */
  keys(): string[] {
    return [...new Set([...this.#byKey.keys(), ...this.#dropped.keys()])];
  }

  /** Forgets every request id. */
  clear(): void {
    this.#byKey.clear();
    this.#dropped.clear();
    this.#count = 0;
    this.#keyChars = 0;
  }

  /** Keys with request ids remembered. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Request ids remembered, over every key. */
  get count(): number {
    return this.#count;
  }

  #recent(key: string): Kept[] | undefined {
    const list = this.#byKey.get(key);
    if (!list) return undefined;
    const since = this.#now() - REQUEST_MS;
    const recent = list.filter((kept) => kept.at > since);
    if (recent.length < list.length) this.#set(key, recent);
    return recent.length === 0 ? undefined : recent;
  }

  #keep(key: string, list: Kept[]): void {
    this.#set(key, []); // re-inserted last: the map stays least recently written first
    this.#set(key, list);
    const since = this.#now() - REQUEST_MS;
    for (const [oldest, kept] of this.#byKey) {
      const newest = kept[kept.length - 1].at;
      const room = this.#count <= MAX_REQUESTS && this.#keyChars <= MAX_REQUEST_KEY_CHARS;
      if (newest > since && room) break;
      if (newest > since) this.#droppedNow(oldest);
      this.#set(oldest, []);
    }
  }

  /** Remembers that `key` had ids dropped for room now, within {@link MAX_DROPPED_KEYS}. */
  #droppedNow(key: string): void {
    this.#dropped.delete(key);
    this.#dropped.set(key, this.#now());
    if (this.#dropped.size > MAX_DROPPED_KEYS) {
      this.#dropped.delete(this.#dropped.keys().next().value!);
    }
  }

  /** Keeps `list` as `key`'s ids (none: forgets the key), counting them and the key. */
  #set(key: string, list: Kept[]): void {
    const before = this.#byKey.get(key);
    if (before) {
      this.#count -= before.length;
      this.#keyChars -= key.length;
    }
    if (list.length === 0) this.#byKey.delete(key);
    else {
      this.#byKey.set(key, list);
      this.#count += list.length;
      this.#keyChars += key.length;
    }
  }
}
