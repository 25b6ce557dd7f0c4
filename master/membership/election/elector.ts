// Leader election shared by every backend: one attempt per retry period, leadership that holds
// only while renewed within the deadline, the term a leader's rings are fenced with, and no
// following of this master's own dead incarnation.

import type { Logger } from "@cache/log/log";

/** What a coordination service says after one attempt to lead. */
export interface Attempt {
  /** The identity of the leader the service sees; undefined when there is none. */
  leader: string | undefined;
  /** Grows with every change of leader: the term carried by the leader's rings. */
  term: number;
}

/** A coordination service's lock, taken or kept by one identity at a time. */
export interface Lock {
  /** One attempt to acquire or renew for `identity`. Throws when the service cannot say. */
  attempt(identity: string): Promise<Attempt>;
  /** Gives leadership up, if `identity` holds it, so others need not wait for it to expire. */
  release(identity: string): Promise<void>;
  /**
   * Removes the claim of `identity`, a candidate known to be dead, as if it had expired, unless
   * it changed since read. Does nothing when `identity` has no claim.
   */
  evict(identity: string): Promise<void>;
  /** Registers a call for when the service says leadership may have changed, to ask at once. */
  onNews?(wake: () => void): void;
}

/** Who leads, as one candidate sees it. */
export interface ElectionState {
  leading: boolean;
  /** The leader's identity, this candidate's own while it leads. */
  leader: string | undefined;
  term: number;
}

/** A candidate's lock, identity and timings. */
export interface ElectorOptions {
  lock: Lock;
  /** Unique per process: the advertised URL, `#`, and a random instance id. */
  identity: string;
  /** A leader whose last confirmed attempt started longer ago than this stops leading. */
  renewDeadlineMs: number;
  /** Time between attempts. */
  retryPeriodMs: number;
  /** A monotonic clock in ms (`performance.now`): a wall clock's step would move the deadline. */
  now: () => number;
  log: Logger;
  /** Called on every change of leading, leader or term. */
  onChange?: (state: ElectionState) => void;
}

/**
 * Runs a candidate's election, the way client-go's leader election does: it tries to acquire or
 * renew every retry period, and a leader that has not renewed within the deadline stops leading
 * at once, even while its attempt still hangs, so it never acts on a lease that may have passed.
 *
 * A leader with this candidate's URL but another instance is this master's earlier incarnation,
 * dead since one process serves each address: its claim is evicted at once rather than followed
 * (the master would long-poll itself) until it expires.
 *
 * @example
 * ```ts
 * const elector = new Elector({ lock, identity, renewDeadlineMs: 10_000, retryPeriodMs: 2000,
 *   now: () => performance.now(), log, onChange: (state) => console.log(state) });
 * elector.start();
 * ```
 */
export class Elector {
  readonly #options: ElectorOptions;
  #leading = false;
  #leader: string | undefined;
  #term = 0;
  #confirmedAt = 0; // when the last attempt that confirmed this candidate started
  #fence: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #wake = () => {};
  #loop: Promise<void> = Promise.resolve();
  #stopped: Promise<void> = Promise.resolve(); // the last stop(), leadership released
  #stopping: Promise<void> | undefined; // that stop() while no start() came after it
  #generation = 0; // of start(): a loop of an earlier one ends at its next turn
  #ticks = 0; // attempts begun or given up on: one given up on changes nothing when it ends
  #evicted: string | undefined; // the earlier incarnation last evicted, logged once

