// A node's part in replication: refuse writes it is not the primary of, copy writes to backups.

import { Coalescer } from "@cache/async/coalesce";
import { within } from "@cache/async/sleep";
import { HttpError } from "@cache/protocol/errors";
import { callPeer, PeerTimeout } from "@cache/http1/peer";
import { headerOf } from "@cache/http1/messages";
import { BodyBuffers, KEPT_BODY_BYTES } from "@cache/http1/body_buffers";
import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";
import { keySegment } from "@cache/protocol/key_path";
import {
  aged,
  type NewerState,
  Replica as ReplicaSchema,
  ReplicateAnswer,
} from "@cache/protocol/replica";
import { replicaBody } from "@cache/protocol/replica_body";
import {
  EPOCH_HEADER,
  MAX_BATCH,
  MAX_BATCH_BYTES,
  newerRing,
  type RingView,
} from "@cache/protocol/wire";
import type { Replica } from "../store/store.ts";
import { type RingRef, SENDER_RING_HEADER, senderRing } from "@cache/protocol/sender_ring";

// The shortest `/replicate` answer that lists a key held newer: a shorter one is `{"applied":N}`.
const NEWER_ANSWER_BYTES = '{"applied":0,"newer":[{"key":"k","version":1}]}'.length;

/** Milliseconds between the ring reads a backup that may have left the ring makes. */
const LOOK_MS = 100;

/** Milliseconds a node that left the ring is given to answer for a key's state. */
const DEPARTED_TIMEOUT_MS = 250;

/** How far past this node's clock a version a writer chose may be: 10 s, in microseconds. */
export const MAX_STAMP_AHEAD_US = 10_000_000;

/**
 * How far past this node's clock a write's floor may be: twice {@link MAX_STAMP_AHEAD_US}. A floor
 * is a version some owner took within its own 10 s, so a primary whose clock runs up to 10 s
 * behind that owner's still writes above it, and that owner's copy does not outlive the write.
 */
export const MAX_FLOOR_AHEAD_US = 2 * MAX_STAMP_AHEAD_US;

/**
 * How far past this node's clock a flush's version may be: the newest version of any node, which
 * a floor may have put {@link MAX_FLOOR_AHEAD_US} past a clock up to 10 s ahead of this one's.
 */
export const MAX_FLUSH_AHEAD_US = MAX_FLOOR_AHEAD_US + MAX_STAMP_AHEAD_US;

/**
 * How far past this node's clock a copy's version may be: no version is more than
 * {@link MAX_FLUSH_AHEAD_US} (a flush's) past the clock of the node that took it, whose clock may
 * run 10 s ahead of this one's. One near 2^53 left no room for the versions after it: the node's
 * writes as primary all failed.
 */
export const MAX_COPY_AHEAD_US = MAX_FLUSH_AHEAD_US + MAX_STAMP_AHEAD_US;

/**
 * How far past this node's clock, or past its ring's epoch where that is later, a ring epoch may
 * be for this node to ask the masters for that ring, or to take a peer's state in it while keys
 * move. A leader's first epoch is its clock reading (at most 10 s ahead of this one's) unless an
 * epoch before it was later, and each ring after it is one more: a minute leaves room for 50,000
 * rings this node has not learnt. Copies a peer sends are held to the rings the masters have
 * (`Writer.applyCopies`): epochs lag the clock by the cluster's uptime.
 */
export const MAX_EPOCH_AHEAD_MS = 60_000;

/**
 * The latest ring epoch there may be by now, `nowMs` on this node's clock:
 * {@link MAX_EPOCH_AHEAD_MS} past it, or past `ringEpoch` (this node's ring) where that is later.
 */
export function latestEpoch(nowMs: number, ringEpoch = 0): number {
  return Math.max(nowMs, ringEpoch) + MAX_EPOCH_AHEAD_MS;
}

/** Where a node stands for keys written to every owner at once: see `checkOwners()`. */
export interface Placement {
  /** The ring epoch the writes were routed in, this node's. */
  epoch: number;
  /** Per key, whether this node is its primary (else one of its backups). */
  primary: boolean[];
}

/** One write's copies for one backup, and the moment (on this node's clock) they must be there. */
interface Shipment {
  replicas: Replica[];
  until: number;
  /** When its copies were made: their TTLs count down while they wait to be sent. */
  at: number;
  /** The ring that chose the backup, if any: the `/replicate` names it (see `Strays`). */
  ring?: RingRef;
}

