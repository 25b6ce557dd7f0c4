// The answers the services' own server holds until their clients read them, and the budget they
// are held to: past half of it, a read waits its turn a moment before it is made, or is refused.

/** Bytes of answers not yet taken by their clients past which reads are refused: 64 MiB. */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

/** Longest a read waits for room before it is refused: under the master's 1 s call to a node. */
export const UNREAD_WAIT_MS = 500;

/**
 * While the answers held pass half the budget, a connection whose client has taken none of its
 * answer for this long is closed, its answer dropped: three clients that left 15 MB answers
 * unread made every read of every client fail for a minute, the idle timeout.
 */
export const UNREAD_STALL_MS = 2000;

/** Reads waiting at once, past which another is refused at once: each holds its request. */
const MAX_WAITING = 256;

interface Waiter {
  wake: () => void;
}

/**
 * The bytes of answers being written that their clients have not taken yet, over every connection
 * of one server. A read (whose answer may be large) is made at once while they are under half the
 * budget; past it, reads wait in turn: the first waiting is let in once they fall under half again,
 * and the next only once its answer is counted, so that a burst is never made all at once (40
 * unread 15 MB `/mget`s made together held a node at 1.3 GB). Clients that read their answers take
 * them within the wait; a read that finds no room by then is refused.
 *
 * @example
 * ```ts
 * import { UnreadBudget } from "./unread_budget.ts";
 * const budget = new UnreadBudget(64 * 1024 * 1024);
 * if (budget.crowded()) {
 *   const end = await budget.turn(); // undefined: refuse the read
 *   // … make the answer, then:
 *   budget.hold(answer.length);
 *   end?.();
 * }
 * ```
 */
export class UnreadBudget {
  readonly #max: number;
  readonly #waitMs: number;
  readonly #waiting: Waiter[] = []; // in arrival order
  #unsent = 0;
  /** A read let in after waiting is being made: the next waits until its answer is counted. */
  #turnTaken = false;

  constructor(max = MAX_UNSENT_BYTES, waitMs = UNREAD_WAIT_MS) {
    this.#max = max;
    this.#waitMs = waitMs;
  }

  /** Bytes held now. */
  get unsent(): number {
    return this.#unsent;
  }

  /**
   * Whether holding `more` bytes would take the answers held past the budget (or its
   * `1 / share`); one answer alone always may be held, however large. `own` bytes of those held
   * are the answer's own, counted as it was made (see {@link ReadBudget.made}).
   */
  over(more: number, share = 1, own = 0): boolean {
    const others = this.#unsent - own;
    return others > 0 && others + more > this.#max / share;
  }

  /** Whether a read arriving now must wait its turn: past half the budget, or others wait. */
  crowded(): boolean {
    return this.#turnTaken || this.#waiting.length > 0 || this.over(0, 2);
  }

  /** Counts `bytes` of an answer being written. */
  hold(bytes: number): void {
    this.#unsent += bytes;
  }

  /** Stops counting `bytes` of an answer written (or dropped); the first waiting may go. */
  release(bytes: number): void {
    this.#unsent -= bytes;
    if (this.#waiting.length > 0) this.#waiting[0].wake();
  }

  /**
   * Waits until this read may be made: first in line, no read let in before it still uncounted,
   * and the answers held under half the budget. Resolves the function that ends its turn, to call
   * once its answer is held (or it ends without one); undefined when no room came within the wait,
   * or too many wait already.
   */
  async turn(): Promise<(() => void) | undefined> {
    if (this.#waiting.length >= MAX_WAITING) return undefined;
    const waiter: Waiter = { wake: () => {} };
    this.#waiting.push(waiter);
    const until = performance.now() + this.#waitMs;
    try {
      while (this.#waiting[0] !== waiter || this.#turnTaken || this.over(0, 2)) {
        const left = until - performance.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this.#turnTaken = true;
    } finally {
      const first = this.#waiting[0] === waiter;
      this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
      // Gone from the head by timing out: the next in line may find room.
      if (first && !this.#turnTaken && this.#waiting.length > 0) this.#waiting[0].wake();
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#turnTaken = false;
      if (this.#waiting.length > 0) this.#waiting[0].wake();
    };
  }
}

/** Where a request carries its server's {@link ReadBudget}. */
export const READ_BUDGET: unique symbol = Symbol("read budget");

/**
 * The unread-answers budget as a handler sees it, right before it makes a read's answer and once
 * it has: a request answered behind a promise (by the app, or while tracing) passed the server's
 * check on arrival with the others that came with it, and 40 such `/mget`s of 15 MB were all made
 * before any was counted.
 */
export interface ReadBudget {
  /** Why this request's answer may not be made now (a read past half the budget), or undefined. */
  full(): string | undefined;
  /** Counts `bytes` of this request's answer, made, until the server holds it to write. */
  made(bytes: number): void;
}

/**
 * The {@link ReadBudget} the services' own server gave `request`; undefined from another server.
 *
 * @example
 * ```ts
 * import { readBudgetOf } from "./unread_budget.ts";
 * const budget = readBudgetOf(request);
 * const full = budget?.full();
 * if (full) return Response.json({ error: full }, { status: 503 });
 * ```
 */
export function readBudgetOf(request: object): ReadBudget | undefined {
  return (request as { [READ_BUDGET]?: ReadBudget })[READ_BUDGET];
}