  constructor(options: ElectorOptions) {
    this.#options = options;
    options.lock.onNews?.(() => this.#wake());
  }

  /** Whether this candidate leads now: it won, and renewed within the deadline. */
  get leading(): boolean {
    return this.#leading &&
      this.#options.now() - this.#confirmedAt < this.#options.renewDeadlineMs;
  }

  /** The leader's identity as last seen; undefined when there is none. */
  get leader(): string | undefined {
    if (this.#leader === this.#options.identity && !this.leading) return undefined;
    return this.#leader;
  }

  /** The term of the leader last seen. */
  get term(): number {
    return this.#term;
  }

  /** Makes one attempt, evicting this master's earlier incarnation, and updates the state. */
  async tick(): Promise<void> {
    const { lock, identity, now, log } = this.#options;
    const tick = ++this.#ticks;
    let started = now();
    let attempt: Attempt;
    try {
      attempt = await lock.attempt(identity);
      const stale = attempt.leader;
      if (stale !== undefined && this.#earlierSelf(stale)) {
        await lock.evict(stale);
        if (this.#evicted !== stale) {
          log.warn("evicted own earlier incarnation", { stale, identity, term: attempt.term });
        }
        this.#evicted = stale;
        started = now();
        attempt = await lock.attempt(identity);
      }
    } catch (error) {
      if (tick !== this.#ticks) return;
      log.warn("election attempt failed", { error: String(error), leading: this.#leading });
      this.#checkDeadline();
      return;
    }
    if (tick !== this.#ticks) return; // a later attempt began meanwhile: its word stands
    const before = this.#state();
    // A claim that outlived its eviction is still never followed: there is no leader until it goes.
    this.#leader = attempt.leader !== undefined && this.#earlierSelf(attempt.leader)
      ? undefined
      : attempt.leader;
    this.#term = attempt.term;
    const { renewDeadlineMs, retryPeriodMs } = this.#options;
    const late = started + renewDeadlineMs - now() < retryPeriodMs;
    if (attempt.leader === identity && !this.#leading && late) {
      // It took nearly the whole deadline (it hung while etcd was away): a lead dated from its
      // start would lapse before the next attempt, a ring change each way for nothing (a review
      // saw it lost 60 ms on). The next attempt takes it.
      log.info("lead not taken: the attempt took nearly the whole renew deadline", {
        attemptMs: now() - started,
        term: attempt.term,
      });
      this.#leader = undefined;
      this.#report(before);
      return;
    }
    if (attempt.leader === identity) {
      this.#confirmedAt = started;
      this.#leading = true;
      this.#armFence();
    } else {
      this.#leading = false;
    }
    this.#report(before);
  }

  /** Starts attempting now and every retry period until {@link stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const generation = ++this.#generation;
    // After a stop() still in flight: it releases leadership first.
    this.#loop = this.#stopped.then(() => this.#run(generation));
    this.#stopping = undefined;
  }

  /**
   * Stops attempting and releases leadership if held: once the attempt in flight has ended (or
   * was given up on, at the renew deadline), so that one that won is released too. Called again
   * before it ended, with no {@link start} since, it is the same stop: one release, whose end
   * does not undo what a later start() wins.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#running = false;
    this.#wake();
    const stopping = this.#release(this.#loop).finally(() => {
      if (this.#stopping === stopping) this.#stopping = undefined;
    });
    this.#stopped = this.#stopping = stopping;
    return stopping;
  }

  async #release(loop: Promise<void>): Promise<void> {
    await loop;
    clearTimeout(this.#fence);
    const before = this.#state();
    if (this.#leading) {
      try {
        await this.#options.lock.release(this.#options.identity);
        this.#options.log.info("leadership released", { term: this.#term });
      } catch (error) {
        this.#options.log.warn("could not release leadership", { error: String(error) });
      }
    }
    this.#leading = false;
    this.#leader = undefined;
    this.#report(before);
  }

  async #run(generation: number): Promise<void> {
    const running = () => this.#running && generation === this.#generation;
    while (running()) {
      // An attempt that hangs (a call to etcd or the API server lost on the way) is given up on
      // at the renew deadline, as client-go bounds each one, so the next can be made.
      const limit = Promise.withResolvers<void>();
      const timer = setTimeout(limit.resolve, this.#options.renewDeadlineMs);
      const ended = await Promise.race([
        this.tick().then(() => true),
        limit.promise.then(() => false),
      ]);
      clearTimeout(timer);
      if (!ended) {
        this.#ticks++; // given up on: its answer, if it ever comes, changes nothing
        this.#options.log.warn("election attempt timed out", {
          renewDeadlineMs: this.#options.renewDeadlineMs,
        });
        this.#checkDeadline();
      }
      if (!running()) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.retryPeriodMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Stops leading at the renew deadline unless an attempt confirms leadership first. */
  #armFence(): void {
    clearTimeout(this.#fence);
    const left = this.#confirmedAt + this.#options.renewDeadlineMs - this.#options.now();
    this.#fence = setTimeout(() => this.#checkDeadline(), Math.max(0, left));
  }

  #checkDeadline(): void {
    if (!this.#leading || this.leading) return;
    const before = this.#state();
    this.#leading = false;
    this.#options.log.warn("leadership lost: not renewed within the deadline", {
      renewDeadlineMs: this.#options.renewDeadlineMs,
      term: this.#term,
    });
    this.#report(before);
  }

  /** Whether `leader` is this master's earlier, dead incarnation: same URL, other instance. */
  #earlierSelf(leader: string): boolean {
    const { identity } = this.#options;
    return leader !== identity && urlOf(leader) === urlOf(identity);
  }

  #state(): ElectionState {
    return { leading: this.#leading, leader: this.#leader, term: this.#term };
  }

  #report(before: ElectionState): void {
    const after = this.#state();
    if (
      before.leading === after.leading && before.leader === after.leader &&
      before.term === after.term
    ) return;
    const { log } = this.#options;
    if (after.leading && !before.leading) log.info("leading", { term: after.term });
    else if (before.leading && !after.leading) {
      log.info("stopped leading", { leader: after.leader, term: after.term });
    } else log.info("leader seen", { leader: after.leader, term: after.term });
    this.#options.onChange?.({ ...after, leader: this.leader });
  }
}

/** The URL part of a candidate's identity (`<url>#<instance>`). */
export function urlOf(identity: string | undefined): string | undefined {
  return identity?.split("#")[0];
}