/** The ring as this node knows it, and how to catch up with the master's. */
export interface RingSource {
  view: RingView | undefined;
  ring: Ring;
  /** Fetches the master's ring now. */
  refresh(): Promise<boolean>;
  /** Nodes of earlier rings that are not in this one, while its keys move. */
  readonly departed?: readonly string[];
  /** The newest ring this node heard had settled: every node of it followed it then. */
  readonly settledRing?: RingRef;
  /**
   * Milliseconds this node may still act as a primary of its ring: Infinity on its own, with no
   * ring; 0 with no ring in a cluster.
   */
  leaseLeftMs(): number;
}

/** Who this node is, where the ring comes from, and how it calls peers. */
export interface ReplicatorOptions {
  self: string;
  ring: RingSource;
  fetch: Fetch;
  timeoutMs: number;
  /** Milliseconds since 1970, to compare with a sender's deadline; default `Date.now`. */
  now?: () => number;
}

/** Where a write comes from: the ring epoch it was routed with, and when its sender gives up. */
export interface Routing {
  epoch?: number;
  /** Milliseconds since 1970 on the sender's clock; a write that arrives later is not applied. */
  deadline?: number;
  /** Sent by a client: a newer epoch than this node's is not a reason to ask for the ring. */
  untrusted?: boolean;
  /**
   * A version the writes must be given one above: the sender sent copies of them stamped with it
   * to every owner at once (see `checkOwners`), which this write must replace everywhere.
   */
  floor?: number;
}

/**
 * Placement checks and replication for one node. With no ring yet (a node on its own, or one
 * started before its master), the node accepts every write and has no backups.
 */
