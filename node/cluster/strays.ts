// Keys a node still on an older ring hands here go on to their owners in the ring this node
// follows.

import { aged, newer } from "@cache/protocol/replica";
import { newerRing, type RingView } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";
import { sleep } from "@cache/async/sleep";
import { Waiters } from "@cache/async/waiters";
import type { Logger } from "@cache/log/log";
import type { RingRef } from "@cache/protocol/sender_ring";
import type { Replica, Store } from "../store/store.ts";
import { BATCH_BYTES, jsonBytes } from "./rebalance.ts";

/** Who this node is, what it holds, the ring it follows and how it sends keys to a peer. */
export interface StraysOptions {
  self: string;
  store: Store;
  /** The ring this node follows now, if any. */
  view: () => RingView | undefined;
  /** Sends replicas to a node's `/replicate`, naming `view`; rejects when it does not take them. */
  send: (node: string, replicas: Replica[], view: RingView) => Promise<unknown>;
  /** Keys per request to a peer. */
  batch: number;
  /** Bytes of JSON per request to a peer at most, a single key's excepted; default 1 MiB. */
  batchBytes?: number;
  /**
   * Whether a node on a ring newer than `view` sent `key` here: it is kept, not dropped once
   * sent on (see `Rebalancer.claimedAfter`). Default: never.
   */
  claimedAfter?: (key: string, view: RingRef) => boolean;
  log: Logger;
  /** Waits `ms` before an owner whose call failed is sent to again; default {@link sleep}. */
  sleep?: (ms: number) => Promise<void>;
}

/** Wait before an owner whose call failed is sent to again, or a ring with nodes is looked for. */
const RETRY_MS = 500;

/**
 * A key's state as it was when it came, and when it was read (its TTL counts down meanwhile), its
 * size as JSON, and the owners that took it: a call tried again does not send it to them again.
 */
interface Held {
  replica: Replica;
  at: number;
  bytes: number;
  took: Set<string>;
  /** Settles true once every owner took it (or a newer state of the key), false if forgotten. */
  sent: PromiseWithResolvers<boolean>;
}

/**
 * Keys handed here by a sender on an older ring, sent on to every other owner of the ring this
 * node follows. A node's pass for a ring walks the keys it held when the pass began, so one handed
 * over later by a node behind it was never sent anywhere: that node dropped its copy, and this
 * one, not an owner, dropped it at its next ring. Each such key goes on as it was when it came,
 * and is dropped here once every owner has it, unless this node owns it or it changed meanwhile.
 */
export class Strays {
  readonly #options: StraysOptions;
  #waiting = new Map<string, Held>();
  readonly #sending = new Set<string>(); // owners a call is out to: one at a time each
  readonly #resting = new Set<string>(); // owners whose call failed, until their retry wait ends
  // Keys an owner lacks, noted while a call was out to it or it rested: sent when it is free.
  readonly #pending = new Map<string, Set<Held>>();
  #noRing = false; // waiting for a ring with nodes to send by
  #placed: { view: RingView; ring: Ring } | undefined; // the ring of the view sent by last
  #stopAt = Infinity; // performance.now() past which nothing is sent (see stopAt)
  readonly #waiters = new Waiters();
  #sent = 0;

  constructor(options: StraysOptions) {
    this.#options = options;
  }

