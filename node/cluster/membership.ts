// The node's side of membership: register, heartbeat, follow the ring, deregister.

import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import type { Fetch } from "@cache/http1/fetch";
import type { Logger } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import { sleep } from "@cache/async/sleep";
import { LEASE_HEADER, newerRing, RingView } from "@cache/protocol/wire";
import type { RingRef } from "@cache/protocol/sender_ring";

/** Where the masters are, who this node is, and how often it beats. */
export interface MembershipOptions {
  /** The masters' base URLs, asked before every round of heartbeats. */
  masters: () => Promise<string[]>;
  /** The URL the master and peers reach this node at. */
  advertise: string;
  heartbeatMs: number;
  fetch: Fetch;
  log: Logger;
  /** Called with each new ring the master publishes. */
  onRing?: (view: RingView) => void;
  /** Called when the master says this node was marked down: drop every key, then rejoin. */
  onRejoin?: () => void;
  /** The last ring whose keys this node has finished moving, reported with each heartbeat. */
  synced?: () => RingRef;
  /**
   * The version the cluster's last flush went through as this node knows it, reported with its
   * ring; `onFlushed` takes the one a master's ring names, before the ring itself is taken.
   */
  flushed?: () => number;
  onFlushed?: (version: number) => void;
  /** A monotonic clock in milliseconds, for the lease; default `performance.now`. */
  now?: () => number;
  /**
   * A node on its own (`--master none`): with no ring it serves every key. Otherwise a node with
   * no ring yet (just started, or dropped its keys to rejoin) serves none until a master answers.
   */
  standalone?: boolean;
}

/** Retries while the master is down start at this delay and double up to {@link MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 100;

/** Longest wait between two registration attempts while the master is down. */
export const MAX_BACKOFF_MS = 2000;

/** The least time between two heartbeats brought forward for a short lease. */
const MIN_BEAT_MS = 50;

/**
 * Keeps this node registered: one `POST /register` per heartbeat to every master, which also
 * registers it again when a restarted master has forgotten it, with backoff while no master can be
 * reached. Of the rings the masters answer, only one newer than the ring it has (by term, then
 * epoch) is taken, so a deposed leader's ring is ignored.
 */
export class Membership {
  readonly #options: MembershipOptions;
  readonly #instance = crypto.randomUUID();
  #view: RingView | undefined;
  #ring = new Ring();
  #leaving = false;
  #handoverLeftMs: (() => number) | undefined; // while leaving
  #acknowledged = false;
  #leaseUntil = 0; // on the monotonic clock: until then this node may act as a primary
  #grantedMs = Infinity; // the lease the leader gave the last round's beat, if it gave one
  #empty = false; // dropped every key to rejoin: says so until a master takes it back
  #failures = 0; // rounds in a row no master acknowledged
  #refreshing: Promise<boolean> | undefined;
  readonly #departed = new Set<string>(); // nodes of earlier rings, not this one, while keys move
  #settled: RingRef | undefined; // the newest ring this node heard was settled
  readonly #unreachable = new Map<string, string>(); // masters whose last heartbeat failed: why
  #running = false;
  #wake = new AbortController();
  #loop: Promise<void> = Promise.resolve();

  constructor(options: MembershipOptions) {
    this.#options = options;
  }

  /** Whether the master acknowledged the latest heartbeat. */
  get registered(): boolean {
    return this.#acknowledged;
  }