export class Replicator {
  readonly #options: ReplicatorOptions;
  // The newest ring epoch each peer answered a fence with (see #fenceOldOwners), and the fences
  // out, by "node epoch".
  readonly #following = new Map<string, RingRef>();
  readonly #fencing = new Map<string, Promise<string | undefined>>();
  // Rings of the nodes that joined by an epoch, for the ring `#ringsOf` holds them for.
  #priorRings = new Map<number, Ring>();
  #ringsOf: RingView | undefined;
  #lookedAt = -Infinity; // when a backup that may have left last made this node read the ring
  #looking: Promise<boolean> | undefined; // that read, while it is out
  // Group commit: one /replicate in flight per backup; the writes' copies made meanwhile wait and
  // go together in the next one. A backup that did not answer in time fails the copies queued
  // behind at once, rather than make each wait out a timeout of its own.
  readonly #shipments = new Coalescer<Shipment, NewerState[]>(
    (backup, shipments) => this.#ship(backup, shipments),
    {
      inFlight: 1,
      maxItems: MAX_BATCH,
      maxSize: MAX_BATCH_BYTES,
      sizeOf: (shipment) => shipment.replicas.reduce((sum, r) => sum + replicaSize(r), 0),
      failsWaiting: (_backup, error) => error instanceof PeerTimeout ? error : undefined,
    },
  );

  constructor(options: ReplicatorOptions) {
    this.#options = options;
  }

  /**
   * Makes sure this node may write `keys` as their primary now, and returns the ring epoch to
   * stamp the writes with (0 with no ring). A request routed with a newer epoch than this node
   * knows makes it fetch the ring first ({@link catchUp}); one routed with an older epoch, or for
   * a key this node is not the primary of, is refused with 421 carrying this node's epoch and the
   * owner, so the sender refreshes its ring. Never forwards. A node whose lease ran out (no
   * heartbeat answered by the leading master lately) answers 503: the master may have given its
   * keys to others. A write whose sender has given up (its deadline passed) is refused with 504,
   * not applied.
   */
  async checkPrimary(keys: string[], routing: Routing = {}): Promise<number> {
    const { ring, self } = this.#options;
    const routedEpoch = routing.epoch;
    await this.catchUp(routing);
    this.#checkDeadline(routing.deadline);
    if (routing.floor !== undefined) checkAhead(routing.floor, MAX_FLOOR_AHEAD_US, this.#now());
    if (ring.leaseLeftMs() <= 0) throw leaseLost(self); // in a cluster with no ring yet, too
    const view = ring.view;
    if (!view) return 0; // on its own: the primary of every key
    refuseOlder(view, routedEpoch);
    this.#checkPrimaryOf(keys, view.epoch);
    if (await this.#fenceOldOwners(keys, view, routing.deadline)) {
      this.checkStillPrimary(keys, view.epoch, routing.deadline);
    }
    return view.epoch;
  }

  /**
   * Makes sure a request over every key this node holds (a flush) was routed with this node's
   * ring or a newer one: after fetching a newer one first, one routed with an older ring is
   * refused with 421, as a write is (see {@link checkPrimary}): its sender may not know every node.
   */
  async checkRing(routing: Routing = {}, sender?: RingRef): Promise<void> {
    await this.catchUp(routing);
    const view = this.#options.ring.view;
    if (view) refuseOlder(view, routing.epoch, sender);
  }

  /** Throws 421, with the owner, for a key this node is not the primary of in ring `epoch`. */
  #checkPrimaryOf(keys: string[], epoch: number): void {
    const { ring, self } = this.#options;
    for (const key of keys) {
      const owner = ring.ring.owner(key);
      if (owner !== self) {
        throw new MisdirectedError(`Node ${self} is not the primary of key "${key}"`, epoch, owner);
      }
    }
  }

  /**
   * Makes sure this node owns `keys` (as primary or backup) in the very ring a writer routed them
   * by, for writes it stamped itself with versions up to `newestVersion` and sent to every owner
   * at once. Refused with 421 and this node's epoch for any other ring (older or newer, or none
   * yet) or a key it does not own; 503 past its lease; 504 past the sender's deadline; 409 for a
   * version more than {@link MAX_STAMP_AHEAD_US} past this node's clock, which would put every
   * later write of the key behind it.
   */
  async checkOwners(keys: string[], newestVersion: number, routing: Routing): Promise<Placement> {
    const { ring, self } = this.#options;
    await this.catchUp(routing);
    this.#checkDeadline(routing.deadline);
    const view = ring.view;
    if (!view || view.nodes.length === 0) {
      throw new MisdirectedError(`Node ${self} has no ring yet: write through the primary`, 0);
    }
    if (ring.leaseLeftMs() <= 0) throw leaseLost(self);
    if (routing.epoch !== view.epoch) {
      const routed = routing.epoch === undefined ? "no ring epoch" : `ring epoch ${routing.epoch}`;
      throw new MisdirectedError(
        `Routed with ${routed}; this node knows ${view.epoch}`,
        view.epoch,
      );
    }
    checkAhead(newestVersion, MAX_STAMP_AHEAD_US, this.#now());
    const primary = keys.map((key) => {
      const owners = ring.ring.owners(key, view.replicas);
      if (owners.includes(self)) return owners[0] === self;
      throw new MisdirectedError(`Node ${self} does not own key "${key}"`, view.epoch, owners[0]);
    });
    if (await this.#fenceOldOwners(keys, view, routing.deadline)) {
      // As checked before the wait: the sender gone, the lease out or a newer ring refuse it.
      this.#checkDeadline(routing.deadline);
      if (ring.leaseLeftMs() <= 0) throw leaseLost(self);
      if (ring.view?.epoch !== view.epoch || ring.view.term !== view.term) {
        throw new MisdirectedError(
          "A newer ring came while this write waited",
          ring.view?.epoch ?? 0,
        );
      }
    }
    return { epoch: view.epoch, primary };
  }

  /**
   * While keys move, makes sure that the nodes of this ring that owned `keys` in a ring before it,
   * and own them no more, follow this ring before a write of them is taken here: until its next
   * heartbeat such a node took writes of them from a client still routing by that ring (a direct
   * client connected before a join), acknowledged after this ring's writes and lost to them when
   * the node handed the keys over (their epoch is older), and answered reads with older values.
   * Each such node is asked once per ring, with this ring's epoch, which makes it fetch the ring
   * first (as `statesElsewhere` does); one that does not answer, or still knows an older ring,
   * has the write refused (503, applied nowhere) for its sender to try again, until the master
   * marks it down. Only joins take keys from nodes that stay, so the rings before are this one's
   * nodes that had joined by then: by the newest ring this node saw settled (every node followed
   * it), or, not knowing one, by the time the node asked joined.
   */
  async #fenceOldOwners(
    keys: string[],
    view: RingView,
    deadline: number | undefined,
  ): Promise<boolean> {
    const { ring, self } = this.#options;
    if (view.settled !== false) {
      if (this.#priorRings.size > 0) this.#priorRings.clear(); // the rings of the moves over
      return false;
    }
    const settled = ring.settledRing?.term === view.term ? ring.settledRing.epoch : -1;
    // Grouped by the epoch each node is known to follow at least: one prior ring each.
    const by = new Map<number, string[]>();
    for (const node of view.nodes) {
      if (node === self || this.#follows(node, view)) continue;
      // A node with no join epoch (a leader of an older build) is taken as just joined.
      const epoch = Math.max(view.joined?.[node] ?? view.epoch, settled);
      by.set(epoch, [...by.get(epoch) ?? [], node]);
    }
    if (by.size === 0) return false;
    const owners = ring.ring;
    const asked = new Map<string, string>(); // node → a key it owned, for the call
    for (const key of keys) {
      let current: string[] | undefined;
      for (const [epoch, nodes] of by) {
        const prior = this.#priorRing(view, epoch).owners(key, view.replicas);
        for (const node of prior) {
          if (asked.has(node) || !nodes.includes(node)) continue;
          current ??= owners.owners(key, view.replicas);
          if (!current.includes(node)) asked.set(node, key);
        }
      }
    }
    if (asked.size === 0) return false;
    const timeoutMs = this.#backupTimeoutMs(deadline);
    const why = await Promise.all(
      [...asked].map(([node, key]) => this.#fence(node, key, view, timeoutMs)),
    );
    const behind = [...asked.keys()].findIndex((_, i) => why[i] !== undefined);
    if (behind >= 0) {
      throw new HttpError(
        503,
        `Node ${[...asked.keys()][behind]} held these keys before ring ${view.epoch} and ` +
          `${why[behind]}: not written, try again`,
      );
    }
    return true;
  }

  /** Whether `node` answered a fence with `view`'s ring or a newer one. */
  #follows(node: string, view: RingView): boolean {
    const follows = this.#following.get(node);
    return follows !== undefined && !newerRing(view, follows);
  }

  /** The ring of `view`'s nodes that had joined by epoch `by`. */
  #priorRing(view: RingView, by: number): Ring {
    if (this.#ringsOf !== view) {
      this.#priorRings = new Map();
      this.#ringsOf = view;
    }
    let prior = this.#priorRings.get(by);
    if (!prior) {
      prior = new Ring(view.nodes.filter((node) => (view.joined?.[node] ?? view.epoch) <= by));
      this.#priorRings.set(by, prior);
    }
    return prior;
  }

  /**
   * Asks `node`, once for ring `view`, to follow it; resolves nothing once it answered it does, or
   * is gone (nothing listens there: it takes no write either), else why not.
   */
  #fence(
    node: string,
    key: string,
    view: RingView,
    timeoutMs: number,
  ): Promise<string | undefined> {
    const id = `${node} ${view.term} ${view.epoch}`;
    let fencing = this.#fencing.get(id);
    if (fencing) return fencing;
    const { fetch } = this.#options;
    fencing = (async () => {
      await Promise.resolve(); // set below first, so that it is always deleted after
      try {
        const answer = await callPeer(fetch, node, `/replica/${keySegment(key)}`, {
          method: "GET",
          headers: { [EPOCH_HEADER]: String(view.epoch) },
        }, timeoutMs);
        if (!(Number(headerOf(answer, EPOCH_HEADER)) >= view.epoch)) {
          // Refused this node's token, it was not asked: the cause to fix is the token's.
          const { status } = answer;
          if (status === 401 || status === 403) return `refused this node's token (${status})`;
          return status === 200 || status === 404 ? "has not learnt it yet" : `answered ${status}`;
        }
        // Answered with its epoch alone: taken in this ring's term.
        if (this.#following.size > 4 * view.nodes.length) this.#prune(view);
        this.#following.set(node, { term: view.term, epoch: view.epoch });
        return undefined;
      } catch (error) {
        if (error instanceof HttpError && error.details.sent === false) return undefined;
        return `could not be asked (${error instanceof Error ? error.message : String(error)})`;
      } finally {
        this.#fencing.delete(id);
      }
    })();
    this.#fencing.set(id, fencing);
    return fencing;
  }

  /** Forgets what nodes no longer in `view` were known to follow. */
  #prune(view: RingView): void {
    for (const node of this.#following.keys()) {
      if (!view.nodes.includes(node)) this.#following.delete(node);
    }
  }

  /**
   * Fetches the ring first when `routing` says a newer one exists (and comes from a peer or the
   * master, not a client), asking again while a heartbeat already out brings the older ring: a
   * write routed in a newer ring is stamped with it, and a node asked for a key's state in a newer
   * ring learns that ring and, fenced by it, takes no more writes for the keys it no longer owns.
   * Not for an epoch more than {@link MAX_EPOCH_AHEAD_MS} past this node's clock and ring.
   */
  async catchUp(routing: Routing): Promise<void> {
    const { ring } = this.#options;
    const routed = routing.epoch;
    if (routed === undefined || routing.untrusted) return;
    // No ring is that far ahead yet: asking the masters for it, request after request, made this
    // node heartbeat hundreds of times a second.
    if (routed > latestEpoch(this.#now(), ring.view?.epoch)) return;
    // A heartbeat already out when the ring changed brings the older ring: ask again.
    for (let tries = 0; tries < 3 && routed > (ring.view?.epoch ?? -1); tries++) {
      if (!await ring.refresh()) return;
    }
  }

  /**
   * While keys move (the ring this node knows is not settled), the state of `key` on each other
   * node of the ring or still leaving it, and (briefly) on the nodes that left it, for a
   * read-modify-write to start from its newest state even when the key is still on its way here.
   * Asked with this node's ring `epoch`, an old owner fetches that ring first and so takes no more
   * writes for the key. A node that cannot be reached (gone: what it held of an acknowledged write
   * is on the key's other owners too, or was handed over) is left out, and so is one that left the
   * ring and does not answer. A node of the ring, or leaving it, that is there but does not answer
   * in time, or answers an error, may hold the newest state: the write is refused (503), applied
   * nowhere, for its sender to try again, until the master marks it down. Empty once keys have
   * settled: then every owner holds every key it owns.
   */
  async statesElsewhere(key: string, epoch: number): Promise<Replica[]> {
    const { ring, self, fetch, timeoutMs } = this.#options;
    const view = ring.view;
    if (!view || view.settled !== false) return [];
    // A node still leaving is there, handing its keys over (busy, so slow): asked as one of the
    // ring, as at R=1 it alone may hold a key's state. Once gone, its calls are refused.
    const leaving = Object.entries(view.outside ?? {}).filter(([, status]) => status === "leaving");
    const inRing = new Set([...view.nodes, ...leaving.map(([node]) => node)]);
    const peers = [...new Set([...inRing, ...(ring.departed ?? [])])].filter((node) =>
      node !== self
    );
    const states = await Promise.all(peers.map(async (peer) => {
      // A node that left the ring is asked briefly: it may be gone for good.
      const ms = inRing.has(peer) ? timeoutMs : Math.min(timeoutMs, DEPARTED_TIMEOUT_MS);
      let answer;
      try {
        answer = await callPeer(fetch, peer, `/replica/${keySegment(key)}`, {
          method: "GET",
          headers: { [EPOCH_HEADER]: String(epoch) },
        }, ms);
      } catch (error) {
        // Gone, or a node that left the ring: it may be dead for good, and would otherwise hold
        // back every such write until keys settle.
        const gone = error instanceof HttpError && error.status === 502;
        if (gone || !inRing.has(peer)) return undefined;
        throw unknownState(key, peer, error);
      }
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) {
        if (!inRing.has(peer)) return undefined;
        throw unknownState(key, peer, `it answered ${answer.status}`);
      }
      return ReplicaSchema.parse(JSON.parse(new TextDecoder().decode(answer.body)));
    }));
    return states.filter((state) => state !== undefined);
  }

  #checkDeadline(deadline: number | undefined): void {
    if (deadline === undefined) return;
    const late = this.#now() - deadline;
    if (late >= 0) {
      throw new HttpError(504, `The sender gave up on this write ${late} ms ago: not applied`, {
        late: true, // nothing applied: a sender may send its other writes of the call again
      });
    }
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /**
   * Milliseconds the calls to backups may take: the peer timeout, cut so that the primary still
   * answers before its sender's deadline (a fifth of what is left, at least 10 ms, is kept for the
   * answer's way back) and before its own lease ends.
   */
  #backupTimeoutMs(deadline: number | undefined): number {
    let ms = Math.min(this.#options.timeoutMs, this.#options.ring.leaseLeftMs());
    if (deadline !== undefined) {
      const left = deadline - this.#now();
      ms = Math.min(ms, left - Math.max(10, left / 5));
    }
    return Math.max(1, Math.floor(ms));
  }

  /**
   * Whether the keys of the ring this node knows have settled: every owner then holds every key it
   * owns, at its newest state.
   */
  get settled(): boolean {
    const view = this.#options.ring.view;
    return view !== undefined && view.settled !== false;
  }

  /** The epoch of the ring this node knows; undefined with none yet. */
  get ringEpoch(): number | undefined {
    return this.#options.ring.view?.epoch;
  }

  /**
   * Throws what {@link checkPrimary} would now, with no await: 421 once a newer ring than `epoch`
   * came, or a key is not this node's, 503 past its lease, 504 past the sender's `deadline`. For a
   * write that awaited something (the key's newest state) after its check, so that it is never
   * applied in a ring gone since, nor once its sender gave up on it.
   */
  checkStillPrimary(keys: string[], epoch: number, deadline?: number): void {
    const { ring, self } = this.#options;
    this.#checkDeadline(deadline);
    const view = ring.view;
    if (!view) {
      if (epoch === 0) return; // checked on its own, with no ring: still none
      // The ring was lost meanwhile (told to rejoin empty, say): this node owns nothing now.
      throw new MisdirectedError(`Node ${self} lost its ring while this write waited`, 0);
    }
    if (ring.leaseLeftMs() <= 0) throw leaseLost(self);
    if (view.epoch !== epoch) {
      throw new MisdirectedError(
        `Ring epoch ${view.epoch} came while this write waited`,
        view.epoch,
      );
    }
    this.#checkPrimaryOf(keys, epoch);
  }

  /** Whether this node is `key`'s primary in ring `epoch`, which is still the ring it knows. */
  primaryIn(key: string, epoch: number): boolean {
    const { ring, self } = this.#options;
    return ring.view?.epoch === epoch && ring.ring.owner(key) === self;
  }

  /** The backups of `key` in the current ring: its owners after the primary. */
  backups(key: string): string[] {
    const view = this.#options.ring.view;
    if (!view) return [];
    return this.#options.ring.ring.owners(key, view.replicas).filter((o) =>
      o !== this.#options.self
    );
  }

  /**
   * Sends `replicas` to each key's backups, in parallel; resolves once every backup has them, with
   * the keys some backup holds a newer state of than its copy (see `Writer.apply`). The copies of
   * writes made while a backup's last `/replicate` is out go together in its next one (group
   * commit), so a busy backup takes many writes per round trip. Throws HttpError 502/504 naming
   * each backup that failed, with the keys some backup did not take as `unreplicated`: the others
   * are on all their owners. The calls end in time for the primary to answer before the sender's
   * `deadline`, and within its lease.
   */
  async replicate(replicas: Replica[], deadline?: number): Promise<NewerState[]> {
    const batches = new Map<string, Replica[]>();
    for (const replica of replicas) {
      for (const backup of this.backups(replica.key)) {
        const batch = batches.get(backup) ?? [];
        batch.push(replica);
        batches.set(backup, batch);
      }
    }
    const sends = [...batches];
    if (sends.length === 0) return [];
    const at = this.#now();
    const until = at + this.#backupTimeoutMs(deadline);
    const ring = this.#options.ring.view;
    const results = await Promise.allSettled(
      sends.map(([backup, batch]) =>
        this.#shipments.submit(backup, { replicas: batch, until, at, ring })
      ),
    );
    await this.#pastLeavers(sends, results, ring, until);
    const failed: HttpError[] = [];
    const unreplicated = new Set<string>();
    const held: NewerState[] = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled") {
        held.push(...result.value);
        return;
      }
      failed.push(result.reason as HttpError);
      for (const replica of sends[i][1]) unreplicated.add(replica.key);
    });
    if (failed.length === 0) return held;
    // A key a backup holds newer is not on all its owners either, and no restamp follows a throw.
    for (const state of held) unreplicated.add(state.key);
    throw new HttpError(
      failed.some((f) => f.status === 504) ? 504 : 502,
      `Stored on the primary, but ${failed.length} of ${batches.size} backups did not take it: ` +
        failed.map((f) => f.message).join("; "),
      { unreplicated: [...unreplicated] },
    );
  }

  /**
   * Sends on the copies a backup refused (503), or missed by refusing connections, because it left
   * the ring, in a ring this node had not heard of when it sent them: a node leaving cleanly hands
   * its keys over by the newer ring, then refuses copies, then exits. Fetches the ring (within
   * `until`, and at most every {@link LOOK_MS} for this); where it no longer names the backup, each
   * key's copy goes to its owners there it was not sent to, and their answer replaces the
   * refusal. A backup the ring still names stays refused.
   */
  async #pastLeavers(
    sends: [string, Replica[]][],
    results: PromiseSettledResult<NewerState[]>[],
    sent: RingRef | undefined,
    until: number,
  ): Promise<void> {
    const refused = sends.flatMap((_, i) => {
      const result = results[i];
      return result.status === "rejected" && mayHaveLeft(result.reason) ? [i] : [];
    });
    if (refused.length === 0 || !sent) return;
    const { ring } = this.#options;
    if (!ring.view || !newerRing(ring.view, sent)) await this.#lookAtRing(until);
    const view = ring.view;
    if (!view || !newerRing(view, sent)) return;
    const sentTo = new Map<string, string[]>(); // the backups of each key in the ring `sent`
    for (const [backup, batch] of sends) {
      for (const { key } of batch) sentTo.set(key, [...sentTo.get(key) ?? [], backup]);
    }
    const at = this.#now();
    await Promise.all(refused.map(async (i) => {
      const [backup, batch] = sends[i];
      if (view.nodes.includes(backup)) return;
      const batches = new Map<string, Replica[]>();
      for (const replica of batch) {
        for (const owner of ring.ring.owners(replica.key, view.replicas)) {
          if (owner === this.#options.self || sentTo.get(replica.key)!.includes(owner)) continue;
          batches.set(owner, [...batches.get(owner) ?? [], replica]);
        }
      }
      try {
        const answers = await Promise.all(
          [...batches].map(([owner, replicas]) =>
            this.#shipments.submit(owner, { replicas, until, at, ring: view })
          ),
        );
        results[i] = { status: "fulfilled", value: answers.flat() };
      } catch (error) {
        results[i] = { status: "rejected", reason: error };
      }
    }));
  }

  /**
   * Fetches the ring, or waits for the fetch already out, until `until` at most; not more often
   * than every {@link LOOK_MS}: a backup that died would otherwise make every write beat the
   * master, while the heartbeats bring its mark-down anyway.
   */
  async #lookAtRing(until: number): Promise<void> {
    const now = this.#now();
    if (now - this.#lookedAt >= LOOK_MS) {
      this.#lookedAt = now;
      this.#looking = this.#options.ring.refresh().finally(() => this.#looking = undefined);
    }
    if (this.#looking) await within(this.#looking, until - now, false);
  }

  /**
   * Posts the copies of several writes to `backup` in one `/replicate`, by the earliest `until`;
   * each shipment gets the keys of its own copies the backup holds newer.
   */
  async #ship(backup: string, shipments: Shipment[]): Promise<NewerState[][]> {
    // As long as the most patient sender waits: a copy is sent after its write was applied, so
    // its sender's deadline only says when the answer stops mattering to it, and one sender's
    // short deadline must not cut the call short for the others.
    let until = -Infinity;
    for (const shipment of shipments) until = Math.max(until, shipment.until);
    const now = this.#now();
    // A copy that waited behind the call in flight lives on the backup only as long as is left.
    const copies = ({ replicas, at }: Shipment) =>
      now - at < 1 ? replicas : replicas.map((replica) => aged(replica, now - at));
    const replicas = shipments.length === 1 ? copies(shipments[0]) : shipments.flatMap(copies);
    // Named by the oldest ring that chose this backup: a receiver on a newer ring sends on what it
    // does not own there, where a newer name would leave such a copy with it.
    const ring = shipments.reduce<RingRef | undefined>(
      (oldest, { ring }) => oldest && (!ring || newerRing(ring, oldest)) ? oldest : ring,
      shipments[0].ring,
    );
    const timeoutMs = Math.max(1, until - now);
    let held: NewerState[];
    try {
      held = await this.send(backup, replicas, timeoutMs, ring);
    } catch (error) {
      // Cut short by its senders' deadlines, a timeout says nothing of the backup: the copies
      // queued behind the call still go (see #shipments).
      if (error instanceof PeerTimeout && timeoutMs < this.#options.timeoutMs) {
        throw new HttpError(504, error.message);
      }
      throw error;
    }
    if (held.length === 0) return shipments.map(() => held);
    return shipments.map((shipment) => {
      const keys = new Set(shipment.replicas.map((replica) => replica.key));
      return held.filter((state) => keys.has(state.key));
    });
  }

  /**
   * Posts `replicas` to `node`'s `/replicate`, naming `ring` as the ring that placed them,
   * resolving with the keys it holds newer; throws HttpError 502 or 504 when it fails.
   */
  send(
    node: string,
    replicas: Replica[],
    timeoutMs = this.#options.timeoutMs,
    ring: RingRef | undefined = this.#options.ring.view,
  ): Promise<NewerState[]> {
    return sendReplicas(this.#options.fetch, node, replicas, timeoutMs, ring);
  }
}

