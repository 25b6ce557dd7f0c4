// The share of a node's time that scans made with client tokens may take.

/** How much of the node's time client scans may take, and the clock. */
export interface ScanBudgetOptions {
  /** Share of each second that client scans may take, between 0 and 1. */
  share: number;
  /** Milliseconds of scanning a client may take at once after an idle spell. */
  burstMs: number;
  /** Milliseconds, monotonic; default `performance.now`. */
  now?: () => number;
}

/**
 * A leaky bucket of scanning time. Each page of a scan walks every key the node holds, so a client
 * paging a node in a loop could take all of its time from reads and writes (the master's scans
 * wait their turn instead). The bucket fills at `share` of each second up to `burstMs`; a scan is
 * let in while it is not empty, and its time is taken from it once it ends.
 */
export class ScanBudget {
  readonly #options: ScanBudgetOptions;
  #leftMs: number;
  #at: number;

  constructor(options: ScanBudgetOptions) {
    this.#options = options;
    this.#leftMs = options.burstMs;
    this.#at = this.#now();
  }

  /** Seconds to wait before the next scan is let in: 0 when it may run now. */
  wait(): number {
    const left = this.#level();
    return left > 0 ? 0 : Math.max(1, Math.ceil(-left / this.#options.share / 1000));
  }

  /** Takes `ms`, the time a scan took, from the bucket. */
  spend(ms: number): void {
    this.#leftMs = this.#level() - ms;
  }

  #level(): number {
    const now = this.#now();
    const { share, burstMs } = this.#options;
    this.#leftMs = Math.min(burstMs, this.#leftMs + (now - this.#at) * share);
    this.#at = now;
    return this.#leftMs;
  }

  #now(): number {
    return this.#options.now?.() ?? performance.now();
  }
}
