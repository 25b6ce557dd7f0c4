// Membership: which nodes are registered and in what state, and the ring and epoch of the up set.

import type { Logger } from "@cache/log/log";
import { hash32 } from "@cache/ring/hash";
import { Ring } from "@cache/ring/ring";
import { type Heartbeat, newerRing, type NodeList, type RingView } from "@cache/protocol/wire";
import { droppedBy, handoverLeftIn, Recovery } from "./recovery.ts";

/** How the registry decides a node is down, and how it builds rings. */
export interface RegistryOptions {
  /** Copies of each key, capped by the number of up nodes. Default 1. */
  replicas?: number;
  /** A node with no heartbeat for this long is marked down by {@link Registry.sweep}. */
  failureTimeoutMs: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  log: Logger;
  /** The first epoch. A clock reading keeps epochs growing across master restarts. Default 0. */
  initialEpoch?: number;
  /**
   * Whether this master leads, read at every decision. A follower records heartbeats but leaves
   * membership to the leader and takes its rings through {@link Registry.adopt}. Default: always.
   */
  leading?: () => boolean;
  /**
   * How long a master that starts, or comes to lead, with no ring waits for the nodes of the last
   * ring to report it before it routes (see {@link Recovery}). Default 0: no wait.
   */
  recoveryMs?: number;
  /**
   * Called when a node joins the ring anew (on a follower, once the leader's ring says so):
   * whatever was learnt of its failures is past.
   */
  onJoined?: (address: string) => void;
  /** Called when a node is forgotten: deregistered, or no longer known to the leader. */
  onForgotten?: (address: string) => void;
  /**
   * Whether the master calls its nodes all along and says so through {@link Registry.reached}:
   * then a node it has not reached for a failure timeout is marked down, heartbeats or not.
   */
  callsNodes?: boolean;
}

/**
 * The share of the failure timeout a node may act on its ring after sending a heartbeat the
 * leading master answered: its lease ends before the master can mark it down, with a fifth of the
 * timeout to spare for clocks that run at slightly different rates (docs/replication.md).
 */
export const LEASE_SHARE = 0.8;

/**
 * Failure timeouts a silent node is kept up at most while another is down and keys have not
 * settled since (see `Registry.sweep`).
 */
const HELD_UP_TIMEOUTS = 3;

/** A node's `--handover-timeout-ms` by default: how long one that does not say hands over. */
const HANDOVER_MS = 20_000;

/** Up owns keys; leaving hands its keys over and owns none; down is silent and owns none. */
export type MemberStatus = "up" | "leaving" | "down";

interface Member {
  status: MemberStatus;
  /** A follower saw this node ask to leave. */
  leaving?: boolean;
  /**
   * Marked down while leaving, with the cluster's last flush and the flushes some node took then:
   * heard again leaving, the same process goes on handing over, unless a flush was taken since
   * (see #resumeLeave).
   */
  downLeaving?: { flushed: number; flushesTaken: number };
  /**
   * While leaving: when its handover ends (this master's clock), as its beats said, after which it
   * exits. Marked down while leaving, it may hand over, and is asked for its keys, until then.
   */
  handoverUntil?: number;
  lastSeenMs: number;
  /** When the master last called the node and got an answer; a new member was just called. */
  lastReachedMs: number;
  /** When the master's last call found nothing listening: the process is gone, not busy. */
  refusedMs?: number;
  /** The process behind the address; a new one means the node restarted empty. */
  instance: string | undefined;
  /** The epoch in which this member last joined the ring. */
  joined: number;
  /** The last epoch whose keys this member has finished moving. */
  synced: number;
  /** The term of that epoch's ring, if the node names it. */
  syncedTerm?: number;
  /** The ring it left in, the first without it: its handover for that one counts. */
  left?: { term: number; epoch: number };
}

/**
 * What the master answers a heartbeat with: registered anew, known, or told to rejoin empty; a
 * follower answers "forward" for a change only the leader may make; a master still learning the
 * last ring from its nodes answers "recovering"; "flushing" asks a leaving node marked down to
 * beat again once a flush's first round is over (see `Registry.flushBegins`).
 */
export type HeartbeatOutcome = "new" | "known" | "rejoin" | "forward" | "recovering" | "flushing";

/**
 * The master's view of the cluster. Every change of the ring's members increments the epoch and
 * rebuilds the ring from the up nodes. Until every up or leaving node reports it has moved its
 * keys for the current epoch, the rings of the epochs since the last settled one are kept, so a
 * read can find a key where it was. Rings are ordered by term, then epoch: a ring of an older
 * term, from a deposed leader, is never adopted.
 */