// The buffers of `/replicate` bodies that carry values as bytes, reused as a server's are: those
// not kept are released once sent, so copies of 1 MiB values need room for several.
const bodies = new BodyBuffers(KEPT_BODY_BYTES);

/**
 * Sends `replicas` to `node`'s `/replicate` within `timeoutMs`: a copy for a backup, or keys
 * handed to a new owner, placed by `ring` when the sender has one. Resolves with the keys the node
 * holds a newer state of than their copy (none from a node that does not say); rejects with a 502
 * HttpError when it refuses them.
 */
export async function sendReplicas(
  fetch: Fetch,
  node: string,
  replicas: Replica[],
  timeoutMs: number,
  ring?: RingRef,
): Promise<NewerState[]> {
  const body = replicaBody(replicas, (bytes) => bodies.take(bytes));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (ring) headers[SENDER_RING_HEADER] = senderRing(ring);
  const answer = await callPeer(
    fetch,
    node,
    "/replicate",
    { method: "POST", headers, body },
    timeoutMs,
  );
  // Answered, so written whole: the buffer is free. Not after a failure, which may have left a
  // write in flight.
  if (typeof body !== "string") bodies.give(body);
  if (answer.status >= 300) {
    throw new CopiesRefused(node, answer.status, new TextDecoder().decode(answer.body));
  }
  return newerIn(answer.body);
}

