// Moves keys when the ring changes: each node pushes what it holds to the key's new owners.

import type { Logger } from "@cache/log/log";
import { Throttle } from "@cache/log/throttle";
import { Ring } from "@cache/ring/ring";
import { sleep } from "@cache/async/sleep";
import { Slices } from "@cache/async/slices";
import { Waiters } from "@cache/async/waiters";
import { newerRing, type RingView, utf8Bytes } from "@cache/protocol/wire";
import { aged, newer, type Stamp } from "@cache/protocol/replica";
import type { Replica, Store } from "../store/store.ts";
import type { RingRef } from "@cache/protocol/sender_ring";

/** Who this node is, what it holds, and how it sends keys to a peer. */
export interface RebalanceOptions {
  self: string;
  store: Store;
  /**
   * Sends replicas to a node's `/replicate`, naming `view`, the ring that placed them; rejects when
   * the node does not take them.
   */
  send: (node: string, replicas: Replica[], view: RingView) => Promise<unknown>;
  /** Keys per request to a peer (`--rebalance-batch`). */
  batch: number;
  /**
   * Bytes of JSON per request to a peer at most, a single key's excepted; default
   * {@link BATCH_BYTES}. Keep it under the peers' body limit: a batch of 500 values of 100 KB
   * would be refused whole, and every pass after it.
   */
  batchBytes?: number;
  log: Logger;
  /** Waits `ms` before a failed pass is tried again; default {@link sleep}. */
  sleep?: (ms: number) => Promise<void>;
}

/** Bytes of JSON per request to a peer at most, by default. */
export const BATCH_BYTES = 1024 * 1024;

/** The bytes `replica` takes in a `/replicate` body, as JSON, its comma included. */
export function jsonBytes(replica: Replica): number {
  return utf8Bytes(JSON.stringify(replica)) + 1;
}

/** A pass stopped at the rebalancer's stop time (see `Rebalancer.stopAt`). */
class Stopped extends Error {
  constructor() {
    super("The handover time is over: nothing more is sent");
    this.name = "Stopped";
  }
}

/** Wait before a pass that failed is tried again. */
const RETRY_MS = 500;

/** Passes that keep failing (a full node under noeviction) are logged once per this at most. */
const LOG_EVERY_MS = 10_000;

/** Progress of the moves, for `/stats` and `/metrics`. */
export interface RebalanceProgress {
  /** The last epoch whose keys this node has finished moving. */
  syncedEpoch: number;
  /** Whether a pass is running. */
  moving: boolean;
  /** Keys sent to other nodes since start. */
  sent: number;
  /** Keys handed over and dropped here since start. */
  handedOff: number;
}

/**
 * For each new ring, one pass over every key this node holds: each owner of the key that was not an
 * owner in the ring just before, if this node finished that one, or that joined since, gets the
 * key (every owner, after a ring this node did not finish), and so does a new primary that was a
 * backup (its copy may have been evicted); keys this node no longer owns are dropped once every
 * owner has them. A newer ring stops the pass and starts another; a pass that fails is tried
 * again. Deletions travel too, so a moved key cannot come back.
 */
export class Rebalancer {
  readonly #options: RebalanceOptions;
  /** Failed passes, logged once per {@link LOG_EVERY_MS} while they go on failing. */
  readonly #failures: Throttle;
  #stopAt = Infinity; // performance.now() past which nothing is sent (see stopAt)
  #done: RingView | undefined; // the last ring whose pass finished
  #wanted: RingView | undefined;
  #running: Promise<void> | undefined;
  readonly #waiters = new Waiters();
  #sent = 0;
  #handedOff = 0;
  // Keys sent here by a node on a newer ring than the last one finished here, and that ring: the
  // sender holds this node an owner in it, and may drop its own copy, so no pass of an older ring
  // drops them, not even a pass that read them before they came (the same state, say).
  readonly #claims = new Map<string, RingRef>();

  constructor(options: RebalanceOptions) {
    this.#options = options;
    this.#failures = new Throttle(LOG_EVERY_MS, () => options.store.now());
  }

  /** How far the moves have gone. */
  get progress(): RebalanceProgress {
    return {
      syncedEpoch: this.#done?.epoch ?? 0,
      moving: this.#running !== undefined,
      sent: this.#sent,
      handedOff: this.#handedOff,
    };
  }