export class Registry {
  readonly #options: RegistryOptions;
  readonly #members = new Map<string, Member>();
  #epoch: number;
  #term = 0;
  #ring: Ring;
  #unsettled: Ring[] = []; // rings of earlier epochs, newest first, while keys are moving
  #leaderSettled = true; // a follower's copy of the leader's settled flag
  #leaderMoving: number | undefined; // and of the rings the leader said keys move from
  #ledTerm = -1; // the term this master last led in: its ring is its own while #term is still it
  #version = 0; // of this registry's view: changes made known, counted by #notify()
  #flushed = 0; // the version the cluster's last flush went through, as this master knows it
  #flushing = 0; // flushes this master began whose first round is not over: no version yet
  #flushesTaken = 0; // flushes whose first round some node took
  #leaderVersion: number | undefined; // a follower's: the version of the leader's last view
  #waiters = new Set<() => void>();
  #closed = false;
  #recovery: Recovery | undefined;
  #lastSweep: number | undefined;
  #noneFresh = false; // the last sweep heard from no up node lately, and marked none down
  // Whether a node was marked down and keys have not settled since (see #keepsUp), and the late
  // nodes kept up meanwhile, each with when it was last heard from as the hold began.
  #downUnsettled = false;
  readonly #keptUp = new Map<string, number>();
  // The last ring of the master before, which this one carried on from (adopted or recovered).
  #inherited: { term: number; epoch: number } | undefined;
  #since: number; // the epoch this master's own rings came after, in its term
  // The rings this master published lately, "term epoch" → a hash of their nodes, and the newest
  // epoch of those it let go: a ring is known its own by these (see #own).
  readonly #published = new Map<string, number>();
  #forgottenThrough = -Infinity;
  #firstWrites: number | undefined; // the first epoch this master published a ring with nodes in
  // The first epoch writes were taken in by a master that took nodes back by rings it never
  // learnt: this one, or a leader it followed, which published it (see #unlearnt).
  #writesFrom: { term: number; epoch: number } | undefined;
  #unlearntUntil = 0; // keys are not settled until then (see #joinUnlearnt)
  // Nodes marked down, then forgotten (DELETE /register), by their process: back with the same
  // process, they must still rejoin empty.
  readonly #forgotten = new Map<string, string | undefined>();
  // Processes that said they were leaving and are no member now, by address: a beat one sent
  // before it said so, arriving late, must not take it back into the ring.
  readonly #departed = new Map<string, string>();
  // Addresses that deregistered while leaving, synced for the current ring: they hold nothing. A
  // follower learns them as the leader forgets them (see #adoptOutside).
  readonly #handedOver = new Map<string, true>();

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#epoch = options.initialEpoch ?? 0;
    this.#since = this.#epoch;
    this.#ring = new Ring();
    if (options.recoveryMs) this.#recovery = new Recovery(options.now() + options.recoveryMs);
  }

  /** Whether this master is still learning the last ring from its nodes: it routes nothing. */
  get recovering(): boolean {
    return this.#recovery !== undefined;
  }

  /** Milliseconds a node may act on the ring after sending a heartbeat this master answered. */
  get leaseMs(): number {
    return Math.floor(this.#options.failureTimeoutMs * LEASE_SHARE);
  }

  /**
   * Milliseconds `address` may act on the ring after sending the heartbeat this master answers
   * now. A master that calls its nodes marks one down a failure timeout after it last reached it,
   * heartbeats or not: the lease ends {@link leaseMs} after then, as a silent node's does, and is 0
   * once that is past. A node heard but cut off from the master's calls so stops serving first.
   */
  leaseMsFor(address: string): number {
    const member = this.#members.get(address);
    if (!this.#options.callsNodes || member === undefined) return this.leaseMs;
    const now = this.#options.now();
    // The next sweep finds this process was paused and gives every node the missing time back: a
    // beat answered before it, queued behind the pause, gets that time too.
    const since = now - Math.min(now, member.lastReachedMs + this.#pausedMs(now));
    return Math.max(0, Math.min(this.leaseMs, this.leaseMs - since));
  }

  /** The ring of the up nodes in the current epoch. */
  get ring(): Ring {
    return this.#ring;
  }

  /** Counts changes of the ring's members. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The term of the leader that published the ring: 0 without election. */
  get term(): number {
    return this.#term;
  }

  /** Whether this master decides membership now. */
  get leading(): boolean {
    return this.#options.leading?.() ?? true;
  }

  /** Copies of each key in this epoch: the setting, capped by the number of up nodes. */
  get replicas(): number {
    return Math.max(1, Math.min(this.#options.replicas ?? 1, this.#ring.size));
  }

  /** Whether every up or leaving node has moved its keys for the current epoch. */
  get settled(): boolean {
    // A leader between its renew deadline and the next leader keeps its own ring, whose keys move
    // as the nodes' reports say: its default "settled" had nodes stop looking for keys in flight.
    if (!this.leading && this.#term !== this.#ledTerm) return this.#leaderSettled;
    // Within --recovery-ms of a node back with a ring never learnt here, the others of that ring
    // may come back with keys they alone hold: reads look for them, followers' and clients' too.
    if (this.#options.now() < this.#unlearntUntil) return false;
    for (const member of this.#members.values()) {
      if (member.status !== "down" && !this.#synced(member)) return false;
      // Marked down while handing over, it may still: its keys are not settled (see notAsked).
      if (this.#mayHandOver(member)) return false;
    }
    return true;
  }

  /**
   * Rings of earlier epochs whose keys may not have moved yet, newest first. The router reads this
   * on every request, so once keys have settled the list is dropped here, and `settled` (a pass
   * over the members) is computed only while rings are kept.
   */
  get unsettledRings(): readonly Ring[] {
    if (this.#unsettled.length > 0 && this.settled) this.#unsettled = [];
    return this.#unsettled;
  }

  /**
   * Records a registration or heartbeat. A new address, or a known one from a new process
   * (`instance`), joins the ring. A node marked down must rejoin empty: it is forgotten and told
   * so (`"rejoin"`). `leaving` takes an up node out of the ring while it hands its keys over, and
   * keeps one the master does not know out of it.
   */
  heartbeat(address: string, beat: Omit<Heartbeat, "address"> = {}): HeartbeatOutcome {
    if (!this.leading) return this.#record(address, beat);
    const now = this.#options.now();
    // Back with keys of a ring this master never learnt (it stopped waiting before any node came):
    // they may be older than writes taken since, or the only copies of others.
    const unlearnt = !this.#recovery && this.#unlearnt(address, beat) ? beat.ring : undefined;
    const writesFrom = this.#writesFrom?.epoch ?? this.#firstWrites ?? this.#epoch;
    if (unlearnt && unlearnt.epoch >= writesFrom && this.#anyIn()) {
      // For followers, should one come to lead (see #unlearnt).
      this.#writesFrom ??= { term: this.#term, epoch: writesFrom };
      // Its epochs reach those this master took writes in (the last one's clock ran ahead, or
      // this one passed a ring the node missed): its keys could rank above writes taken here
      // since, and win over them. Missing keys beat reverted ones in a cache.
      this.#options.log.warn(
        "node back with a ring never learnt, of epochs this master took writes in: told to rejoin empty",
        {
          address,
          epoch: unlearnt.epoch,
        },
      );
      return "rejoin";
    }
    if (this.#recovery) {
      const outcome = this.#recover(address, beat, now);
      if (outcome) return outcome;
    }
    const member = this.#members.get(address);
    if (member?.status === "down") {
      // Taken back only once it says it holds nothing (or is a new process): an answer it never
      // read must not bring stale keys back into the ring.
      const restarted = member.instance !== undefined && beat.instance !== member.instance;
      const down = member.downLeaving;
      // Its ring names the last flush it knew: one it missed emptied keys it may hold.
      const missedFlush = (beat.ring?.flushed ?? 0) < this.#flushed;
      if (down && beat.leaving && !beat.empty && !restarted && !missedFlush) {
        // Whether a flush under way empties what it holds is known once its first round is over.
        if (this.#flushing > 0) return "flushing";
        if (this.#mayHandOver(member)) return this.#resumeLeave(address, member, beat, now);
      }
      if (!beat.empty && !restarted) {
        this.#options.log.info("node back, told to rejoin empty", { address, epoch: this.#epoch });
        return "rejoin";
      }
      if (beat.leaving) {
        // It holds nothing of the ring and is on its way out: forgotten, as its deregistration
        // would have. Only a late beat of the process marked down must still rejoin empty.
        this.#forget(address, restarted ? member : { ...member, status: "leaving" });
        this.#notify();
        return this.#keptOut(address, beat);
      }
      this.#members.delete(address);
    }
    // A leaving node is handing its keys over: only one marked down before must drop them.
    const dropped = !member && !beat.empty && (this.#forgottenDown(address, beat) ||
      (!beat.leaving && this.#droppedFrom(address, beat.ring)));
    if (dropped) {
      // Unknown here, yet marked down: by this master before an operator forgot it, or by another
      // (one this master recovered from or followed). It too must rejoin empty.
      this.#options.log.info("node marked down before, told to rejoin empty", { address });
      return "rejoin";
    }
    if (!this.#members.has(address) && (beat.leaving || this.#hasDeparted(address, beat))) {
      return this.#keptOut(address, beat);
    }
    this.#forgotten.delete(address);
    if (!this.#members.has(address)) {
      this.#members.set(address, {
        status: "up",
        lastSeenMs: now,
        lastReachedMs: now,
        instance: beat.instance,
        joined: this.#epoch + 1,
        synced: beat.synced ?? 0,
        syncedTerm: beat.syncedTerm,
      });
      if (unlearnt) this.#joinUnlearnt(address, unlearnt);
      else {
        // A master that learns no ring learns the last flush from the nodes as they join.
        this.noteFlush(beat.ring?.flushed ?? 0);
        this.#changed("node registered", address);
      }
      this.#options.onJoined?.(address);
      return "new";
    }
    const known = this.#members.get(address)!;
    return this.#beat(address, known, beat, now);
  }

  /**
   * A node marked down while it was leaving, heard again still leaving: its masters hung or were
   * out of its reach for a failure timeout. It goes on handing over: it is in no ring, and what it
   * hands over wins only over older states (by epoch, then version: the writes and deletions
   * made since are newer), while told to rejoin empty it dropped the keys it alone held. Reads look
   * for its keys where it holds them again, as when it first left. Not once a flush some node took
   * began after it was marked down: all it holds was written before, some of it stamped above the
   * flush's version (the newest of the nodes the flush reached), which its new owners would take;
   * it rejoins empty.
   */
  #resumeLeave(
    address: string,
    member: Member,
    beat: Omit<Heartbeat, "address">,
    now: number,
  ): HeartbeatOutcome {
    Object.assign(member, { status: "leaving", downLeaving: undefined, refusedMs: undefined });
    member.lastReachedMs = now;
    member.instance ??= beat.instance;
    if (!this.#unsettled.some((ring) => ring.nodes.includes(address))) {
      this.#unsettled = [...this.#unsettled.slice(0, 7), new Ring([...this.#ring.nodes, address])];
    }
    this.#options.log.info("leaving node heard again: its handover goes on", {
      address,
      epoch: this.#epoch,
    });
    this.#notify(); // followers and nodes list it leaving again, and keys moving
    return this.#beat(address, member, beat, now);
  }

  /** Whether any node is in the ring, or leaving it: writes may have been taken. */
  #anyIn(): boolean {
    for (const member of this.#members.values()) if (member.status !== "down") return true;
    return false;
  }

  /**
   * Whether the node at `address`, no member, holds keys of a ring this master neither published
   * nor carried on from: it learnt no ring from the nodes (or a leader it followed took nodes
   * back so), and the node's is not one it published or adopted (see {@link #own}).
   */
  #unlearnt(address: string, beat: Omit<Heartbeat, "address">): boolean {
    const ring = beat.ring;
    if (!this.#options.recoveryMs || ring === undefined || beat.empty) {
      return false; // a master that learns no ring (--recovery-ms 0) takes nodes in as they are
    }
    // One that carried on from a ring learnt from the nodes, its own or a leader's it followed,
    // takes nodes in as they are too, unless a master before it took nodes back by rings it never
    // learnt, and then still those of that master's term or later: its leaders' rings, which a
    // follower long-polling may have missed.
    if (this.#inherited && ring.term >= (this.#writesFrom?.term ?? -1)) return false;
    if (this.#members.has(address)) return false;
    return !this.#own(ring);
  }

  /**
   * Whether this master published `ring`: by its epoch and nodes. Its epochs alone do not tell:
   * the master before may have used them too, its clock ahead (a node of its later ring joined
   * with keys that ranked above writes taken here). A ring older than the 4,096 it still holds
   * is taken as its own by its epoch: a node forgotten while up keeps its keys however long ago.
   */
  #own(ring: RingView): boolean {
    const published = this.#published.get(`${ring.term} ${ring.epoch}`);
    if (published !== undefined) return published === nodesHash(ring.nodes);
    return ring.term === this.#term && ring.epoch > this.#since &&
      ring.epoch <= this.#forgottenThrough;
  }

  /**
   * Takes in the node at `address`, just made a member, with the keys of `ring`, a ring this
   * master never learnt: reads look for keys where that ring put them too, the newest copy
   * winning, until they have moved (the node's keys older than writes taken since, and the keys
   * only it holds); and this ring's epoch passes that ring's, which the node would not follow
   * otherwise. Taken in as plain members, such nodes made reads miss the keys only later ones
   * held and answer values older than writes acknowledged; told to rejoin empty, or marked down
   * by a wait started again for them, they lost every key they alone held.
   */
  #joinUnlearnt(address: string, ring: RingView): void {
    this.#options.log.info("node back with a ring never learnt here: its keys are read there too", {
      address,
      epoch: ring.epoch,
    });
    this.#epoch = Math.max(this.#epoch, ring.epoch);
    this.noteFlush(ring.flushed ?? 0);
    this.#changed("node registered", address);
    // From now on, followers judge such rings alike should one come to lead (see #unlearnt).
    this.#writesFrom ??= { term: this.#term, epoch: this.#firstWrites! };
    this.#unsettled = [...this.#unsettled.slice(0, 7), new Ring(ring.nodes)];
    this.#unlearntUntil = this.#options.now() + this.#options.recoveryMs!;
  }

  /**
   * Whether `ring`, which the node at `address` reports, held it, and a later ring of the same
   * term did not: the last ring of the master before this one, which this one carried on from.
   * Not this master's own epochs: they start from its clock, past every ring of a master it
   * replaced in the same term (one with no election restarting), which it never saw. A ring
   * newer than the inherited one, or of another term, may hold a node this master never knew: it
   * joins.
   */
  #droppedFrom(address: string, ring: RingView | undefined): boolean {
    const inherited = this.#inherited;
    return inherited !== undefined &&
      droppedBy({ ...inherited, nodes: this.#ring.nodes }, address, ring);
  }

  /**
   * Answers a leaving node this master does not know, most likely forgotten by its own
   * deregistration, which the beat was sent before: a node on its way out takes no keys. It hands
   * over what it holds by the ring answered, and its process is remembered as departed.
   */
  #keptOut(address: string, beat: Omit<Heartbeat, "address">): HeartbeatOutcome {
    const instance = beat.instance;
    if (instance === undefined || this.#departed.get(address) !== instance) {
      // Once per process, not at every beat of its handover.
      this.#options.log.info("leaving node kept out of the ring", { address, epoch: this.#epoch });
    }
    if (instance !== undefined) this.#remember(this.#departed, address, instance);
    return "known";
  }

  /** Whether the node at `address` is a process that said before it was leaving. */
  #hasDeparted(address: string, beat: Omit<Heartbeat, "address">): boolean {
    const instance = this.#departed.get(address);
    if (instance === undefined) return false;
    if (beat.instance === instance) return true;
    this.#departed.delete(address); // a new process at the address
    return false;
  }

  /** Whether the node at `address` is one marked down and forgotten, back as the same process. */
  #forgottenDown(address: string, beat: Omit<Heartbeat, "address">): boolean {
    if (!this.#forgotten.has(address)) return false;
    const instance = this.#forgotten.get(address);
    if (instance === undefined || beat.instance === instance) return true;
    this.#forgotten.delete(address); // a new process: it holds nothing
    return false;
  }

  /** A heartbeat of a member that is up or leaving. */
  #beat(
    address: string,
    member: Member,
    beat: Omit<Heartbeat, "address">,
    now: number,
  ): HeartbeatOutcome {
    member.lastSeenMs = now;
    this.#noteHandover(member, beat, now);
    // Only a member's: a flush a follower made reaches this master through the nodes, and a beat
    // of an address in no ring (a leaving one is not checked) could make every join drop keys.
    this.noteFlush(beat.ring?.flushed ?? 0);
    if (
      beat.synced !== undefined &&
      (beat.synced !== member.synced || beat.syncedTerm !== member.syncedTerm)
    ) {
      const wasSettled = this.settled;
      member.synced = beat.synced;
      member.syncedTerm = beat.syncedTerm;
      // Settled: the rings keys moved from are done with, or the next change would count them.
      if (this.#unsettled.length > 0 && this.settled) this.#unsettled = [];
      if (this.settled !== wasSettled) this.#notify(); // followers long-polling learn it now
    }
    if (
      beat.instance !== undefined && member.instance !== undefined &&
      beat.instance !== member.instance
    ) {
      member.instance = beat.instance;
      if (beat.leaving) {
        // Stopped before its first beat: the new process holds nothing, and takes no keys.
        const wasUp = member.status === "up";
        member.status = "leaving";
        if (wasUp) {
          this.#changed("node restarted, leaving", address);
          member.left = { term: this.#term, epoch: this.#epoch };
        }
        return this.#keptOut(address, beat);
      }
      member.status = "up";
      member.left = undefined;
      member.joined = this.#epoch + 1;
      // A new process, as a new member: a failure timeout from now for the master's calls to reach
      // it. The old one's last call answered may be older than that (it was killed, then started),
      // and marked it down just after it came back, emptying it: two more ring changes at once.
      member.lastReachedMs = now;
      this.#changed("node restarted", address);
      this.#options.onJoined?.(address);
      return "new";
    }
    member.instance ??= beat.instance;
    if (beat.leaving && member.status === "up") {
      member.status = "leaving";
      this.#changed("node leaving", address);
      member.left = { term: this.#term, epoch: this.#epoch };
    }
    return "known";
  }

  /**
   * Whether `member` has moved its keys for the current ring (or the ring of `term` and `epoch`).
   * Epochs of two terms do not compare: a new leader whose clock is behind can publish an epoch a
   * deposed leader already used. A ring of another term, newer ones too, is not this one: this
   * master's rings are kept.
   */
  #synced(member: Member, term = this.#term, epoch = this.#epoch): boolean {
    const synced = member.syncedTerm ?? term; // a node that names no term: by epoch alone
    return synced === term && member.synced >= epoch;
  }

  /**
   * Whether `member`, leaving, handed its keys over: synced for the ring `term`/`epoch`, or for the
   * ring it left in. Its keys went to that ring's owners, which hold them while later rings (a join
   * as it handed over, say) settle: asking it, gone, failed reads with its 502, then its breaker's
   * 503.
   */
  #handoverDone(member: Member, term = this.#term, epoch = this.#epoch): boolean {
    if (member.status !== "leaving") return false;
    const { left } = member;
    return this.#synced(member, term, epoch) ||
      (left !== undefined && this.#synced(member, left.term, left.epoch));
  }

  /**
   * The state of the member at `address`, or undefined for an address this master does not know.
   */
  status(address: string): MemberStatus | undefined {
    return this.#members.get(address)?.status;
  }

  /**
   * See `Placement.notAsked`: a member again (a new process) is asked as any member is, unless
   * it is marked down: what it holds no longer counts (it drops it all when it beats again), and
   * asking it failed reads while keys moved from a ring that named it. Not one marked down while
   * leaving that may still hand over: it holds keys no one else may have, and a read that skipped
   * it answered 404 for them while it was paused, then found them once it was heard again.
   */
  notAsked(address: string): boolean {
    const member = this.#members.get(address);
    if (member) return member.status === "down" && !this.#mayHandOver(member);
    return this.#handedOver.has(address);
  }

  /** See `Placement.mayHandOver`. */
  mayHandOver(address: string): boolean {
    const member = this.#members.get(address);
    return member !== undefined && this.#mayHandOver(member);
  }

  /** Records that the master called `address` and got an answer. */
  reached(address: string): void {
    const member = this.#members.get(address);
    if (!member) return;
    member.lastReachedMs = this.#options.now();
    member.refusedMs = undefined;
  }

  /**
   * Records that the master's call to `address` was refused: nothing listens there. A stalled
   * process still has its socket, whose connections the kernel takes; a refusal says it is gone.
   */
  refused(address: string): void {
    const member = this.#members.get(address);
    if (member) member.refusedMs = this.#options.now();
  }

  /** Forgets `address`; returns whether it was known. A follower leaves this to the leader. */
  deregister(address: string): boolean {
    if (!this.leading) return false;
    const member = this.#members.get(address);
    if (!member) return false;
    const handedOver = this.#handoverDone(member);
    this.#forget(address, member);
    if (handedOver) this.#remember(this.#handedOver, address, true);
    if (member.status === "up") this.#changed("node deregistered", address);
    else {
      this.#options.log.info("node deregistered", { address, epoch: this.#epoch });
      this.#notify(); // followers list it no more
    }
    return true;
  }

  /** Drops `member`; one forgotten while down must rejoin empty if the same process beats again. */
  #forget(address: string, member: Member): void {
    this.#members.delete(address);
    this.#handedOver.delete(address);
    this.#options.onForgotten?.(address);
    // The last forgetting decides: a node forgotten while up keeps its keys when it beats again.
    this.#forgotten.delete(address);
    if (member.status === "down") this.#remember(this.#forgotten, address, member.instance);
    if (member.status === "leaving" && member.instance !== undefined) {
      this.#remember(this.#departed, address, member.instance);
    }
  }

  /** Sets `address` in `list`, an operator's or nodes' record, bounded: the oldest go first. */
  #remember<T>(list: Map<string, T>, address: string, value: T): void {
    list.delete(address);
    list.set(address, value);
    if (list.size > 10_000) list.delete(list.keys().next().value!);
  }

  /**
   * Marks down every up or leaving node whose last heartbeat is older than the failure timeout,
   * and ends a recovery whose time is up. Called often (a tenth of the timeout): a call that comes
   * a quarter of the timeout late means this process was paused, so every node gets the missing
   * time back before it is judged (its heartbeats are queued behind this call).
   */
  sweep(): void {
    const now = this.#options.now();
    const paused = this.#pausedMs(now);
    this.#lastSweep = now;
    if (!this.leading) return;
    if (this.#unlearntUntil > 0 && now >= this.#unlearntUntil) {
      this.#unlearntUntil = 0; // the wait for a ring never learnt is over
      if (this.settled) this.#notify(); // followers long-polling learn it now
    }
    if (this.#recovery) {
      if (this.#recovery.done(now)) this.#recovered();
      return;
    }
    if (paused > 0) {
      this.#options.log.warn("paused: every node gets the missing time back", { pausedMs: paused });
      for (const member of this.#members.values()) {
        member.lastSeenMs = Math.min(now, member.lastSeenMs + paused);
        member.lastReachedMs = Math.min(now, member.lastReachedMs + paused);
      }
      return;
    }
    const deadline = now - this.#options.failureTimeoutMs;
    // Heard from, but not answering the master's calls, is as good as silent.
    const alive = (member: Member) =>
      this.#options.callsNodes
        ? Math.min(member.lastSeenMs, member.lastReachedMs)
        : member.lastSeenMs;
    const late = (member: Member) => alive(member) <= deadline;
    // No node heard from within half the timeout: none is marked down. Nodes all silent at about
    // the same time (a client's reads stalled them, one after another) are likelier busy than
    // all dead, and those marked down would come back told to drop all they hold, while the
    // others might not be there to take their keys. Each stops serving at its lease meanwhile.
    // A node whose calls are refused is gone, not busy: it holds nothing, and is marked down.
    const fresh = now - this.#options.failureTimeoutMs / 2;
    const up = [...this.#members.values()].filter((member) => member.status === "up");
    const held = up.length > 0 && !up.some((member) => alive(member) > fresh);
    if (held !== this.#noneFresh) {
      this.#noneFresh = held;
      if (held) this.#options.log.warn("no node heard from lately: none is marked down", {});
      else {
        this.#options.log.info("a node is heard from again", {});
        // The others resume at about the same time, a beat or two later: half a timeout more.
        // Not one kept up already (see #keepsUp): its hold would begin again each time.
        for (const [address, member] of this.#members) {
          if (member.status !== "up" || this.#keptUp.has(address)) continue;
          member.lastSeenMs = Math.max(member.lastSeenMs, fresh);
          member.lastReachedMs = Math.max(member.lastReachedMs, fresh);
        }
      }
    }
    if (this.#downUnsettled && this.settled) this.#downUnsettled = false;
    for (const [address, member] of this.#members) {
      // Refused since its last heartbeat: a beat after the refusal says a process is there (the
      // node restarted on its address).
      const gone = member.refusedMs !== undefined && member.refusedMs > member.lastSeenMs;
      if (held && member.status === "up" && !gone) continue;
      const isLate = late(member);
      if (member.status === "up" && !gone && isLate && this.#keepsUp(address, alive(member), now)) {
        continue;
      }
      this.#keptUp.delete(address);
      if (member.status !== "down" && isLate) {
        const wasUp = member.status === "up";
        this.#downUnsettled = true;
        member.status = "down";
        member.downLeaving = wasUp ? undefined : this.#flushes();
        if (wasUp) this.#changed("node down", address);
        else {
          this.#options.log.warn("node down while leaving", { address, epoch: this.#epoch });
          this.#notify(); // followers list it down too
        }
      } else if (member.downLeaving && !this.#mayHandOver(member)) {
        // Its handover time is over (or a flush emptied what it held): it has exited, or stops
        // handing over and exits. Its keys no longer keep the ring unsettled.
        member.downLeaving = undefined;
        this.#options.log.info("node down while leaving: its handover time is over", { address });
        this.#notify();
      }
    }
  }

  /**
   * Whether the node at `address`, up and late (not heard from or reached since `aliveMs`, a
   * failure timeout ago or more), not known gone, stays up for now: with backups, another node was
   * marked down and keys have not settled since, so its keys have a copy fewer, and this one marked
   * down too, told to rejoin empty, would take the last copy of some. Two nodes alive but unheard
   * are likelier then than two dead: a master too busy to read heartbeats in time marked two live
   * nodes down, one after the other, and acknowledged writes were lost at R=2. Kept up for
   * {@link HELD_UP_TIMEOUTS} failure timeouts of silence at most, counted from when it was last
   * heard as the hold began (the time a sweep gives back after a pause, or after no node was heard,
   * does not extend it): one dead too then goes. Its lease runs out meanwhile: it serves nothing.
   */
  #keepsUp(address: string, aliveMs: number, now: number): boolean {
    const { failureTimeoutMs, log, replicas = 1 } = this.#options;
    if (replicas < 2 || !this.#downUnsettled) return false;
    let since = this.#keptUp.get(address);
    if (since === undefined) {
      since = aliveMs;
      this.#keptUp.set(address, since);
      log.warn("node silent, but another is down and keys have not settled: kept up for now", {
        address,
        silentMs: now - since,
      });
    }
    return now - since < HELD_UP_TIMEOUTS * failureTimeoutMs;
  }

  /**
   * The time since the last sweep when it is more than a quarter of the failure timeout (sweeps
   * come every tenth): this process was paused that long, else 0.
   */
  #pausedMs(now: number): number {
    const gap = now - (this.#lastSweep ?? now);
    return gap > this.#options.failureTimeoutMs / 4 ? gap : 0;
  }

  /** The ring as published to nodes and clients. */
  view(options: { movingFrom?: boolean } = {}): RingView {
    const joined: Record<string, number> = {};
    for (const address of this.#ring.nodes) joined[address] = this.#members.get(address)!.joined;
    const settled = this.settled;
    // A follower's own count of the rings it saw may miss some: the leader's, as it said.
    const following = !this.leading && this.#term !== this.#ledTerm;
    const moving = settled
      ? 0
      : following
      ? this.#leaderMoving ?? this.unsettledRings.length
      : this.unsettledRings.length;
    return {
      term: this.#term,
      epoch: this.#epoch,
      replicas: this.replicas,
      nodes: [...this.#ring.nodes],
      joined,
      settled,
      ...(moving > 0 ? { movingRings: moving } : {}),
      ...(options.movingFrom && !settled
        ? { movingFrom: this.unsettledRings.map((ring) => [...ring.nodes]) }
        : {}),
      ...this.#others(),
      version: this.version,
      ...(this.#flushed > 0 ? { flushed: this.#flushed } : {}),
      ...(this.#writesFrom !== undefined ? { writesFrom: this.#writesFrom } : {}),
    };
  }

  /** The version the cluster's last flush went through, as this master knows it; 0 for none. */
  get flushed(): number {
    return this.#flushed;
  }

  /**
   * Notes that a flush begins, before its first round: a leaving node marked down that is heard
   * again meanwhile is asked to beat again (503) until {@link flushFirstRoundDone}, then rejoins
   * empty if a node took the flush (see #resumeLeave). Resumed at once, the node, back among the
   * holders, would be sent only the second round, which keeps what it stamped above the version.
   */
  flushBegins(): void {
    this.#flushing++;
  }

  /**
   * Notes that a flush's first round is over, with the version it goes through ({@link noteFlush}),
   * or undefined when no node emptied in it.
   */
  flushFirstRoundDone(through: number | undefined): void {
    this.#flushing = Math.max(0, this.#flushing - 1);
    if (through === undefined) return;
    this.#flushesTaken++;
    this.noteFlush(through);
  }

  /** The flushes as a node marked down while leaving is marked with (see #resumeLeave). */
  #flushes(): { flushed: number; flushesTaken: number } {
    return { flushed: this.#flushed, flushesTaken: this.#flushesTaken };
  }

  /**
   * Takes the version a flush went through, this master's or one a node or the leader reports,
   * and publishes it with the ring from then on.
   */
  noteFlush(version: number): void {
    if (!(version > this.#flushed)) return;
    this.#flushed = version;
    if (this.leading) this.#notify();
  }

  /**
   * The version of {@link view}: a leader's own count of the changes it made known; a follower's,
   * the leader's it took last, since its rings are the leader's (a follower's own count would
   * order nothing for a master that takes a ring from it).
   */
  get version(): number | undefined {
    return this.leading ? this.#version : this.#leaderVersion;
  }

  /** A follower's: the version of the leader's view it took last, if the leader named one. */
  get leaderVersion(): number | undefined {
    return this.#leaderVersion;
  }

  /**
   * The view's fields on the members outside the ring, in one pass (every heartbeat's answer is a
   * view): each by status; the leaving ones' handover time left (`handoverLeftMs`, left out for
   * none); and those marked down while leaving that may still hand over, by their time left (see
   * #resumeLeave).
   */
  #others(): Pick<RingView, "outside" | "handoverLeftMs" | "downWhileLeaving"> {
    const outside: Record<string, "leaving" | "down"> = {};
    const leaving: Record<string, number> = {};
    const downWhileLeaving: Record<string, number> = {};
    let anyLeaving = false;
    const now = this.#options.now();
    for (const [address, member] of this.#members) {
      if (member.status === "up") continue;
      outside[address] = member.status;
      if (member.handoverUntil === undefined) continue;
      const left = Math.max(0, member.handoverUntil - now);
      if (member.status === "leaving") {
        leaving[address] = left;
        anyLeaving = true;
      } else if (this.#mayHandOver(member)) downWhileLeaving[address] = left;
    }
    return { outside, ...(anyLeaving ? { handoverLeftMs: leaving } : {}), downWhileLeaving };
  }

  /**
   * Whether `member`, marked down while leaving, may still hand its keys over: no flush some node
   * took began since, its address does not refuse calls, and its handover time (with a failure
   * timeout for its last beats) is not over. After that it has exited, or stops handing over and
   * exits.
   */
  #mayHandOver(member: Member): boolean {
    const down = member.status === "down" ? member.downLeaving : undefined;
    if (!down || this.#flushedSince(down) || member.handoverUntil === undefined) return false;
    // Its address refuses calls since its last beat: the process has exited.
    if (member.refusedMs !== undefined && member.refusedMs > member.lastSeenMs) return false;
    return this.#options.now() < member.handoverUntil + this.#options.failureTimeoutMs;
  }

  /**
   * Notes when a leaving member's handover ends, as its beat says; a node of an older build says
   * nothing, and gets the default handover time from each beat.
   */
  #noteHandover(member: Member, beat: Omit<Heartbeat, "address">, now: number): void {
    if (beat.leaving) member.handoverUntil = now + (beat.handoverLeftMs ?? HANDOVER_MS);
  }

  /** Whether a flush some node took began after a leaving node was marked down. */
  #flushedSince(down: { flushed: number; flushesTaken: number }): boolean {
    return down.flushed < this.#flushed || down.flushesTaken < this.#flushesTaken;
  }

  /** Every known node, sorted by address. */
  list(): NodeList {
    const nodes = [...this.#members].sort(([a], [b]) => a < b ? -1 : 1).map(([address, m]) => ({
      address,
      status: m.status,
      lastSeen: new Date(m.lastSeenMs).toISOString(),
      synced: this.#synced(m),
    }));
    return { epoch: this.#epoch, nodes };
  }

  /**
   * A follower takes the leader's ring if it is newer (by term, then epoch) than its own. Nodes in
   * the ring are up; a node that left it is leaving if it asked to, else down.
   * Returns whether the ring was adopted.
   */
  adopt(view: RingView): boolean {
    if (this.leading) return false;
    const flushed = this.#flushed; // before this view's: it may have come after a node went down
    this.noteFlush(view.flushed ?? 0);
    if (view.writesFrom !== undefined) this.#writesFrom ??= view.writesFrom;
    if (view.term === this.#term && view.epoch === this.#epoch) {
      // An answer older than the last one taken (a forwarded registration's, say) says nothing.
      if ((view.version ?? Infinity) < (this.#leaderVersion ?? -1)) return false;
      this.#leaderVersion = view.version;
      const settled = view.settled ?? true;
      const counted = view.movingRings !== this.#leaderMoving;
      this.#leaderMoving = view.movingRings;
      const rings = this.#adoptMoving(view, []);
      const moved = this.#adoptOutside(view, flushed) || counted || rings;
      if (moved) this.#notify();
      if (settled === this.#leaderSettled) return moved;
      this.#leaderSettled = settled; // the same ring: only whether its keys have moved changed
      if (settled) this.#unsettled = [];
      this.#notify();
      return true;
    }
    if (!newerRing(view, this)) return false;
    const now = this.#options.now();
    const changed = view.nodes.join(" ") !== this.#ring.nodes.join(" ");
    const before = this.#ring;
    if (changed) {
      this.#unsettled = (view.settled ?? true) ? [] : [this.#ring, ...this.#unsettled].slice(0, 8);
      this.#ring = new Ring(view.nodes);
    } else if (view.settled ?? true) this.#unsettled = [];
    this.#adoptMoving(view, [before]);
    const inRing = new Set(view.nodes);
    for (const address of view.nodes) {
      const member = this.#members.get(address);
      const joined = view.joined[address] ?? view.epoch;
      // Joined anew: a restarted process, whose instance the next heartbeat tells.
      if (member && member.joined !== joined) member.instance = undefined;
      if (!member || member.joined !== joined) this.#options.onJoined?.(address);
      if (member) {
        Object.assign(member, { status: "up", joined, left: undefined, downLeaving: undefined });
      } else {
        this.#members.set(address, {
          status: "up",
          lastSeenMs: now,
          lastReachedMs: now,
          instance: undefined,
          joined,
          synced: 0,
        });
      }
    }
    if (!this.#adoptOutside(view, flushed)) {
      for (const [address, member] of this.#members) {
        if (inRing.has(address) || member.status !== "up") continue;
        // A leader that names no other nodes (an older build): out of its ring, handing its keys
        // over if it asked to leave, else marked down, so it is told to rejoin empty if this
        // master comes to lead and it beats again.
        member.status = member.leaving ? "leaving" : "down";
      }
    }
    this.#term = view.term;
    this.#epoch = view.epoch;
    this.#publish(); // its rings are known as this one's own, should it come to lead
    this.#leaderVersion = view.version;
    this.#leaderSettled = view.settled ?? true;
    this.#leaderMoving = view.movingRings;
    this.#recovery = undefined; // the leader's ring: nothing left to learn from the nodes
    this.#options.log.info("ring adopted", {
      term: view.term,
      epoch: view.epoch,
      up: view.nodes.length,
    });
    this.#notify();
    return true;
  }

  /**
   * This master now leads in `term`: it carries on from the members and heartbeats it has and
   * publishes the same ring in a new epoch of the new term, so nodes fence out the old leader.
   */
  lead(term: number): void {
    if (this.#ring.size > 0) this.#inherited = { term: this.#term, epoch: this.#epoch };
    this.#term = Math.max(term, this.#term);
    this.#ledTerm = this.#term;
    const now = this.#options.now();
    // Epochs jump to the clock, so writes stamped in this term's rings are newer than any stamped
    // in the last leader's, even in epochs it published that never reached this master.
    this.#epoch = Math.max(this.#epoch, now);
    this.#since = this.#epoch;
    // Heartbeats went to the old leader: every node gets a fresh failure timeout from here.
    for (const member of this.#members.values()) {
      member.lastSeenMs = now;
      member.lastReachedMs = now;
    }
    // A node down may have left keys a copy fewer: until a sweep finds them settled, a late node
    // is kept up (see #keepsUp).
    this.#keptUp.clear();
    this.#downUnsettled = [...this.#members.values()].some((member) => member.status === "down");
    this.#recovery = undefined; // the ring adopted from the last leader is the one to go on from
    if (this.#ring.size === 0 && this.#options.recoveryMs) {
      // No ring of the leader's was ever adopted: learn it from the nodes, as a restart does.
      this.#recovery = new Recovery(now + this.#options.recoveryMs);
      this.#options.log.info("leading with no ring: recovering it from the nodes", { term });
      return;
    }
    this.#changed("leader elected", "", true);
  }

  /**
   * A heartbeat while recovering: the node is remembered as up, with the ring it follows. Returns
   * "recovering" while the wait goes on, or undefined once it ended with this beat.
   */
  #recover(
    address: string,
    beat: Omit<Heartbeat, "address">,
    now: number,
  ): HeartbeatOutcome | undefined {
    const recovery = this.#recovery!;
    recovery.heard(address, beat.ring);
    // The last flush, with the last ring: from a node of that ring, not a leaving beat (no call
    // checks one) naming an address its ring does not hold.
    if (!beat.leaving && beat.ring?.nodes.includes(address)) this.noteFlush(beat.ring.flushed ?? 0);
    // A process that said it was leaving stays so, whatever beat it sent before comes after.
    const known = this.#members.get(address);
    const left = known?.status === "leaving" && beat.instance !== undefined &&
      known.instance === beat.instance;
    this.#members.set(address, {
      status: beat.leaving || left ? "leaving" : "up",
      lastSeenMs: now,
      lastReachedMs: now,
      instance: beat.instance,
      joined: beat.ring?.joined[address] ?? 0,
      synced: beat.synced ?? 0,
      syncedTerm: beat.syncedTerm,
    });
    this.#noteHandover(this.#members.get(address)!, beat, now);
    if (!recovery.done(now)) return "recovering";
    this.#recovered();
    return undefined;
  }

  /**
   * Ends the recovery: the last ring the nodes reported, less the nodes that did not come back
   * (marked down: they must rejoin empty), plus new nodes, in an epoch and term past any reported.
   * Keys still sit where the last ring put them, so that ring is kept for reads until they move.
   */
  #recovered(): void {
    const recovery = this.#recovery!;
    this.#recovery = undefined;
    const last = recovery.last;
    const now = this.#options.now();
    const missing = recovery.missing();
    // Missing, or back from a ring the last one dropped (unless leaving, handing its keys over):
    // either must rejoin empty.
    const dropped = recovery.dropped()
      .filter((address) => this.#members.get(address)?.status !== "leaving");
    for (const address of [...missing, ...dropped]) this.#members.set(address, downMember(now));
    // Their keys have a copy fewer until keys settle: a late node is kept up meanwhile.
    if (missing.length + dropped.length > 0) this.#downUnsettled = true;
    if (last) {
      this.#recoverLeavers(recovery.leavers(), last, now);
      this.#inherited = { term: last.term, epoch: last.epoch };
      this.#term = Math.max(this.#term, last.term);
      this.#epoch = Math.max(this.#epoch, last.epoch);
      // Read as well: the leaving nodes, heard or not, hold the keys they have not handed over.
      const leaving = [...this.#members].filter(([, member]) =>
        member.status === "leaving" || this.#mayHandOver(member)
      ).map(([address]) => address);
      this.#ring = new Ring([...new Set([...last.nodes, ...leaving])]);
      this.#unsettled = [];
    }
    const published = this.#epoch + 1; // the epoch #changed publishes below
    for (const [address, member] of this.#members) {
      // New since the last ring: a join, so keys move to it.
      if (member.status !== "down" && !last?.nodes.includes(address)) member.joined = published;
    }
    this.#options.log.info("ring recovered from the nodes", {
      epoch: last?.epoch ?? null,
      back: (last?.nodes.length ?? 0) - missing.length,
      missing,
    });
    this.#changed("recovered", "");
  }

  /**
   * The nodes the last ring lists leaving (`leavers`, by the milliseconds of handover it gave them)
   * that did not beat during the recovery: paused, or cut off from the masters, each may still
   * hand its keys over. Each is as if marked down here while leaving (see #resumeLeave), with the
   * flushes known now: until its handover time is over, reads ask it and keys are not settled.
   */
  #recoverLeavers(leavers: Map<string, number | undefined>, last: RingView, now: number): void {
    for (const [address, ms] of leavers) {
      if (this.#members.has(address)) continue;
      this.#members.set(address, {
        ...downMember(now),
        left: { term: last.term, epoch: last.epoch },
        downLeaving: this.#flushes(),
        handoverUntil: now + (ms ?? HANDOVER_MS),
      });
      this.#options.log.warn(
        "leaving node of the last ring not heard: read until its handover ends",
        {
          address,
          handoverLeftMs: ms ?? HANDOVER_MS,
        },
      );
    }
  }

  /**
   * Takes the rings the leader reads through (`view.movingFrom`), those this follower missed
   * included: built from the rings it saw, it read 404 for keys a missed ring had moved, or a
   * leaving node heard again held. Rings it has (or `known`) are kept, their lookups warm. Returns
   * whether they changed; false, with nothing done, for a view without them (a leader of an older
   * build, or an answer to a forwarded call).
   */
  #adoptMoving(view: RingView, known: Ring[]): boolean {
    if (view.movingFrom === undefined) return false;
    const have = [...known, ...this.#unsettled];
    const rings = view.movingFrom.map((nodes) => {
      const text = nodesText(nodes);
      return have.find((ring) => nodesText(ring.nodes) === text) ?? new Ring(nodes);
    });
    const same = rings.length === this.#unsettled.length &&
      rings.every((ring, i) => ring === this.#unsettled[i]);
    this.#unsettled = rings;
    return !same;
  }

  /**
   * Takes the leader's other nodes (`view.outside`): their statuses, and forgetting those it no
   * longer knows as its `deregister()` did, so a node forgotten while down still rejoins empty
   * should this master come to lead, and one that left having reported its handover (to this
   * master too, as nodes beat every master) is not asked in moving reads here either. `flushed` is
   * the last flush this master knew before the view. Returns whether anything changed; false, with
   * nothing done, for a view without them (a leader of an older build).
   */
  #adoptOutside(view: RingView, flushed: number): boolean {
    const outside = view.outside;
    if (!outside) return false;
    const inRing = new Set(view.nodes);
    let changed = false;
    for (const [address, member] of this.#members) {
      if (inRing.has(address) || Object.hasOwn(outside, address)) continue;
      // Synced for the view's ring, not only this master's older one: it may hold keys of a ring
      // it never saw, and a read that skips it would miss them.
      const handedOver = this.#handoverDone(member, view.term, view.epoch);
      // Up here: whether the leader marked it down before it forgot it went unseen, so as down.
      this.#forget(address, member.status === "up" ? { ...member, status: "down" } : member);
      if (handedOver) this.#remember(this.#handedOver, address, true);
      changed = true;
    }
    const now = this.#options.now();
    const downWhileLeaving = view.downWhileLeaving;
    for (const [address, status] of Object.entries(outside)) {
      const member = this.#members.get(address);
      // Marked down by the leader while leaving: as it would have been here (see #resumeLeave).
      // A leader of an older build names none: then only a node seen leaving here first is.
      const wasLeaving = status === "down" &&
        (downWhileLeaving
          ? Object.hasOwn(downWhileLeaving, address)
          : member?.status === "leaving" || member?.downLeaving !== undefined);
      const downLeaving = wasLeaving
        ? member?.downLeaving ?? { flushed, flushesTaken: this.#flushesTaken }
        : undefined;
      // Its handover's end as the leader knows it (marked down while leaving, or leaving), for a
      // node this master never heard leaving; under a leader that does not say, the default
      // handover time from when it was seen leaving.
      const said = handoverLeftIn(view, address);
      const handoverUntil = said !== undefined
        ? now + said
        : member?.handoverUntil ?? (status === "leaving" ? now + HANDOVER_MS : undefined);
      if (member) member.handoverUntil = handoverUntil;
      if (member?.status === status && !member.downLeaving === !downLeaving) continue;
      changed = true;
      // First seen leaving in this ring: as far as this master knows, the one it left in.
      const left = status === "leaving" ? { term: view.term, epoch: view.epoch } : undefined;
      if (member) {
        member.downLeaving = downLeaving;
        member.status = status;
        if (left) member.left = left;
        // The process this master last heard may not be the one marked down (a restart it
        // missed): none, so that whichever beats is told to rejoin empty should this master lead.
        if (status === "down") member.instance = undefined;
      } else {
        this.#members.set(address, {
          status,
          lastSeenMs: now,
          lastReachedMs: now,
          instance: undefined,
          joined: 0,
          synced: 0,
          left,
          downLeaving,
          handoverUntil,
        });
      }
    }
    return changed;
  }

  /** Resolves at the next change of ring, epoch or term, or after `ms`; at once once closed. */
  changed(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const waiters = this.#waiters;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      waiters.add(done);
      function done() {
        clearTimeout(timer);
        // A wait that timed out goes at once: kept until the next change, 100,000 short long
        // polls held 60 MiB.
        waiters.delete(done);
        resolve();
      }
    });
  }

  /** Calls of {@link changed} waiting now: the long polls in flight. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** A follower records the heartbeat of a node whose state the leader's ring already shows. */
  #record(address: string, beat: Omit<Heartbeat, "address">): HeartbeatOutcome {
    const member = this.#members.get(address);
    if (!member || member.status === "down") return "forward";
    if (
      beat.instance !== undefined && member.instance !== undefined &&
      beat.instance !== member.instance
    ) {
      return "forward"; // a new process: what it says is not the old one's
    }
    if (beat.leaving) member.leaving = true;
    this.#noteHandover(member, beat, this.#options.now());
    if (beat.leaving && member.status === "up") return "forward";
    member.lastSeenMs = this.#options.now();
    member.instance ??= beat.instance;
    if (beat.synced !== undefined) {
      member.synced = beat.synced;
      member.syncedTerm = beat.syncedTerm;
    }
    return "known";
  }

  /** Ends every wait for a change, so long polls answer before the master stops. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    this.#version++;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const done of waiters) done();
  }

  /** Records the current ring as one this master published (or took from its leader). */
  #publish(): void {
    this.#published.set(`${this.#term} ${this.#epoch}`, nodesHash(this.#ring.nodes));
    if (this.#published.size > 4096) {
      const oldest = this.#published.keys().next().value!;
      this.#published.delete(oldest);
      this.#forgottenThrough = Number(oldest.split(" ")[1]);
    }
  }

  #changed(event: string, address: string, sameProcesses = false): void {
    const up = [...this.#members].filter(([, m]) => m.status === "up").map(([a]) => a);
    // Keep the ring being left; the older ones only while their keys may still be moving. Not
    // when the change moves no key: a new leader carrying on with the same processes listed its
    // ring twice. (A ring of the same nodes is kept otherwise: a node restarted empty at its
    // address, or a ring that came back before keys settled, is a change reads must see.)
    const moves = !sameProcesses || nodesText(up) !== nodesText(this.#ring.nodes);
    if (moves) {
      this.#unsettled = this.settled ? [this.#ring] : [this.#ring, ...this.#unsettled].slice(0, 8);
    }
    this.#ring = new Ring(up);
    this.#epoch++;
    this.#publish();
    if (up.length > 0) this.#firstWrites ??= this.#epoch;
    this.#options.log.info(event, {
      ...(address ? { address } : {}),
      term: this.#term,
      epoch: this.#epoch,
      up: up.length,
    });
    this.#notify();
  }
}

/** A member marked down at `now`, of no process known: heard again, it must rejoin empty. */
function downMember(now: number): Member {
  return {
    status: "down",
    lastSeenMs: now,
    lastReachedMs: now,
    instance: undefined,
    joined: 0,
    synced: 0,
  };
}

/** A ring's node list as one text, whatever its order. */
function nodesText(nodes: readonly string[]): string {
  return [...nodes].sort().join(" ");
}

/** A hash of a ring's node list, whatever its order. */
function nodesHash(nodes: readonly string[]): number {
  return hash32(nodesText(nodes));
}