/**
 * Whether a backup's failure may be its leaving the ring: refusing copies once it handed its keys
 * over (503), or its connections once it exited.
 */
function mayHaveLeft(reason: unknown): boolean {
  if (reason instanceof CopiesRefused) return reason.answered === 503;
  return reason instanceof HttpError && reason.details.sent === false;
}

/**
 * A node's refusal of copies, passed on as a 502; `answered` is the status it gave, and `refused`
 * the keys it named when it refused some for room or as stamped too far ahead (it took the others:
 * see `Writer.applyWhatFits`).
 */
export class CopiesRefused extends HttpError {
  readonly refused: string[] | undefined;

  constructor(node: string, readonly answered: number, text: string) {
    super(502, `Node ${node} answered ${answered}: ${text}`);
    this.refused = refusedKeys(text);
  }
}

/** The `refused` keys of a refusal's JSON body, if it names them. */
function refusedKeys(text: string): string[] | undefined {
  try {
    const { refused } = JSON.parse(text);
    return Array.isArray(refused) && refused.every((key) => typeof key === "string")
      ? refused
      : undefined;
  } catch {
    return undefined;
  }
}

/** The keys a `/replicate` answer says its node holds newer: none for any other answer. */
function newerIn(body: Uint8Array): NewerState[] {
  // `{"applied":N}` alone, the common answer, is not parsed.
  if (body.length < NEWER_ANSWER_BYTES) return [];
  try {
    return ReplicateAnswer.parse(JSON.parse(new TextDecoder().decode(body))).newer ?? [];
  } catch {
    return [];
  }
}

