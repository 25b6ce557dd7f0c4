// Keys a node still on an older ring hands here go on to their owners in the ring this node follows.

import { HttpError } from "@cache/protocol/errors";
import { aged, newer } from "@cache/protocol/replica";
import { newerRing, type RingView } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";
import { sleep } from "@cache/async/sleep";
import { Waiters } from "@cache/async/waiters";
import type { Logger } from "@cache/log/log";
import type { Replica, Store } from "../store/store.ts";

/**
 * Header on every `/replicate`: the ring its sender placed the copies by, as `<term>/<epoch>`. A
 * copy's own epoch is its write's, so without it a receiver cannot tell a sender behind it.
 */
export const SENDER_RING_HEADER = "x-sender-ring";

/** A ring as a sender names it. */
export interface RingRef {
  term: number;
  epoch: number;
}

/** {@link SENDER_RING_HEADER}'s value for `ring`. */
export function senderRing(ring: RingRef): string {
  return `${ring.term}/${ring.epoch}`;
}

const SENDER_RING = /^(\d{1,16})\/(\d{1,16})$/;

/** The ring a `/replicate` was sent by: undefined without the header; 400 for a malformed one. */
export function readSenderRing(value: string | null): RingRef | undefined {
  if (value === null) return undefined;
  const match = SENDER_RING.exec(value);
  if (!match) {
    throw new HttpError(400, `Header ${SENDER_RING_HEADER} must be <term>/<epoch>, got "${value}"`);
  }
  return { term: Number(match[1]), epoch: Number(match[2]) };
}

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

/** A key's state as it was when it came, and when it was read: its TTL counts down meanwhile. */
interface Held {
  replica: Replica;
  at: number;
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
  #running: Promise<void> | undefined;
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
   */
  take(entries: Iterable<{ key: string }>, from: RingRef): void {
    const view = this.#options.view();
    if (view === undefined || !newerRing(view, from)) return;
    const { store } = this.#options;
    for (const { key } of entries) {
      const replica = store.replica(key);
      if (replica === undefined) continue; // nothing here: expired on arrival
      const held = this.#waiting.get(key);
      if (held && !newer(replica, held.replica)) continue;
      this.#waiting.set(key, { replica, at: store.now() });
    }
    if (this.#waiting.size > 0) this.#start();
  }

  /** Forgets the keys waiting, as after the store was cleared to rejoin empty. */
  reset(): void {
    this.#waiting.clear();
  }

  /** Resolves once nothing waits to be sent, or after `timeoutMs`; resolves whether it is idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (!this.#running) return Promise.resolve(true);
    return this.#waiters.wait(timeoutMs);
  }

  #start(): void {
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#waiting.size > 0) this.#start();
      else this.#waiters.wake();
    });
  }

  async #loop(): Promise<void> {
    while (this.#waiting.size > 0) {
      const view = this.#options.view();
      if (view !== undefined && view.nodes.length > 0 && await this.#round(view)) continue;
      await (this.#options.sleep ?? sleep)(RETRY_MS);
    }
  }

  /** Sends every waiting key to its owners in `view`; resolves whether every owner took its keys. */
  async #round(view: RingView): Promise<boolean> {
    const { self, store, batch, log } = this.#options;
    const ring = new Ring(view.nodes);
    const round = [...this.#waiting];
    const batches = new Map<string, Held[]>();
    for (const [key, held] of round) {
      for (const owner of ring.owners(key, view.replicas)) {
        if (owner === self) continue;
        const queued = batches.get(owner) ?? [];
        queued.push(held);
        batches.set(owner, queued);
      }
    }
    const failed = new Set<string>();
    for (const [owner, queued] of batches) {
      for (let i = 0; i < queued.length; i += batch) {
        const part = queued.slice(i, i + batch);
        const now = store.now();
        try {
          await this.#options.send(owner, part.map((h) => aged(h.replica, now - h.at)), view);
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
    }
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
