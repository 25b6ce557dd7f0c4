// Per-node circuit breakers: stop calling a node that keeps failing, and try it again later.

import { HttpError } from "@cache/protocol/errors";
import type { Logger } from "@cache/log/log";

/** When a breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Consecutive failures (unreachable or timed out) that open a node's breaker. */
  failures: number;
  /** Time an open breaker fails fast before it lets one trial request through. */
  cooldownMs: number;
  /** Milliseconds. */
  now: () => number;
  log: Logger;
}

/** A breaker's state: closed passes calls, open fails them fast, half-open lets one trial pass. */
export type BreakerState = "closed" | "open" | "half-open";

interface Breaker {
  state: BreakerState;
  failures: number;
  openedAt: number;
}

/** One circuit breaker per node, created on first use. */
export class Breakers {
  readonly #options: BreakerOptions;
  readonly #breakers = new Map<string, Breaker>();

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  /** The state of `node`'s breaker; closed if it never failed. */
  state(node: string): BreakerState {
    return this.#breakers.get(node)?.state ?? "closed";
  }

  /**
   * Lets a call to `node` through, or throws HttpError 503 while its breaker is open. Once the
   * cooldown has passed, one call goes through as a trial; the others still fail fast.
   */
  admit(node: string): void {
    const breaker = this.#breakers.get(node);
    if (!breaker || breaker.state === "closed") return;
    const waited = this.#options.now() - breaker.openedAt;
    if (breaker.state === "open" && waited >= this.#options.cooldownMs) {
      breaker.state = "half-open";
      this.#options.log.info("breaker half-open", { node });
      return;
    }
    const retry = Math.max(0, this.#options.cooldownMs - waited);
    throw new HttpError(
      503,
      `Node ${node} is unavailable: its circuit breaker is open after ${this.#options.failures} ` +
        `failures${
          breaker.state === "open" ? `; next try in ${retry} ms` : "; a trial is in flight"
        }`,
    );
  }

  /** Records a call to `node` that got an answer. */
  succeeded(node: string): void {
    const breaker = this.#breakers.get(node);
    if (!breaker) return;
    if (breaker.state !== "closed") this.#options.log.info("breaker closed", { node });
    this.#breakers.delete(node);
  }

  /** Closes `node`'s breaker: it registered anew, so its past failures say nothing of it now. */
  reset(node: string): void {
    if (!this.#breakers.delete(node)) return;
    this.#options.log.info("breaker reset: the node registered again", { node });
  }

  /**
   * Records a call to `node` that could not reach it or timed out; a batch counts as the `calls` it
   * carried, as many failures as they would have been alone.
   */
  failed(node: string, calls = 1): void {
    const breaker = this.#breakers.get(node) ?? { state: "closed", failures: 0, openedAt: 0 };
    this.#breakers.set(node, breaker);
    breaker.failures += calls;
    const opens = breaker.state === "half-open" ||
      (breaker.state === "closed" && breaker.failures >= this.#options.failures);
    if (opens) {
      breaker.state = "open";
      breaker.openedAt = this.#options.now();
      this.#options.log.warn("breaker opened", { node, failures: breaker.failures });
    }
  }
}