  /** The last ring whose pass finished, by term and epoch; 0/0 before any. */
  get synced(): RingRef {
    return { term: this.#done?.term ?? 0, epoch: this.#done?.epoch ?? 0 };
  }

  /** Starts moving keys for `view` (or queues it behind the pass running). */
  follow(view: RingView): void {
    this.#wanted = view;
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
      // A ring that came after the loop's last check but before this runs is moved too.
      const left = this.#wanted && !sameRing(this.#wanted, this.#done) && !this.#stopped();
      if (left) this.follow(this.#wanted!);
      else this.#waiters.wake();
    });
  }

  /**
   * Sends nothing from `at` on (`performance.now()`): a leaving node's handover time, past which
   * the masters count what it still holds as gone. The pass under way stops before its next batch,
   * and none starts after.
   */
  stopAt(at: number): void {
    this.#stopAt = at;
  }

  /** Forgets the finished rings, as after the store was cleared to rejoin empty. */
  reset(): void {
    this.#done = undefined;
    this.#claims.clear();
  }

  /**
   * Notes the keys of `entries`, just applied from a sender that placed them by `from`: a pass of
   * a ring older than that keeps them rather than drop them as keys this node does not own.
   */
  claimed(entries: Iterable<{ key: string }>, from: RingRef): void {
    if (this.#done && !newerRing(from, this.#done)) return;
    for (const { key } of entries) {
      const claim = this.#claims.get(key);
      if (claim === undefined || newerRing(from, claim)) this.#claims.set(key, from);
    }
  }

  /** Whether a node on a ring newer than `view` sent `key` here since this node finished a ring. */
  claimedAfter(key: string, view: RingRef): boolean {
    const claim = this.#claims.get(key);
    return claim !== undefined && newerRing(claim, view);
  }

  /** Resolves once no pass is running, or after `timeoutMs`; resolves whether it is idle. */
  idle(timeoutMs: number): Promise<boolean> {
    if (!this.#running) return Promise.resolve(true);
    return this.#waiters.wait(timeoutMs);
  }

  async #loop(): Promise<void> {
    while (this.#wanted && !sameRing(this.#wanted, this.#done) && !this.#stopped()) {
      const view = this.#wanted;
      if (await this.#pass(view)) this.#done = view;
      else if (view === this.#wanted && !this.#stopped()) {
        await (this.#options.sleep ?? sleep)(RETRY_MS);
      }
    }
  }

  #stopped(): boolean {
    return performance.now() >= this.#stopAt;
  }

  /** One pass for `view`; resolves whether it finished (not superseded, every send taken). */
  async #pass(view: RingView): Promise<boolean> {
    const { self, store, batch, log } = this.#options;
    const ring = new Ring(view.nodes);
    // The owners of the last ring finished here still hold its keys only when no ring came between
    // (epochs grow by one per ring within a term): a node that finished a ring this one did not
    // finish, or never saw, may have handed keys over and dropped them. Else every owner gets each.
    const last = this.#done;
    const done = last && last.term === view.term && view.epoch === last.epoch + 1
      ? last
      : undefined;
    const before = done && new Ring(done.nodes);
    const rejoined = (node: string) => done === undefined || (view.joined[node] ?? 0) > done.epoch;
    // Each node's batch, and when each of its copies was read: a TTL counts down until it is sent.
    const batches = new Map<string, { replica: Replica; at: number }[]>();
    const batchBytes = new Map<string, number>(); // of each node's batch, as JSON
    const maxBytes = this.#options.batchBytes ?? BATCH_BYTES;
    const failed = new Set<string>(); // owners that took nothing of a batch: sent no more
    let failure: unknown; // the first refusal, for the log
    // Keys this node no longer owns, by how many of their owners have yet to take them: each is
    // dropped once all have, not once the pass is over, so a full node makes room while another's
    // refusals hold its pass back. Full nodes under noeviction that had to take each other's keys
    // each waited for another to drop some first, for good.
    const waiting = new Map<string, { left: number; sent: Stamp }>();
    let sent = 0;
    let handedOff = 0;
    const started = performance.now();

    const drop = (key: string) => {
      if (this.#wanted !== view || this.claimedAfter(key, view)) return;
      if (!store.drop(key)) return; // a key the walk came to twice is counted once
      handedOff++;
      this.#handedOff++;
    };
    const taken = (key: string) => {
      const wait = waiting.get(key);
      if (wait === undefined) return;
      if (--wait.left > 0) return;
      waiting.delete(key);
      // A state newer than the one sent, come since its batch left, is not dropped unsent: the
      // pass is tried again, and sends it.
      const held = store.stampOf(key);
      if (held && newer(held, wait.sent)) failure ??= new Error(`Key "${key}" changed as it went`);
      else drop(key);
    };
    const flush = async (node: string) => {
      const queued = batches.get(node) ?? [];
      batches.delete(node);
      batchBytes.delete(node);
      if (queued.length === 0) return;
      if (this.#stopped()) throw new Stopped();
      const now = store.now();
      const replicas = queued.map(({ replica, at }) => aged(replica, now - at));
      let refused: ReadonlySet<string> | undefined;
      try {
        await this.#options.send(node, replicas, view);
      } catch (error) {
        failure ??= error;
        refused = refusedIn(error);
        if (!refused) return void failed.add(node);
      }
      const took = refused ? replicas.filter(({ key }) => !refused.has(key)) : replicas;
      sent += took.length;
      this.#sent += took.length;
      for (const { key } of took) taken(key);
    };

    // In slices of the event loop: a pass over millions of keys held a node past the master's
    // timeouts, which marked it down and had it drop every key.
    const slices = new Slices();
    try {
      for (const key of store.walkKeys()) {
        if (slices.spent()) await slices.next();
        if (this.#wanted !== view) return false; // a newer ring: start over with it
        const owners = ring.owners(key, view.replicas);
        const had = before ? before.owners(key, done!.replicas) : [];
        // A backup become the key's primary gets it too: it may have evicted its copy, and reads
        // ask the primary alone, so a key on its backups only would read as missing.
        const primary = owners[0];
        const gets = owners.filter((owner) =>
          owner !== self &&
          (!had.includes(owner) || rejoined(owner) || (owner === primary && had[0] !== primary))
        );
        // A ring with no node has no one to hand keys to: nothing is dropped for it.
        const leaves = owners.length > 0 && !owners.includes(self);
        if (gets.length === 0 && !leaves) continue; // a key that stays put is not read
        const replica = store.replica(key);
        if (!replica) continue;
        const open = gets.filter((owner) => !failed.has(owner));
        if (leaves && gets.length === 0) drop(key); // its owners have it
        else if (leaves && open.length === gets.length) {
          // Come to twice (written again meanwhile), it waits for the batches of both states.
          const sent = { version: replica.version, epoch: replica.epoch ?? 0 };
          waiting.set(key, { left: (waiting.get(key)?.left ?? 0) + gets.length, sent });
        } else waiting.delete(key); // kept: an owner failed this pass
        const at = store.now();
        let bytes = 0; // measured once, for the first owner that needs it
        const size = () => bytes ||= jsonBytes(replica);
        for (const owner of open) {
          // A key that would take its node's batch past the bytes goes in the next one.
          if ((batchBytes.get(owner) ?? 0) + size() > maxBytes) await flush(owner);
          const queued = batches.get(owner) ?? [];
          queued.push({ replica, at });
          batches.set(owner, queued);
          batchBytes.set(owner, (batchBytes.get(owner) ?? 0) + size());
          if (queued.length >= batch) await flush(owner);
        }
      }
      for (const node of [...batches.keys()]) await flush(node);
    } catch (error) {
      if (error instanceof Stopped) return false;
      failure ??= error;
    }
    if (failure !== undefined) {
      const held = this.#failures.take("pass");
      if (held !== undefined) {
        log.warn("rebalance pass failed, will retry", {
          epoch: view.epoch,
          sent,
          handedOff,
          error: String(failure),
          ...(held ? { alsoSince: held } : {}),
        });
      }
      return false;
    }
    this.#failures.end("pass");
    if (this.#wanted !== view) return false;
    // The keys claimed in this ring or an older one now stand as this ring placed them.
    for (const [key, claim] of this.#claims) if (!newerRing(claim, view)) this.#claims.delete(key);
    if (sent > 0 || handedOff > 0) {
      log.info("rebalanced", {
        epoch: view.epoch,
        sent,
        handedOff,
        ms: Math.round(performance.now() - started),
      });
    }
    return true;
  }
}

/**
 * The keys a node that refused copies named as refused (see `Writer.apply`): it took the others.
 * Undefined for any other failure, after which none counts as taken.
 */
function refusedIn(error: unknown): ReadonlySet<string> | undefined {
  const refused = (error as { refused?: unknown } | undefined)?.refused;
  return Array.isArray(refused) ? new Set(refused.map(String)) : undefined;
}

/**
 * Whether `b` is the ring `a`: the same term and epoch (a new leader's ring may reuse an epoch).
 */
function sameRing(a: RingRef, b: RingRef | undefined): boolean {
  return a.term === b?.term && a.epoch === b.epoch;
}