  /** Keys sent on since start. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Takes note of the keys of `entries`, just applied from a sender that placed them by `from`:
   * when that ring is older than this node's, they are sent on to their owners in this node's ring.
   * Resolves once they all are, as they were here or newer (true), or some were forgotten (false);
   * undefined when there is nothing to send on. A sender waits for it before its write counts:
   * until then, a read by this node's ring may find an older state at the key's new owners.
   */
  take(entries: Iterable<{ key: string }>, from: RingRef): Promise<boolean> | undefined {
    const view = this.#options.view();
    if (view === undefined || !newerRing(view, from)) return undefined;
    const { store } = this.#options;
    const sent: Promise<boolean>[] = [];
    const fresh: Held[] = [];
    for (const { key } of entries) {
      const replica = store.replica(key);
      if (replica === undefined) continue; // nothing here: expired on arrival
      const held = this.#waiting.get(key);
      if (held && !newer(replica, held.replica)) {
        sent.push(held.sent.promise); // it goes on as waiting: this state, or a newer one
        continue;
      }
      const next: Held = {
        replica,
        at: store.now(),
        bytes: jsonBytes(replica),
        took: new Set(),
        sent: Promise.withResolvers(),
      };
      if (held) next.sent.promise.then(held.sent.resolve); // newer: it stands for the one before
      this.#waiting.set(key, next);
      fresh.push(next);
      sent.push(next.sent.promise);
    }
    this.#start(fresh);
    if (sent.length === 0) return undefined;
    return Promise.all(sent).then((all) => all.every(Boolean));
  }

  /**
   * Sends nothing from `at` on (`performance.now()`): a leaving node's handover time, past which
   * the masters count what it still holds as gone. The calls under way send no further part, and
   * the keys waiting are forgotten, kept here: their senders learn they were not sent on.
   */
  stopAt(at: number): void {
    this.#stopAt = at;
  }