/**
 * About the bytes `replica` takes in a `/replicate` body: a UTF-16 unit is at most 3 UTF-8 bytes;
 * a remembered increment (id of at most 100 characters, value, version) at most 400.
 */
function replicaSize(replica: Replica): number {
  const requests = (replica.requests?.length ?? 0) * 400;
  return (replica.key.length + (replica.value?.length ?? 0)) * 3 + 64 + requests;
}

/**
 * Throws 421 for a request routed with an older ring than `view`: by the sender's ring, term
 * first (a deposed leader's epochs may run ahead), when it names it; else by `routedEpoch`.
 */
function refuseOlder(view: RingView, routedEpoch?: number, sender?: RingRef): void {
  const older = sender
    ? newerRing(view, sender)
    : routedEpoch !== undefined && routedEpoch < view.epoch;
  if (!older) return;
  const routed = sender ? `ring ${senderRing(sender)}` : `ring epoch ${routedEpoch}`;
  throw new MisdirectedError(`Routed with ${routed}; this node knows ${view.epoch}`, view.epoch);
}

/**
 * Throws 409 for a version a sender gave more than `limitUs` past `nowMs`, this node's clock: it
 * would put every later write of the key behind it.
 */
export function checkAhead(version: number, limitUs: number, nowMs: number): void {
  const refusal = versionAhead(version, limitUs, nowMs);
  if (refusal) throw refusal;
}

