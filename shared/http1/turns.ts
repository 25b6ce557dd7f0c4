// Calls waiting for a connection to a peer: each goes on when one is let go, or gives up with its
// signal.

/**
 * Calls waiting their turn, first come first served; one that gives up (its signal aborts) leaves
 * the line.
 *
 * @example
 * ```ts
 * import { Turns } from "./turns.ts";
 * const turns = new Turns();
 * const waiting = turns.wait(); // resolves at the next next()
 * turns.next();
 * await waiting;
 * ```
 */
export class Turns {
  readonly #waiting = new Set<() => void>();

  /** Resolves when {@link next} lets it go on; rejects with `signal`'s reason if that aborts. */
  wait(signal?: AbortSignal | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#waiting.delete(wake);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(wake);
    });
  }

  /** Lets the call waiting longest go on, if any waits. */
  next(): void {
    const first = this.#waiting.values().next();
    if (first.done) return;
    this.#waiting.delete(first.value);
    first.value();
  }

  /** Lets every waiting call go on (each then finds why it cannot, such as a closed client). */
  all(): void {
    const woken = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of woken) wake();
  }
}
