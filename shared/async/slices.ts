// Long loops cut into slices of the event loop, so that requests and heartbeats are served between
// them: a loop over millions of keys held a node for seconds, past the master's timeouts.

/** Milliseconds a loop holds the event loop at most before it lets other work in. */
export const SLICE_MS = 10;

/** Steps between two looks at the clock: a look costs more than a step of most loops. */
const STEPS_PER_LOOK = 256;

/**
 * A loop's slices: `spent()` is cheap enough for every step, and says when the slice is over;
 * `next()` then lets timers, I/O and other requests run before the next slice.
 *
 * @example
 * ```ts
 * import { Slices } from "./slices.ts";
 * const slices = new Slices();
 * for (let i = 0; i < 10_000_000; i++) {
 *   if (slices.spent()) await slices.next();
 *   // one step of the work
 * }
 * ```
 */
export class Slices {
  readonly #ms: number;
  #started = performance.now();
  #steps = 0;

  constructor(ms = SLICE_MS) {
    this.#ms = ms;
  }

  /** Whether this slice has lasted its time, looked at every few steps. */
  spent(): boolean {
    return ++this.#steps >= STEPS_PER_LOOK && this.over();
  }

  /** Whether this slice has lasted its time, looking at the clock now: for steps that are long. */
  over(): boolean {
    this.#steps = 0;
    return performance.now() - this.#started >= this.#ms;
  }

  /** Resolves once the event loop has run what waited (a timer's turn), starting a new slice. */
  async next(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#started = performance.now();
    this.#steps = 0;
  }
}
