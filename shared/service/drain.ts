// Counts requests in flight so a service stopping can wait for them before closing its server.

/**
 * Tracks requests in flight. Deno's `server.shutdown()` waits for responses but cuts a request
 * body still arriving, so a stopping service first waits here until nothing is in flight.
 *
 * @example
 * ```ts
 * import { Drain } from "./drain.ts";
 * const drain = new Drain();
 * const handler = (request: Request) => drain.track(() => new Response("ok"));
 * await drain.idle(10_000); // on SIGTERM, before server.shutdown()
 * ```
 */
export class Drain {
  #active = 0;
  #waiters: (() => void)[] = [];

  /** Requests in flight. */
  get active(): number {
    return this.#active;
  }

  /**
   * Runs `handle` as one request in flight. An answer given synchronously is passed on as it is,
   * so the runtime can send it without waiting on a promise.
   */
  track<T>(handle: () => T | Promise<T>): T | Promise<T> {
    this.#active++;
    let answer: T | Promise<T>;
    try {
      answer = handle();
    } catch (error) {
      this.#done();
      throw error;
    }
    if (!(answer instanceof Promise)) {
      this.#done();
      return answer;
    }
    return answer.finally(() => this.#done());
  }

  #done(): void {
    this.#active--;
    if (this.#active === 0) this.#waiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
