// Waiting that a signal can cut short, for the loops that retry or poll.

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects).
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 * const stop = new AbortController();
 * await sleep(1000, stop.signal); // a second, or less if stop.abort() is called
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * What `promise` resolves to, or `late` if it has not settled within `ms`; the timer ends either
 * way, and `promise` goes on unawaited.
 *
 * @example
 * ```ts
 * import { within } from "./sleep.ts";
 * const sent = new Promise<boolean>(() => {}); // never settles
 * await within(sent, 100, false); // false, after 100 ms
 * ```
 */
export function within<T>(promise: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => timer = setTimeout(() => resolve(late), ms));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
