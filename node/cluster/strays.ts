// Keys a node still on an older ring hands here go on to their owners in the ring this node follows.

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
  /** Waits `ms` before a failed round is tried again; default {@link sleep}. */
  sleep?: (ms: number) => Promise<void>;
}

/** Wait before a round that failed is tried again. */
const RETRY_MS = 500;

/** Rounds at once at most: see `Strays.#start`. */
const MAX_ROUNDS = 4;

/**
 * A key's state as it was when it came, and when it was read (its TTL counts down meanwhile), its
 * size as JSON, and the owners that took it: a round tried again does not send it to them again.
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
  readonly #inRound = new Set<Held>(); // being sent by a round now
  #rounds = 0; // rounds running
  #retrying = false; // a wait before failed keys go round again
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
      sent.push(next.sent.promise);
    }
    if (this.#waiting.size > 0) this.#start();
    if (sent.length === 0) return undefined;
    return Promise.all(sent).then((all) => all.every(Boolean));
  }

  /** Forgets the keys waiting, as after the store was cleared to rejoin empty. */
  reset(): void {
    for (const held of this.#waiting.values()) held.sent.resolve(false);
    this.#waiting.clear();
    this.#wakeIfIdle();
  }

  /** Resolves once nothing waits to be sent, or after `timeoutMs`; resolves whether it is idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#waiting.size === 0 && this.#rounds === 0) return Promise.resolve(true);
    return this.#waiters.wait(timeoutMs);
  }

  /**
   * Starts a round for the keys waiting that no round is sending, unless {@link MAX_ROUNDS} run
   * or failed keys wait to go round again: keys taken while a round waits on a slow owner go on
   * to the others meanwhile, since their senders wait for them.
   */
  #start(): void {
    if (this.#retrying || this.#rounds >= MAX_ROUNDS) return;
    const fresh = [...this.#waiting.values()].filter((held) => !this.#inRound.has(held));
    if (fresh.length === 0) return;
    const view = this.#options.view();
    if (view === undefined || view.nodes.length === 0) return this.#retry();
    for (const held of fresh) this.#inRound.add(held);
    this.#rounds++;
    this.#round(view, fresh).then((done) => {
      for (const held of fresh) this.#inRound.delete(held);
      this.#rounds--;
      if (!done) this.#retry();
      else this.#start();
      this.#wakeIfIdle();
    });
  }

  /** Wakes those waiting for {@link idle} once nothing waits and no round is out. */
  #wakeIfIdle(): void {
    if (this.#waiting.size === 0 && this.#rounds === 0) this.#waiters.wake();
  }

  /** Waits {@link RETRY_MS}, then starts a round for the keys still waiting. */
  #retry(): void {
    if (this.#retrying) return;
    this.#retrying = true;
    (this.#options.sleep ?? sleep)(RETRY_MS).then(() => {
      this.#retrying = false;
      this.#start();
    });
  }

  /** Sends `helds` to their owners in `view`; resolves whether every owner took its keys. */
  async #round(view: RingView, helds: Held[]): Promise<boolean> {
    const { self, store, batch, log } = this.#options;
    const ring = new Ring(view.nodes);
    const round = helds.map((held) => [held.replica.key, held] as const);
    const batches = new Map<string, Held[]>();
    const left = new Map<Held, number>(); // owners yet to take each key
    for (const [, held] of round) {
      let owners = 0;
      for (const owner of ring.owners(held.replica.key, view.replicas)) {
        if (owner === self || held.took.has(owner)) continue;
        const queued = batches.get(owner) ?? [];
        queued.push(held);
        batches.set(owner, queued);
        owners++;
      }
      left.set(held, owners);
      if (owners === 0) held.sent.resolve(true);
    }
    const failed = new Set<string>();
    // Owners in parallel, and a key counts as sent on once its owners took it, not at the end of
    // the round: a slow owner holds back only its own keys' senders.
    await Promise.all([...batches].map(async ([owner, queued]) => {
      for (const part of parts(queued, batch, this.#options.batchBytes ?? BATCH_BYTES)) {
        const now = store.now();
        try {
          await this.#options.send(owner, part.map((h) => aged(h.replica, now - h.at)), view);
          for (const held of part) {
            held.took.add(owner);
            const owners = left.get(held)! - 1;
            left.set(held, owners);
            if (owners === 0) held.sent.resolve(true); // a newer state waiting stays to be sent
          }
          this.#sent += part.length;
        } catch (error) {
          for (const { replica } of part) failed.add(replica.key);
          log.warn("stray keys not sent on, will retry", {
            node: owner,
            keys: part.length,
            error: String(error),
          });
        }
      }
    }));
    // A newer ring may have other owners: the keys go round again, by it.
    const current = this.#options.view();
    if (current?.term !== view.term || current.epoch !== view.epoch) return false;
    for (const [key, held] of round) {
      if (failed.has(key) || this.#waiting.get(key) !== held) continue;
      this.#waiting.delete(key);
      const now = store.replica(key);
      const owned = ring.owners(key, view.replicas).includes(self) ||
        this.#options.claimedAfter?.(key, view) === true;
      if (!owned && now !== undefined && !newer(now, held.replica)) store.drop(key);
    }
    if (round.length > failed.size) {
      log.info("stray keys sent on", { epoch: view.epoch, keys: round.length - failed.size });
    }
    return failed.size === 0;
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