  /**
   * Milliseconds for which this node may still act on its ring as a primary: the lease the leading
   * master gave with its last acknowledgement, counted from when that heartbeat was sent, so it
   * ends before the master can mark this node down (docs/replication.md, "Leases"). Infinite for
   * a node on its own; 0 once the lease has run out, and for a node of a cluster with no ring yet:
   * restarted while no master answers, it would otherwise take the keys of a ring it never saw.
   */
  leaseLeftMs(): number {
    if (!this.#view) return this.#options.standalone ? Infinity : 0;
    return Math.max(0, this.#leaseUntil - this.#now());
  }

  /** The ring as the master last published it. */
  get ring(): Ring {
    return this.#ring;
  }

  /** The newest ring this node heard had settled: every node of it followed it then. */
  get settledRing(): RingRef | undefined {
    return this.#settled;
  }

  /** The ring's epoch, replicas and members as the master last published them. */
  get view(): RingView | undefined {
    return this.#view;
  }

  /**
   * Nodes of the rings before this one that are not in it, until its keys have settled: a node
   * that left (or is leaving) may still hold the newest state of keys it owned.
   */
  get departed(): readonly string[] {
    return [...this.#departed];
  }

  /**
   * Tells the master, from the next heartbeat on, that this node is leaving the ring, and how long
   * it still hands its keys over (`handoverLeftMs()`, milliseconds), after which it exits.
   */
  leave(handoverLeftMs?: () => number): void {
    this.#leaving = true;
    this.#handoverLeftMs = handoverLeftMs;
  }

  /**
   * Heartbeats now, which brings the masters' rings and the leader's lease; resolves whether any
   * master acknowledged. Calls made while one is in flight share it, so writes routed with a newer
   * epoch do not each ask every master.
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.beat().finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  /** Starts heartbeating now and keeps on until {@link stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#wake = new AbortController();
    this.#loop = this.#run();
  }

  /** Stops heartbeating; resolves once no heartbeat is in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake.abort();
    await this.#loop;
  }

  /** Sends one heartbeat to every master; returns whether any acknowledged it. */
  async beat(): Promise<boolean> {
    return (await this.#round()) === "ok";
  }

  /**
   * One heartbeat to every master: acknowledged; refused by all with one busy; not acknowledged,
   * with one not reached, silent past the timeout or in trouble (5xx: unreached); or every one
   * refused it (4xx).
   */
  async #round(): Promise<"ok" | "busy" | "unreached" | "failed"> {
    const masters = await this.#options.masters();
    this.#grantedMs = Infinity;
    if (masters.length === 0) return "unreached"; // a name that resolves to none yet
    const outcomes = await Promise.all(masters.map((master) => this.#beatOne(master)));
    if (outcomes.includes("rejoin")) {
      // Marked down while away: what this node holds may be stale, so it starts over.
      this.#view = undefined;
      this.#ring = new Ring();
      this.#leaseUntil = 0;
      this.#options.onRejoin?.();
      this.#empty = true;
      const again = await Promise.all(masters.map((master) => this.#beatOne(master, true)));
      outcomes.splice(0, outcomes.length, ...again);
    }
    const acknowledged = outcomes.includes("ok");
    if (!acknowledged && this.#failures === 0) {
      this.#options.log.warn("no master acknowledged the heartbeat", { masters });
    }
    this.#acknowledged = acknowledged;
    const busy = !acknowledged && outcomes.includes("busy");
    // A master that answers but cannot take the beat yet is asked again at the shortest backoff.
    this.#failures = acknowledged ? 0 : busy ? 1 : this.#failures + 1;
    if (acknowledged) return "ok";
    return busy ? "busy" : outcomes.includes("unreached") ? "unreached" : "failed";
  }

  /**
   * Heartbeats until a master acknowledges, asking again at the shortest backoff while one
   * answers that it cannot take beats yet (busy: learning the last ring after a restart), cannot be
   * reached (restarting: its address refuses calls, or resolves to none) or does not answer in
   * time (a follower passing the beat on to a leader that hangs, or a hung master), for at most
   * `timeoutMs`: a node that leaves without a master's word hands nothing over. Returns whether
   * one acknowledged; at once when every master refused it (a 4xx: a refused token, say).
   */
  async beatUntilTaken(timeoutMs: number): Promise<boolean> {
    const end = this.#now() + timeoutMs;
    for (;;) {
      const outcome = await this.#round();
      if (outcome === "ok") return true;
      const left = end - this.#now();
      if (outcome === "failed" || left <= 0) {
        this.#options.log.warn("no master took the leave", { outcome, timeoutMs });
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(FIRST_BACKOFF_MS, left)));
    }
  }

  /** Tells every master this node is leaving; returns whether one removed it. */
  async deregister(): Promise<boolean> {
    const { advertise, log } = this.#options;
    this.#acknowledged = false;
    const removed = await Promise.all((await this.#options.masters()).map(async (master) => {
      try {
        const answer = await this.#options.fetch(
          `${master}/register/${encodeURIComponent(advertise)}`,
          { method: "DELETE", signal: AbortSignal.timeout(this.#timeoutMs()) },
        );
        await answer.body?.cancel();
        log.info("deregistered", { master, status: answer.status });
        return answer.status === 204;
      } catch (error) {
        log.warn("could not deregister", { master, error: String(error) });
        return false;
      }
    }));
    return removed.includes(true);
  }

  /** The last ring this node moved its keys for, as the heartbeat names it. */
  #syncedFields(): { synced?: number; syncedTerm?: number } {
    const synced = this.#options.synced?.();
    return synced ? { synced: synced.epoch, syncedTerm: synced.term } : {};
  }

  async #beatOne(
    master: string,
    rejoining = false,
  ): Promise<"ok" | "rejoin" | "busy" | "unreached" | "failed"> {
    const { advertise, log } = this.#options;
    let final = false; // an answer that will not change within seconds: a refusal
    try {
      const sentAt = this.#now();
      const answer = await this.#options.fetch(`${master}/register`, {
        method: "POST",
        // This node's clock: the master gives the deadlines of its writes here in it.
        headers: { "content-type": "application/json", [NODE_TIME_HEADER]: String(Date.now()) },
        body: JSON.stringify({
          address: advertise,
          instance: this.#instance,
          ...this.#syncedFields(),
          ...(this.#leaving ? { leaving: true } : {}),
          ...(this.#leaving && this.#handoverLeftMs
            ? { handoverLeftMs: Math.max(0, Math.round(this.#handoverLeftMs())) }
            : {}),
          ...(this.#empty ? { empty: true } : {}),
          // A restarted master recovers the membership from the rings its nodes report.
          ...(this.#view ? { ring: this.#reported(this.#view) } : {}),
        }),
        signal: AbortSignal.timeout(this.#timeoutMs()),
      });
      // A server's trouble (5xx) may pass, as an unreachable master's; a 4xx will not.
      final = answer.status < 500;
      if (answer.status === 503) { // e.g. learning the last ring: ask again soon
        await answer.body?.cancel(); // a proxy's page, say, as well as the master's JSON
        return "busy";
      }
      // Not JSON (a proxy's page): the status says what happened.
      const body = await answer.json().catch((error) => {
        if (error instanceof SyntaxError) return undefined;
        throw error; // cut short, or past the timeout
      });
      if (answer.status === 409) {
        // A deposed leader's word (an older term than the ring held) does not count.
        const term = typeof body?.term === "number" ? body.term : 0;
        if (!rejoining && (this.#view === undefined || term >= this.#view.term)) {
          log.warn("rejoining empty", { master, reason: body?.error });
          return "rejoin";
        }
        return "failed";
      }
      if (answer.status !== 200 && answer.status !== 201) {
        throw new Error(`master answered ${answer.status}: ${body?.error ?? "no reason"}`);
      }
      const view = RingView.parse(body);
      if (answer.status === 201) log.info("registered", { master, advertise });
      if (this.#unreachable.delete(master)) log.info("master reachable again", { master });
      this.#empty = false;
      if (view.flushed) this.#options.onFlushed?.(view.flushed);
      this.#follow(view);
      // Only the leading master grants a lease, for the ring it answered: one that is not the ring
      // this node now holds (a deposed leader's) grants nothing. It runs from when the beat left.
      const leaseMs = Number(answer.headers.get(LEASE_HEADER));
      const current = this.#view;
      if (leaseMs > 0 && current?.term === view.term && current.epoch === view.epoch) {
        this.#leaseUntil = Math.max(this.#leaseUntil, sentAt + leaseMs);
        this.#grantedMs = leaseMs;
      }
      return "ok";
    } catch (error) {
      // Once per master and reason until it answers again, not once per heartbeat: a master
      // that comes up with a certificate this node does not trust says so, past the refusals.
      const reason = String(error);
      if (this.#unreachable.get(master) !== reason) {
        this.#unreachable.set(master, reason);
        log.warn("master unreachable", { master, error: reason });
      }
      // Not reached (refused, reset, silent past the timeout) may change within seconds.
      const silent = error instanceof DOMException && error.name === "TimeoutError";
      return final && !silent ? "failed" : "unreached";
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const ok = await this.beat();
      if (!this.#running) return;
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.#failures - 1));
      // A lease shorter than two beats (a short failure timeout, or a node the master has not
      // reached for a while) is renewed halfway, not left to run out before the next beat.
      const beat = Math.min(this.#options.heartbeatMs, Math.max(MIN_BEAT_MS, this.#grantedMs / 2));
      // Jitter keeps a fleet of nodes from retrying in step after a master restart.
      const delay = ok ? beat : backoff * (0.5 + Math.random() / 2);
      await sleep(delay, this.#wake.signal);
    }
  }

  /** `view` as a heartbeat reports it: with the newest flush this node knows of. */
  #reported(view: RingView): RingView {
    // Not the rings keys move from, which a follower's relayed answer names: no master reads them
    // from a node, and they would ride on every beat.
    const { movingFrom: _, ...ring } = view;
    const flushed = Math.max(ring.flushed ?? 0, this.#options.flushed?.() ?? 0);
    return flushed > 0 ? { ...ring, flushed } : ring;
  }

  #follow(view: RingView): void {
    if (view.settled !== false && (!this.#settled || newerRing(view, this.#settled))) {
      this.#settled = { term: view.term, epoch: view.epoch };
    }
    const current = this.#view;
    if (current && !newerRing(view, current)) {
      // The same ring, its keys now moved (or moving again): read-modify-writes ask peers for a
      // key's newest state only while they move.
      const same = view.term === current.term && view.epoch === current.epoch;
      if (same && view.settled !== current.settled) {
        this.#view = { ...current, settled: view.settled };
        if (view.settled !== false) this.#departed.clear();
      }
      return;
    }
    for (const node of current?.nodes ?? []) this.#departed.add(node);
    // A node leaving hands its keys over, and may hold a key's newest state: named too, though
    // this node may never have seen it in a ring (it joined while the other was leaving).
    for (const [node, status] of Object.entries(view.outside ?? {})) {
      if (status === "leaving") this.#departed.add(node);
    }
    for (const node of view.nodes) this.#departed.delete(node);
    if (view.settled !== false) this.#departed.clear();
    this.#view = view;
    this.#ring = new Ring(view.nodes);
    this.#options.log.info("ring updated", {
      term: view.term,
      epoch: view.epoch,
      nodes: view.nodes,
    });
    this.#options.onRing?.(view);
  }

  #now(): number {
    return this.#options.now?.() ?? performance.now();
  }

  #timeoutMs(): number {
    return Math.max(500, this.#options.heartbeatMs);
  }
}
