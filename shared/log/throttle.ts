// Log lines about a trouble that lasts: at most one per key per interval, however often it recurs.

/**
 * Decides when a recurring line may go out again: at most once per `everyMs` for each key, with a
 * count of the lines held back meanwhile.
 *
 * @example
 * ```ts
 * import { Throttle } from "./throttle.ts";
 * const throttle = new Throttle(10_000);
 * if (throttle.take("accept failed") !== undefined) console.warn("accept failed");
 * ```
 */
export class Throttle {
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; held: number }>();

  /** `now`: milliseconds; default `Date.now`. */
  constructor(everyMs: number, now: () => number = Date.now) {
    this.#everyMs = everyMs;
    this.#now = now;
  }

  /**
   * Whether a line about `key` may go out now: the number of lines held back since the last one
   * (0 for the first), or undefined when it is too soon, the line then counted as held back.
   */
  take(key: string): number | undefined {
    const now = this.#now();
    const last = this.#last.get(key);
    if (last && now - last.at < this.#everyMs) {
      last.held++;
      return undefined;
    }
    this.#last.set(key, { at: now, held: 0 });
    return last?.held ?? 0;
  }

  /** Forgets `key`, its trouble over; returns whether a line about it had gone out. */
  end(key: string): boolean {
    return this.#last.delete(key);
  }
}