/** The 409 {@link checkAhead} throws, or undefined for a version within `limitUs`. */
export function versionAhead(
  version: number,
  limitUs: number,
  nowMs: number,
): HttpError | undefined {
  const ahead = version - nowMs * 1000;
  if (ahead <= limitUs) return undefined;
  return new HttpError(
    409,
    `Version ${version} is ${Math.round(ahead / 1000)} ms ahead of this node's clock (at most ` +
      `${limitUs / 1000} ms): check the sender's clock`,
  );
}

/** A read-modify-write refused: `peer` may hold `key`'s newest state, and did not tell it. */
function unknownState(key: string, peer: string, why: unknown): HttpError {
  const reason = why instanceof Error ? why.message : String(why);
  return new HttpError(
    503,
    `Node ${peer} may hold the newest state of key "${key}" and did not tell it (${reason}): ` +
      "not applied, try again",
  );
}

/** The answer of a node whose lease ran out: it cannot tell whether it still owns its keys. */
export function leaseLost(self: string): HttpError {
  return new HttpError(
    503,
    `Node ${self} cannot confirm its ring is current: the leading master has not answered its ` +
      "heartbeats within the lease",
  );
}

/** A write sent to a node that is not the key's primary in the ring it knows (HTTP 421). */
export class MisdirectedError extends HttpError {
  /** The body carries this node's `epoch` and, when known, the key's `owner`. */
  constructor(message: string, epoch: number, owner?: string) {
    super(421, message, { epoch, ...(owner ? { owner } : {}) });
    this.name = "MisdirectedError";
  }
}