  /** Forgets the keys waiting, as after the store was cleared to rejoin empty. */
  reset(): void {
    for (const held of this.#waiting.values()) held.sent.resolve(false);
    this.#waiting.clear();
    this.#pending.clear();
    this.#wakeIfIdle();
  }

  /** Resolves once nothing waits to be sent, or after `timeoutMs`; resolves whether it is idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#waiting.size === 0 && this.#sending.size === 0) return Promise.resolve(true);
    return this.#waiters.wait(timeoutMs);
  }

  /**
   * Sends `helds` (by default every key waiting) on to their owners in the ring this node follows
   * that do not have them yet: one call after another to each owner, owners in parallel, and none
   * to an owner a call is out to (its call then sends the rest when it ends) or waiting to try
   * again. So a slow owner holds back only its own keys, whose senders wait for them.
   */
  #start(helds: Iterable<Held> = this.#waiting.values()): void {
    if (performance.now() >= this.#stopAt) return this.reset();
    const view = this.#options.view();
    if (view === undefined || view.nodes.length === 0) {
      if (this.#waiting.size > 0) this.#waitForRing();
      return;
    }
    const ring = this.#ringOf(view);
    const byOwner = new Map<string, Held[]>();
    for (const held of [...helds]) {
      if (this.#waiting.get(held.replica.key) !== held) continue; // a newer state goes instead
      const left = this.#left(held, ring, view);
      if (left.length === 0) this.#done(held, ring, view);
      for (const owner of left) {
        if (this.#sending.has(owner) || this.#resting.has(owner)) {
          const pending = this.#pending.get(owner) ?? new Set();
          pending.add(held);
          this.#pending.set(owner, pending);
          continue;
        }
        const queued = byOwner.get(owner) ?? [];
        queued.push(held);
        byOwner.set(owner, queued);
      }
    }
    for (const [owner, queued] of byOwner) void this.#send(view, ring, owner, queued);
    this.#wakeIfIdle();
  }

  /** The owners of `held`'s key in `view`'s ring, this node aside, that have not taken it. */
  #left(held: Held, ring: Ring, view: RingView): string[] {
    const owners = ring.owners(held.replica.key, view.replicas);
    return owners.filter((owner) => owner !== this.#options.self && !held.took.has(owner));
  }

  /**
   * `held` is on every owner in `view`'s ring: its senders are told, and, unless a newer state of
   * the key waits to go on, it leaves: dropped here unless this node owns the key or it changed.
   */
  #done(held: Held, ring: Ring, view: RingView): void {
    held.sent.resolve(true);
    const key = held.replica.key;
    if (this.#waiting.get(key) !== held) return;
    this.#waiting.delete(key);
    const { self, store } = this.#options;
    const now = store.replica(key);
    const owned = ring.owners(key, view.replicas).includes(self) ||
      this.#options.claimedAfter?.(key, view) === true;
    if (!owned && now !== undefined && !newer(now, held.replica)) store.drop(key);
  }

  /** Sends `queued` to `owner`, then whatever waits for it meanwhile; a failure waits to retry. */
  async #send(view: RingView, ring: Ring, owner: string, queued: Held[]): Promise<void> {
    const { store, batch, log } = this.#options;
    this.#sending.add(owner);
    let failed: Held[] = [];
    const all = parts(queued, batch, this.#options.batchBytes ?? BATCH_BYTES);
    for (const [i, part] of all.entries()) {
      if (performance.now() >= this.#stopAt) break; // the rest is forgotten by #start below
      const now = store.now();
      try {
        await this.#options.send(owner, part.map((h) => aged(h.replica, now - h.at)), view);
      } catch (error) {
        log.warn("stray keys not sent on, will retry", {
          node: owner,
          keys: part.length,
          error: String(error),
        });
        failed = all.slice(i).flat();
        break;
      }
      this.#sent += part.length;
      log.info("stray keys sent on", { node: owner, epoch: view.epoch, keys: part.length });
      // Done by the ring as it is now: one that changed meanwhile may have other owners.
      const same = this.#follows(view);
      for (const held of part) {
        held.took.add(owner);
        if (same && this.#left(held, ring, view).length === 0) this.#done(held, ring, view);
      }
    }
    this.#sending.delete(owner);
    if (!this.#follows(view)) {
      this.#pending.delete(owner);
      return this.#start(); // a newer ring: every key waiting, by its owners
    }
    if (failed.length > 0) return this.#rest(owner, failed);
    this.#start(this.#takePending(owner));
  }

  /** Sends nothing more to `owner` for {@link RETRY_MS}, then `failed` and what else waits. */
  #rest(owner: string, failed: Held[]): void {
    this.#resting.add(owner);
    this.#afterRetryWait(() => {
      this.#resting.delete(owner);
      this.#start([...failed, ...this.#takePending(owner)]);
    });
  }

  /** The keys noted for `owner` while it was busy, now forgotten there. */
  #takePending(owner: string): Held[] {
    const pending = this.#pending.get(owner);
    this.#pending.delete(owner);
    return pending ? [...pending] : [];
  }

  /** Tries again in {@link RETRY_MS}, for a ring with nodes to send by. */
  #waitForRing(): void {
    if (this.#noRing) return;
    this.#noRing = true;
    this.#afterRetryWait(() => {
      this.#noRing = false;
      this.#start();
    });
  }

  #afterRetryWait(then: () => void): void {
    (this.#options.sleep ?? sleep)(RETRY_MS).then(then);
  }

  /** Whether this node still follows the ring of `view`. */
  #follows(view: RingView): boolean {
    const current = this.#options.view();
    return current?.term === view.term && current.epoch === view.epoch;
  }

  /** `view`'s ring, built once per ring: its lookup tables grow with use. */
  #ringOf(view: RingView): Ring {
    const placed = this.#placed;
    if (placed?.view.term !== view.term || placed.view.epoch !== view.epoch) {
      this.#placed = { view, ring: new Ring(view.nodes) };
    }
    return this.#placed!.ring;
  }

  /** Wakes those waiting for {@link idle} once nothing waits and no call is out. */
  #wakeIfIdle(): void {
    if (this.#waiting.size === 0 && this.#sending.size === 0) this.#waiters.wake();
  }
}

/** `queued` in calls of at most `count` keys and `maxBytes` of JSON, a larger key alone. */
function parts(queued: Held[], count: number, maxBytes: number): Held[][] {
  const all: Held[][] = [];
  let part: Held[] = [];
  let bytes = 0;
  for (const held of queued) {
    if (part.length > 0 && (part.length >= count || bytes + held.bytes > maxBytes)) {
      all.push(part);
      part = [];
      bytes = 0;
    }
    part.push(held);
    bytes += held.bytes;
  }
  if (part.length > 0) all.push(part);
  return all;
}
