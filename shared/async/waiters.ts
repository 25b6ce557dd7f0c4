// Callers waiting for background work to end, each for at most its own time.

/**
 * Callers of an `idle(timeoutMs)`: each resolves true when {@link Waiters.wake} is called, or
 * false once its time is up.
 *
 * @example
 * ```ts
 * import { Waiters } from "./waiters.ts";
 * const waiters = new Waiters();
 * const ended = waiters.wait(1000); // true once the work ends, false after a second
 * waiters.wake();
 * await ended; // true
 * ```
 */
export class Waiters {
  #waiting: (() => void)[] = [];

  /** Resolves true at the next {@link wake}, or false after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      // The waiter first: work that ends while the timer is being set (the first timer of a
      // process runs pending promise callbacks) still wakes it.
      const timers: ReturnType<typeof setTimeout>[] = [];
      this.#waiting.push(() => {
        timers.forEach(clearTimeout);
        resolve(true);
      });
      timers.push(setTimeout(() => resolve(false), timeoutMs));
    });
  }

  /** Resolves every wait with true. */
  wake(): void {
    this.#waiting.splice(0).forEach((wake) => wake());
  }
}
